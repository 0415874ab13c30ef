"""Input checks for execution log entries."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.translation import gettext_lazy as _

from plans.choices import RECORDED_LOG_KINDS, LogKind
from plans.models import MaintenanceWindow, Plan
from plans.services.log import MAX_BODY

# What people write; "status change" entries come from run mode only.
WRITTEN_KINDS = [(k, label) for k, label in LogKind.choices if k not in RECORDED_LOG_KINDS]


class LogEntryForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=WRITTEN_KINDS, initial=LogKind.ISSUE)
    body = forms.CharField(
        label=_("Entry"), max_length=MAX_BODY, widget=forms.Textarea(attrs={"rows": 3})
    )
    window = forms.ModelChoiceField(label=_("Window"), queryset=None, required=False)
    server = forms.ModelChoiceField(
        label=_("Server"),
        queryset=None,
        required=False,
        error_messages={"invalid_choice": _("That server is not in this plan's scope.")},
    )

    def __init__(self, *args, plan: Plan, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["window"].queryset = MaintenanceWindow.objects.filter(plan_id=plan.pk)
        # Labels from the window's own fields: str(window) would read its plan each time.
        # An untitled one by its start, in the pages' format and the reader's zone, named.
        zone = timezone.get_current_timezone_name()
        self.fields["window"].label_from_instance = lambda w: (
            w.title or f"{date_format(timezone.localtime(w.starts_at), 'j M Y, H:i')} {zone}"
        )
        self.fields["server"].queryset = plan.servers.order_by("hostname")
        self.fields["server"].label_from_instance = lambda s: s.hostname


class LogEditForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=WRITTEN_KINDS)
    body = forms.CharField(
        label=_("Entry"), max_length=MAX_BODY, widget=forms.Textarea(attrs={"rows": 3})
    )


class LessonsForm(forms.Form):
    lessons_learned = forms.CharField(
        label=_("Lessons learned"),
        required=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("Markdown."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

"""Input checks for run mode: status clicks, downtime, actual times, listings."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from patchplan.core.forms import SingleLineFieldsMixin, ZonedDateTimeField
from plans.choices import ExecutionStatus
from plans.services.execution import MAX_DOWNTIME_MINUTES

MAX_LISTING_BYTES = 5 * 1024 * 1024


class StatusForm(SingleLineFieldsMixin, forms.Form):
    """One click: the status to move to and the status the person saw."""

    status = forms.ChoiceField(choices=ExecutionStatus.choices)
    expected = forms.ChoiceField(choices=ExecutionStatus.choices, required=False)
    note = forms.CharField(max_length=500, required=False)
    verification_note = forms.CharField(max_length=2000, required=False)


class DowntimeForm(forms.Form):
    downtime_minutes = forms.IntegerField(
        label=_("Actual downtime (minutes)"), min_value=0, max_value=MAX_DOWNTIME_MINUTES
    )


class WindowTimesForm(forms.Form):
    """The window's actual start and end, in the viewer's zone."""

    actual_starts_at = ZonedDateTimeField(label=_("Actual start"), required=False)
    actual_ends_at = ZonedDateTimeField(label=_("Actual end"), required=False)

    def clean(self):
        data = super().clean()
        starts, ends = data.get("actual_starts_at"), data.get("actual_ends_at")
        if starts and ends and ends < starts:
            self.add_error("actual_ends_at", _("The actual end can't be before the actual start."))
        return data


class ListingForm(forms.Form):
    """The server's package listing after patching (dpkg-query -W, rpm -qa, ...)."""

    file = forms.FileField(label=_("Package listing file"), required=False)
    text = forms.CharField(
        label=_("or paste it"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "class": "font-monospace"}),
        max_length=MAX_LISTING_BYTES,
    )

    def clean(self):
        data = super().clean()
        upload = data.get("file")
        if upload is not None:
            if upload.size > MAX_LISTING_BYTES:
                raise forms.ValidationError(_("The file is larger than 5 MB."))
            data["data"] = upload.read()
        elif data.get("text", "").strip():
            data["data"] = data["text"]
        else:
            raise forms.ValidationError(_("Choose a file or paste the listing."))
        return data

"""Input checks for maintenance windows (rules that need the database live in services)."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.utils.translation import gettext_lazy as _

from patchplan.core.forms import SingleLineFieldsMixin, ZonedDateTimeField
from plans.models import Milestone, Plan
from plans.services.windows import MAX_DOWNTIME_MINUTES


class WindowForm(SingleLineFieldsMixin, forms.Form):
    """A window's times (in the viewer's zone, named under each input), milestone, and the
    scope servers in it with their expected downtime (a `downtime_<id>` field per server)."""

    title = forms.CharField(label=_("Title"), max_length=200, required=False)
    starts_at = ZonedDateTimeField(label=_("Starts"))
    ends_at = ZonedDateTimeField(label=_("Ends"))
    milestone = forms.ModelChoiceField(
        label=_("Milestone"), queryset=Milestone.objects.none(), required=False
    )
    servers = forms.ModelMultipleChoiceField(
        label=_("Servers"),
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "invalid_choice": _("%(value)s is not a server in this plan's scope."),
        },
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, plan: Plan, downtimes: dict[int, int] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["milestone"].queryset = Milestone.objects.filter(plan_id=plan.pk)
        scope = list(plan.servers.order_by("environment", "hostname"))
        # The queryset limits posted ids to the plan's scope: another team's or an
        # out-of-scope server id is "not a valid choice".
        self.fields["servers"].queryset = plan.servers.all()
        self.scope = scope
        # The "suggest a window" inputs sit inside the window form (htmx sends them with it).
        self.suggest_form = SuggestForm(plan=plan)
        downtimes = downtimes or {}
        for server in scope:
            self.fields[f"downtime_{server.pk}"] = forms.IntegerField(
                label=_("Expected downtime of %(host)s (minutes)") % {"host": server.hostname},
                min_value=0,
                max_value=MAX_DOWNTIME_MINUTES,
                required=False,
                initial=downtimes.get(server.pk, 0),
            )

    def clean(self):
        data = super().clean()
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", _("The window must end after it starts."))
        return data

    @property
    def server_rows(self):
        """(server, checked, downtime bound field) for the template's table."""
        if self.is_bound:
            chosen = {str(v) for v in self.data.getlist(self.add_prefix("servers"))}
        else:
            chosen = {str(getattr(v, "pk", v)) for v in (self.initial.get("servers") or [])}
        return [(s, str(s.pk) in chosen, self[f"downtime_{s.pk}"]) for s in self.scope]

    def downtimes(self) -> dict:
        """server -> minutes, for the chosen servers (call after is_valid())."""
        return {
            s: self.cleaned_data.get(f"downtime_{s.pk}") or 0 for s in self.cleaned_data["servers"]
        }


class SuggestForm(forms.Form):
    """Ask for free slots: length in minutes, servers of the scope, from when."""

    length = forms.IntegerField(
        label=_("Length (minutes)"), min_value=15, max_value=24 * 60, initial=120
    )
    servers = forms.ModelMultipleChoiceField(queryset=None, required=False)
    # e.g. the end of the staging window, or the test milestone's due date
    after = ZonedDateTimeField(label=_("Start after"), required=False)

    def __init__(self, *args, plan: Plan, **kwargs):
        kwargs.setdefault("auto_id", "suggest-%s")
        super().__init__(*args, **kwargs)
        self.fields["servers"].queryset = plan.servers.all()
        for name in ("length", "after"):
            self.fields[name].widget.attrs.update(
                {"class": "form-control form-control-sm w-auto", "data-testid": f"suggest-{name}"}
            )

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.cleaned_data["length"])

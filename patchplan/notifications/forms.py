from django import forms
from django.utils.translation import gettext_lazy as _

from patchplan.core.forms import SingleLineFieldsMixin

from .models import Group


class PreferenceForm(SingleLineFieldsMixin, forms.Form):
    """Reminder lead times as text ("24h, 1h, 30m"), email kinds, digest."""

    lead_times = forms.CharField(
        label=_("Remind me before each maintenance window"),
        max_length=100,
        help_text=_("Comma-separated, e.g. 24h, 1h or 2d, 30m. Up to five."),
    )
    email_on = forms.MultipleChoiceField(
        label=_("Email me about"),
        choices=Group.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("What you switch off still shows under the bell."),
    )
    digest = forms.BooleanField(
        label=_("Send one daily digest instead of individual emails"),
        required=False,
        help_text=_(
            "Each morning at 07:00 your time: your tasks and windows of the next 7 days. "
            "Window changes and cancellations still come at once, so calendars stay right."
        ),
    )

    def clean_lead_times(self) -> list[int]:
        units = {"m": 1, "min": 1, "h": 60, "d": 1440}
        minutes = []
        for raw in self.cleaned_data["lead_times"].replace(";", ",").split(","):
            item = raw.strip().lower().replace(" ", "")
            if not item:
                continue
            number = item.rstrip("abcdefghijklmnopqrstuvwxyz")
            unit = item[len(number) :] or "m"
            if not number.isdigit() or unit not in units:
                raise forms.ValidationError(
                    _("%(item)s is not a lead time: write e.g. 24h, 90m or 2d.") % {"item": raw}
                )
            minutes.append(int(number) * units[unit])
        if not minutes:
            raise forms.ValidationError(_("Give at least one lead time."))
        return minutes


def format_leads(minutes: list[int]) -> str:
    out = []
    for m in sorted(minutes, reverse=True):
        if m % 1440 == 0:
            out.append(f"{m // 1440}d")
        elif m % 60 == 0:
            out.append(f"{m // 60}h")
        else:
            out.append(f"{m}m")
    return ", ".join(out)

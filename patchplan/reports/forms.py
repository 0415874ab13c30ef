from datetime import date, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

DEFAULT_DAYS = 180
MAX_DAYS = 3 * 366
EARLIEST = date(1900, 1, 1)
LATEST = date(9000, 12, 31)


class ReportFilterForm(forms.Form):
    """The date range every report takes (dates in the viewer's zone, inclusive)."""

    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput({"type": "date"})
    )
    end = forms.DateField(
        label=_("Until"), required=False, widget=forms.DateInput({"type": "date"})
    )

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        today = timezone.localdate()
        end: date = cleaned.get("end") or today
        # Beyond these years the range's UTC bounds would overflow datetime.
        for name in ("start", "end"):
            value = cleaned.get(name)
            if value and not EARLIEST <= value <= LATEST:
                self.add_error(name, _("Choose a date between the years 1900 and 9000."))
                return cleaned
        start: date = cleaned.get("start") or end - timedelta(days=DEFAULT_DAYS)
        if start > end:
            self.add_error("end", _("The end date must be on or after the start date."))
        elif (end - start).days > MAX_DAYS:
            self.add_error("start", _("Choose a range of at most three years."))
        cleaned["start"], cleaned["end"] = start, end
        return cleaned


class PostureFilterForm(ReportFilterForm):
    stale_days = forms.IntegerField(
        label=_("Stale after (days)"),
        required=False,
        min_value=1,
        max_value=3650,
        initial=7,
        help_text=_("An inventory older than this counts as stale."),
    )

    def clean_stale_days(self):
        return self.cleaned_data.get("stale_days") or 7

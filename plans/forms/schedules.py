"""The form that schedules a template as a recurring plan."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from plans.models import Frequency
from plans.models.schedule import ORDINALS, WEEKDAYS

DATE_WIDGET = {"type": "date"}


class ScheduleForm(forms.Form):
    frequency = forms.ChoiceField(label=_("Repeats"), choices=Frequency.choices)
    week_of_month = forms.TypedChoiceField(
        label=_("Which"),
        choices=[("", "—"), *[(str(k), v) for k, v in ORDINALS.items()]],
        coerce=int,
        empty_value=None,
        required=False,
        help_text=_("For “monthly, on the nth weekday”."),
    )
    weekday = forms.TypedChoiceField(
        label=_("Weekday"),
        choices=[("", "—"), *[(str(i), day) for i, day in enumerate(WEEKDAYS)]],
        coerce=int,
        empty_value=None,
        required=False,
    )
    day_of_month = forms.IntegerField(
        label=_("Day of the month"),
        min_value=1,
        max_value=31,
        required=False,
        help_text=_("For “monthly, on a day of the month”; months without it are skipped."),
    )
    starts_on = forms.DateField(label=_("From"), widget=forms.DateInput(DATE_WIDGET))
    lead_days = forms.IntegerField(
        label=_("Create each plan this many days ahead"), min_value=0, max_value=90, initial=14
    )

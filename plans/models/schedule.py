"""Recurring work: a template scheduled to become a plan on a rule (monthly on
the nth weekday or on a day of the month, or weekly), and the occurrences it
has produced. An occurrence is unique per (schedule, date), so two scans at
once, or a scan after a restart, never create the same plan twice."""

from __future__ import annotations

from datetime import date, datetime, time

from dateutil import rrule
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from patchplan.teams.models import Team

from .plan import Plan


class Frequency(models.TextChoices):
    MONTHLY_WEEKDAY = "monthly_weekday", _("Monthly, on the nth weekday")
    MONTHLY_DAY = "monthly_day", _("Monthly, on a day of the month")
    WEEKLY = "weekly", _("Weekly")


WEEKDAYS = [
    _("Monday"),
    _("Tuesday"),
    _("Wednesday"),
    _("Thursday"),
    _("Friday"),
    _("Saturday"),
    _("Sunday"),
]
ORDINALS = {1: _("first"), 2: _("second"), 3: _("third"), 4: _("fourth"), -1: _("last")}


class PlanSchedule(models.Model):
    """A template that becomes a new plan on each occurrence of its rule,
    `lead_days` before the occurrence date (which anchors the new plan's
    timeline), owned by `owner`."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="plan_schedules")
    template = models.ForeignKey(
        Plan,
        on_delete=models.CASCADE,
        related_name="schedules",
        limit_choices_to={"is_template": True},
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="plan_schedules"
    )
    frequency = models.CharField(_("repeats"), max_length=16, choices=Frequency.choices)
    # Monday = 0, as Python and dateutil count.
    weekday = models.PositiveSmallIntegerField(_("weekday"), null=True, blank=True)
    # 1..4 or -1 (last): "second Tuesday".
    week_of_month = models.SmallIntegerField(_("which one"), null=True, blank=True)
    day_of_month = models.PositiveSmallIntegerField(_("day of the month"), null=True, blank=True)
    starts_on = models.DateField(_("first possible date"))
    lead_days = models.PositiveSmallIntegerField(
        _("create the plan this many days before"), default=14
    )
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="plan_schedule_rule_complete",
                condition=(
                    Q(
                        frequency="monthly_weekday",
                        weekday__isnull=False,
                        week_of_month__isnull=False,
                    )
                    | Q(frequency="monthly_day", day_of_month__isnull=False)
                    | Q(frequency="weekly", weekday__isnull=False)
                ),
            )
        ]

    def __str__(self) -> str:
        return f"{self.template} ({self.describe()})"

    def rule(self) -> rrule.rrule:
        start = datetime.combine(self.starts_on, time(0))
        if self.frequency == Frequency.MONTHLY_WEEKDAY:
            day = rrule.weekday(self.weekday)(self.week_of_month)
            return rrule.rrule(rrule.MONTHLY, byweekday=day, dtstart=start)
        if self.frequency == Frequency.MONTHLY_DAY:
            # bymonthday=31 skips short months, as "the 31st" should.
            return rrule.rrule(rrule.MONTHLY, bymonthday=self.day_of_month, dtstart=start)
        return rrule.rrule(rrule.WEEKLY, byweekday=self.weekday, dtstart=start)

    def dates(self, after: date, until: date) -> list[date]:
        """Occurrence dates d with after <= d <= until."""
        return [
            d.date()
            for d in self.rule().between(
                datetime.combine(after, time(0)), datetime.combine(until, time(0)), inc=True
            )
        ]

    def describe(self) -> str:
        if self.frequency == Frequency.MONTHLY_WEEKDAY:
            return _("every month, %(nth)s %(day)s") % {
                "nth": ORDINALS.get(self.week_of_month, self.week_of_month),
                "day": WEEKDAYS[self.weekday],
            }
        if self.frequency == Frequency.MONTHLY_DAY:
            return _("every month on day %(d)s") % {"d": self.day_of_month}
        return _("every week on %(day)s") % {"day": WEEKDAYS[self.weekday]}


class PlanOccurrence(models.Model):
    """One date of a schedule and the plan made for it. The unique key is
    what makes creating occurrences idempotent."""

    schedule = models.ForeignKey(PlanSchedule, on_delete=models.CASCADE, related_name="occurrences")
    occurs_on = models.DateField()
    plan = models.ForeignKey(Plan, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "occurs_on"], name="plan_occurrence_once_per_date"
            )
        ]

    def __str__(self) -> str:
        return f"{self.schedule_id} on {self.occurs_on}"

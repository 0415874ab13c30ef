"""Recurring plans: schedule a template ("every month, second Tuesday"), and
the periodic scan's step that turns each due occurrence into a plan made
with the create-from-template service, and tells its owner.

Idempotent by construction: an occurrence row, unique per (schedule, date),
is inserted in the same transaction as the plan. Of two scans at once, the
second blocks on the unique index until the first commits, then finds the
row and creates nothing; a scan after a crash either sees the committed
pair or redoes the rolled-back one."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from patchplan.teams.roles import Action, role_allows
from patchplan.teams.selectors import role_in_team
from plans.audit import audit_event
from plans.models import Frequency, Plan, PlanOccurrence, PlanSchedule
from plans.notify import events

MAX_LEAD_DAYS = 90

log = logging.getLogger(__name__)


@transaction.atomic
def schedule_create(
    *,
    template: Plan,
    frequency: str,
    starts_on: date,
    by,
    owner=None,
    weekday: int | None = None,
    week_of_month: int | None = None,
    day_of_month: int | None = None,
    lead_days: int = 14,
) -> PlanSchedule:
    """Schedule a template to become a plan on each occurrence of a rule:
    monthly on the nth weekday (week_of_month 1-4 or -1 for the last) or on
    a day of the month, or weekly; `lead_days` before each date."""
    owner = owner or by
    errors: dict[str, str] = {}
    if not template.is_template:
        errors["template"] = _("Only a template can be scheduled.")
    if frequency not in Frequency.values:
        errors["frequency"] = _("Choose how often.")
    if frequency in (Frequency.MONTHLY_WEEKDAY, Frequency.WEEKLY) and (
        weekday is None or not 0 <= weekday <= 6
    ):
        errors["weekday"] = _("Choose a weekday.")
    if frequency == Frequency.MONTHLY_WEEKDAY and week_of_month not in (1, 2, 3, 4, -1):
        errors["week_of_month"] = _("Choose first, second, third, fourth or last.")
    if frequency == Frequency.MONTHLY_DAY and (day_of_month is None or not 1 <= day_of_month <= 31):
        errors["day_of_month"] = _("Choose a day between 1 and 31.")
    if not 0 <= lead_days <= MAX_LEAD_DAYS:
        errors["lead_days"] = _("Between 0 and %(n)d days.") % {"n": MAX_LEAD_DAYS}
    role = role_in_team(user=owner, team_id=template.team_id)
    if role is None or not role_allows(role, Action.EDIT_PLAN):
        errors["owner"] = _("The owner must be a team member who may edit plans.")
    if errors:
        raise ValidationError(errors)
    schedule = PlanSchedule.objects.create(
        team_id=template.team_id,
        template=template,
        owner=owner,
        frequency=frequency,
        weekday=weekday if frequency != Frequency.MONTHLY_DAY else None,
        week_of_month=week_of_month if frequency == Frequency.MONTHLY_WEEKDAY else None,
        day_of_month=day_of_month if frequency == Frequency.MONTHLY_DAY else None,
        starts_on=starts_on,
        lead_days=lead_days,
        created_by=by,
    )
    audit_event(
        plan=template,
        obj=schedule,
        action="scheduled",
        field="schedule",
        new=str(schedule.describe()),
        by=by,
    )
    return schedule


@transaction.atomic
def occurrence_create(*, schedule: PlanSchedule, occurs_on: date) -> Plan | None:
    """Make the plan of one occurrence, unless it exists (then None)."""
    occurrence, created = PlanOccurrence.objects.get_or_create(
        schedule=schedule, occurs_on=occurs_on
    )
    if not created:
        return None
    from plans.services.plans import plan_create_from_template

    plan = plan_create_from_template(
        template=schedule.template,
        title=f"{schedule.template.title} {occurs_on:%Y-%m-%d}",
        starts_on=occurs_on,
        by=schedule.owner,
        owner=schedule.owner,
    )
    occurrence.plan = plan
    occurrence.save(update_fields=["plan"])
    audit_event(
        plan=plan,
        action="created",
        field="schedule",
        new=f"{schedule.describe()}: {occurs_on.isoformat()}",
        by=schedule.owner,
    )
    events.plan_scheduled(plan=plan, schedule=schedule, occurs_on=occurs_on)
    return plan


def schedules_run(*, now: datetime) -> int:
    """Create every occurrence due by `now` (its date within the schedule's
    lead days, in the team's zone) that has no plan yet. Two queries when
    nothing is due, whatever the number of schedules."""
    schedules = list(
        PlanSchedule.objects.filter(active=True, template__is_template=True).select_related(
            "team", "template", "owner"
        )
    )
    if not schedules:
        return 0
    due: list[tuple[PlanSchedule, date]] = []
    earliest = None
    for schedule in schedules:
        today = now.astimezone(schedule.team.tzinfo).date()
        after = max(schedule.starts_on, today)
        for day in schedule.dates(after, today + timedelta(days=schedule.lead_days)):
            due.append((schedule, day))
            earliest = day if earliest is None else min(earliest, day)
    if not due:
        return 0
    existing = set(
        PlanOccurrence.objects.filter(schedule__in=schedules, occurs_on__gte=earliest).values_list(
            "schedule_id", "occurs_on"
        )
    )
    from plans.yaml_io import PlanImportError

    created = 0
    for schedule, day in due:
        if (schedule.pk, day) in existing:
            continue
        try:
            plan = occurrence_create(schedule=schedule, occurs_on=day)
        except (PlanImportError, ValidationError) as why:
            # This scan also queues everyone's reminders: one schedule that
            # cannot make its plan (its owner left the team, say) must not
            # stop them. Its transaction rolled back, so the next scan tries
            # the occurrence again.
            log.warning(
                "schedule %s (%s) could not make its plan for %s: %s",
                schedule.pk,
                schedule.template.title,
                day.isoformat(),
                why,
            )
            continue
        if plan is not None:
            created += 1
    return created

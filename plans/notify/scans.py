"""The periodic scans that create due reminders for plans: windows about to
start, tasks due or overdue, sign-offs and reviews pending, windows
overrunning, milestones ready for their go, and recurring plans to create.
The outbox's one beat job (notifications.scan) runs them."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from patchplan.formats.dates import day
from patchplan.notifications.models import (
    DEFAULT_LEAD_TIMES,
    Kind,
    Notification,
    NotificationPreference,
)
from patchplan.notifications.services import insert_new
from plans.choices import PlanStatus, TaskStatus
from plans.models import MaintenanceWindow, Milestone, Plan, Task

from . import recipients as selectors
from .events import object_path, plan_path

# Plans in these states get no reminders.
ENDED_PLAN_STATUSES = (
    PlanStatus.COMPLETED,
    PlanStatus.COMPLETED_EXC,
    PlanStatus.CANCELLED,
    PlanStatus.ROLLED_BACK,
)
GO_PLAN_STATUSES = (PlanStatus.APPROVED, PlanStatus.IN_PROGRESS)
OVERDUE_HOUR = time(8, 0)
REVIEW_LEADS_DAYS = (7, 0)
REVIEW_HOUR = time(8, 0)


def _lead_times() -> dict[int, list[int]]:
    return {
        user_id: sorted({int(m) for m in leads}) or DEFAULT_LEAD_TIMES
        for user_id, leads in NotificationPreference.objects.exclude(
            lead_times_minutes=[]
        ).values_list("user_id", "lead_times_minutes")
    }


def _human_lead(minutes: int) -> str:
    if minutes % 1440 == 0 and minutes >= 2880:
        return f"{minutes // 1440} days"
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"


def scan_window_reminders(now: datetime) -> int:
    leads_of = _lead_times()
    longest = max([max(v) for v in leads_of.values()] + DEFAULT_LEAD_TIMES)
    windows = list(
        MaintenanceWindow.objects.filter(
            starts_at__gt=now,
            starts_at__lte=now + timedelta(minutes=longest),
            cancelled_at__isnull=True,
            plan__is_template=False,
        )
        .exclude(plan__status__in=ENDED_PLAN_STATUSES)
        .select_related("plan")
    )
    if not windows:
        return 0
    recipients = selectors.window_recipient_map(windows)
    rows = []
    for window in windows:
        start_key = window.starts_at.astimezone(ZoneInfo("UTC")).isoformat()
        for user_id in recipients.get(window.pk, ()):
            leads = leads_of.get(user_id, DEFAULT_LEAD_TIMES)
            due = [m for m in leads if now >= window.starts_at - timedelta(minutes=m)]
            if not due:
                continue
            # Only the nearest due lead: a window planned 30 minutes ahead
            # gets its 1 h reminder, not also a late 24 h one.
            lead = min(due)
            rows.append(
                Notification(
                    recipient_id=user_id,
                    team_id=window.plan.team_id,
                    kind=Kind.WINDOW_REMINDER,
                    object_type="window",
                    object_id=window.pk,
                    occurrence=f"{start_key}|{lead}",
                    due_at=window.starts_at - timedelta(minutes=lead),
                    context={
                        "title": (
                            f"Window in {_human_lead(lead)}: {window.title or window.plan.title}"
                        ),
                        "path": object_path(
                            "window_detail", "window_id", window.pk, window.plan_id
                        ),
                        "lead_minutes": lead,
                    },
                )
            )
    return insert_new(rows)


def _task_deadline(task: Task) -> datetime:
    """A task is due by the end of its due day in the team's time zone."""
    tz = task.plan.team.tzinfo
    return datetime.combine(task.due_on + timedelta(days=1), time(0), tzinfo=tz)


def scan_tasks(now: datetime) -> int:
    today = now.date()
    tasks = (
        Task.objects.filter(
            assignee__isnull=False,
            due_on__gte=today - timedelta(days=30),
            due_on__lte=today + timedelta(days=2),
            plan__is_template=False,
        )
        .exclude(status=TaskStatus.DONE)
        .exclude(plan__status__in=ENDED_PLAN_STATUSES)
        .select_related("plan__team")
    )
    rows = []
    for task in tasks:
        deadline = _task_deadline(task)
        common = {
            "team_id": task.plan.team_id,
            "object_type": "task",
            "object_id": task.pk,
        }
        path = object_path("task_detail", "task_id", task.pk, task.plan_id)
        if deadline - timedelta(hours=24) <= now < deadline:
            rows.append(
                Notification(
                    recipient_id=task.assignee_id,
                    kind=Kind.TASK_DUE,
                    occurrence=task.due_on.isoformat(),
                    due_at=deadline - timedelta(hours=24),
                    context={"title": f"Due today: {task.title}", "path": path},
                    **common,
                )
            )
        elif now >= deadline:
            local_now = now.astimezone(task.plan.team.tzinfo)
            nag_at = datetime.combine(local_now.date(), OVERDUE_HOUR, tzinfo=local_now.tzinfo)
            if local_now < nag_at:
                continue
            days = (local_now.date() - task.due_on).days
            occurrence = f"{task.due_on.isoformat()}|{local_now.date().isoformat()}"
            context = {"title": f"Overdue {days} days: {task.title}", "path": path, "days": days}
            people = [task.assignee_id]
            # From the third day the plan owner hears about it too.
            if days > 2:
                people.append(task.plan.owner_id)
            for pk in set(people):
                rows.append(
                    Notification(
                        recipient_id=pk,
                        kind=Kind.TASK_OVERDUE,
                        occurrence=occurrence,
                        due_at=nag_at,
                        context={**context, "as_owner": pk != task.assignee_id},
                        **common,
                    )
                )
    return insert_new(rows)


def scan_pending_signoffs(now: datetime) -> int:
    """A milestone not signed off 24 h before its first window: ask again."""
    soon = (
        MaintenanceWindow.objects.filter(
            starts_at__gt=now,
            starts_at__lte=now + timedelta(hours=24),
            cancelled_at__isnull=True,
            milestone__isnull=False,
            milestone__signed_off_at__isnull=True,
            plan__is_template=False,
        )
        .exclude(plan__status__in=ENDED_PLAN_STATUSES)
        .values_list("milestone_id", "starts_at")
        .order_by()
    )
    first_start: dict[int, datetime] = {}
    for milestone_id, starts_at in soon:
        if milestone_id not in first_start or starts_at < first_start[milestone_id]:
            first_start[milestone_id] = starts_at
    # "Before its first window": a milestone with an earlier window is past that.
    started = set(
        MaintenanceWindow.objects.filter(
            milestone_id__in=list(first_start), starts_at__lte=now, cancelled_at__isnull=True
        )
        .values_list("milestone_id", flat=True)
        .order_by()
        .distinct()
    )
    milestones = Milestone.objects.filter(
        pk__in=[pk for pk in first_start if pk not in started]
    ).select_related("plan")
    milestones = list(milestones)
    approvers = selectors.milestone_approver_map(milestones)
    rows = []
    for milestone in milestones:
        for pk in approvers[milestone.pk]:
            rows.append(
                Notification(
                    recipient_id=pk,
                    team_id=milestone.plan.team_id,
                    kind=Kind.SIGNOFF_PENDING,
                    object_type="milestone",
                    object_id=milestone.pk,
                    occurrence=first_start[milestone.pk].isoformat(),
                    due_at=first_start[milestone.pk] - timedelta(hours=24),
                    context={
                        "title": f"Sign-off pending: {milestone.plan.title}: {milestone.name}",
                        "path": plan_path(milestone.plan_id, f"milestone-{milestone.pk}"),
                    },
                )
            )
    return insert_new(rows)


def scan_overruns(now: datetime) -> int:
    """A started window past its end and not finished: tell the plan owner."""
    windows = MaintenanceWindow.objects.filter(
        ends_at__lt=now,
        ends_at__gte=now - timedelta(hours=12),
        actual_starts_at__isnull=False,
        actual_ends_at__isnull=True,
        cancelled_at__isnull=True,
    ).select_related("plan")
    rows = [
        Notification(
            recipient_id=w.plan.owner_id,
            team_id=w.plan.team_id,
            kind=Kind.WINDOW_OVERRUNNING,
            object_type="window",
            object_id=w.pk,
            occurrence=w.ends_at.isoformat(),
            due_at=w.ends_at,
            context={
                "title": f"Window overrunning: {w.title or w.plan.title}",
                "path": object_path("window_detail", "window_id", w.pk, w.plan_id),
            },
        )
        for w in windows
    ]
    return insert_new(rows)


def _milestones_ready(plan: Plan, milestones: list[Milestone]) -> set[int]:
    """The milestones that wait for a go and have nothing else in the way: their
    entry checks pass except the go approval itself, which is what the approvers
    are asked for."""
    from plans.readiness import failing, plan_gates

    return {
        pk
        for pk, gate in plan_gates(plan, milestones).items()
        if gate.needs_go
        and not [c for c in failing(gate.entry) if c.code != "go_approval"]
        and not next(m for m in milestones if m.pk == pk).go_given_at
    }


def scan_go_requests(now: datetime) -> int:
    """The next milestone of an approved or running plan (its first one not
    signed off) whose checks pass for the first time: ask its approvers for
    the go, once. A later milestone waits its turn: its go comes after the
    earlier ones. Readiness costs a fixed number of queries per plan still
    waiting for a go (never per server or person); a milestone already asked
    about is not read again."""
    next_of_plan: dict[int, int] = {}
    for plan_id, milestone_id in (
        Milestone.objects.filter(
            plan__status__in=GO_PLAN_STATUSES,
            plan__is_template=False,
            signed_off_at__isnull=True,
        )
        .order_by("plan_id", "position", "pk")
        .values_list("plan_id", "pk")
    ):
        next_of_plan.setdefault(plan_id, milestone_id)
    asked = set(
        Notification.objects.filter(
            kind=Kind.GO_REQUESTED,
            object_type="milestone",
            object_id__in=list(next_of_plan.values()),
        ).values_list("object_id", flat=True)
    )
    waiting = {plan_id: pk for plan_id, pk in next_of_plan.items() if pk not in asked}
    if not waiting:
        return 0
    plans = Plan.objects.in_bulk(list(waiting))
    by_plan: dict[int, list[Milestone]] = {}
    for m in Milestone.objects.filter(plan_id__in=list(waiting)).order_by(
        "plan_id", "position", "pk"
    ):
        m.plan = plans[m.plan_id]
        by_plan.setdefault(m.plan_id, []).append(m)
    ready = [
        m
        for plan_id, milestones in by_plan.items()
        for m in milestones
        if m.pk == waiting[plan_id] and m.pk in _milestones_ready(plans[plan_id], milestones)
    ]
    approvers = selectors.milestone_approver_map(ready)
    rows = [
        Notification(
            recipient_id=pk,
            team_id=m.plan.team_id,
            kind=Kind.GO_REQUESTED,
            object_type="milestone",
            object_id=m.pk,
            occurrence="go",
            due_at=now,
            context={
                "title": f"Go requested: {m.plan.title}: {m.name}",
                "path": plan_path(m.plan_id, f"milestone-{m.pk}"),
            },
        )
        for m in ready
        for pk in approvers.get(m.pk, ())
    ]
    return insert_new(rows)


def scan_reviews(now: datetime) -> int:
    """A plan's (or template's) review-by date: its owner hears 7 days before
    and on the day, at 08:00 team time, each once (the date and lead are the
    occurrence; a review_by moved later is a new pair)."""
    today = now.date()
    plans = (
        Plan.objects.filter(
            review_by__gte=today - timedelta(days=1),
            review_by__lte=today + timedelta(days=max(REVIEW_LEADS_DAYS) + 1),
        )
        .exclude(status__in=ENDED_PLAN_STATUSES, is_template=False)
        .select_related("team")
    )
    rows = []
    for plan in plans:
        local_now = now.astimezone(plan.team.tzinfo)
        due = [
            d
            for d in REVIEW_LEADS_DAYS
            if local_now
            >= datetime.combine(plan.review_by - timedelta(days=d), REVIEW_HOUR, local_now.tzinfo)
        ]
        days_left = (plan.review_by - local_now.date()).days
        # Before 08:00 on the day itself only the 7-day lead is due: wait for
        # the on-the-day reminder rather than send two the same morning.
        if not due or days_left < 0 or (days_left == 0 and min(due) > 0):
            continue
        lead = min(due)
        rows.append(
            Notification(
                recipient_id=plan.owner_id,
                team_id=plan.team_id,
                kind=Kind.REVIEW_DUE,
                object_type="plan",
                object_id=plan.pk,
                occurrence=f"{plan.review_by.isoformat()}|{lead}d",
                due_at=datetime.combine(
                    plan.review_by - timedelta(days=lead), REVIEW_HOUR, local_now.tzinfo
                ),
                context={
                    "title": f"Review by {day(plan.review_by)}: {plan.title}",
                    "path": plan_path(plan.pk),
                    "review_by": plan.review_by.isoformat(),
                    # What the reader is told: the days actually left (a date
                    # set 3 days ahead sends its 7-day reminder at once).
                    "days": days_left,
                },
            )
        )
    return insert_new(rows)


def _scheduled_plans(now: datetime) -> int:
    # Recurring plans are the plans app's (its service notifies the owner
    # through plan_scheduled); the one beat scan drives them.
    from plans.services.schedules import schedules_run

    return schedules_run(now=now)


# Run by the outbox's notifications.scan in this order (registered by
# plans.receivers); the names key the scan's figures.
SCANS = [
    ("windows", scan_window_reminders),
    ("tasks", scan_tasks),
    ("signoffs", scan_pending_signoffs),
    ("overruns", scan_overruns),
    ("go_requests", scan_go_requests),
    ("reviews", scan_reviews),
    ("occurrences", _scheduled_plans),
]

"""Writes to the notification outbox: creating rows for events, the periodic
scan that creates due reminders and re-queues what is unsent, delivery of one
row, and the person's preferences and feed tokens.

Guarantees, and the one gap:
- Rows are unique per (recipient, kind, object, occurrence): scans may run
  twice or at once and create nothing twice (bulk_create ignores conflicts).
- Delivery claims its row with a conditional UPDATE (pending -> sending), so
  two workers given the same id send it once.
- Nothing is lost: a row whose broker message vanished is queued again by the
  scan, and a row left "sending" by a worker that died is handed back after
  CLAIM_TIMEOUT (longer than any task may run).
- The gap that cannot be closed: if the process dies after the SMTP server
  accepted a message and before the row is marked sent, the row is handed
  back and that one message is sent a second time. SMTP has no way to ask
  "did you already take this one?"; the Message-ID header is stable per row
  (`<notification-ID@host>`) so mail clients that deduplicate can.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from patchplan.accounts.models import User
from patchplan.teams.models import Membership, Team
from plans.choices import PlanStatus, TaskStatus
from plans.models import MaintenanceWindow, Milestone, Plan, Task, WindowServer
from servers.models import hash_token

from . import selectors
from .models import (
    DEFAULT_LEAD_TIMES,
    Group,
    Kind,
    Notification,
    NotificationPreference,
    Status,
    TeamCalendarFeed,
    new_token,
)

log = logging.getLogger(__name__)

# Plans in these states get no reminders.
ENDED_PLAN_STATUSES = (
    PlanStatus.COMPLETED,
    PlanStatus.COMPLETED_EXC,
    PlanStatus.CANCELLED,
    PlanStatus.ROLLED_BACK,
)
# Kinds that still go out at once for people who chose the daily digest:
# their calendars must follow a moved or cancelled window.
IMMEDIATE_FOR_DIGEST = {Kind.WINDOW_UPDATED, Kind.WINDOW_CANCELLED, Kind.DIGEST}
DIGEST_HOUR = time(7, 0)
OVERDUE_HOUR = time(8, 0)
MAX_LEAD_MINUTES = 60 * 24 * 14
MAX_LEAD_TIMES = 5


def _setting(name: str, default):
    return getattr(settings, name, default)


def max_attempts() -> int:
    return _setting("NOTIFICATIONS_MAX_ATTEMPTS", 6)


def retry_delay(attempts: int) -> timedelta:
    """Capped exponential backoff: base, 2 base, 4 base, ... at most the cap."""
    base = _setting("NOTIFICATIONS_RETRY_BASE_SECONDS", 60)
    cap = _setting("NOTIFICATIONS_RETRY_CAP_SECONDS", 30 * 60)
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def delivery_batch_size() -> int:
    # Small enough that a batch of slow SMTP attempts (EMAIL_TIMEOUT each)
    # stays far inside the task time limit, and that two workers share work.
    return _setting("NOTIFICATIONS_DELIVERY_BATCH", 10)


def delivery_time_limit() -> int:
    """Seconds a delivery task may run (its hard time limit)."""
    return _setting("NOTIFICATIONS_DELIVERY_TIME_LIMIT_SECONDS", 60)


def claim_timeout() -> timedelta:
    # A delivery cannot outlive its task's hard time limit, so a claim older
    # than that (plus a margin) belongs to a worker that died. Never below
    # the limit, whatever the setting says: a live send must not be handed
    # to a second worker.
    configured = _setting("NOTIFICATIONS_CLAIM_TIMEOUT_SECONDS", 90)
    return timedelta(seconds=max(configured, delivery_time_limit() + 5))


def requeue_after() -> timedelta:
    # Longer than a normal queue wait: re-queuing earlier only costs a
    # duplicate broker message, which the claim turns into a no-op.
    return timedelta(seconds=_setting("NOTIFICATIONS_REQUEUE_AFTER_SECONDS", 60))


def zone_for(user: User, team: Team | None = None) -> ZoneInfo:
    for name in (user.time_zone, team.time_zone if team else "", settings.TIME_ZONE):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def _plan_path(plan_id: int, anchor: str = "") -> str:
    path = reverse("plan_detail", kwargs={"plan_id": plan_id})
    return f"{path}#{anchor}" if anchor else path


def _object_path(name: str, kwarg: str, pk: int, plan_id: int) -> str:
    """The object's own page, or its plan's page where it has none."""
    try:
        return reverse(name, kwargs={kwarg: pk})
    except NoReverseMatch:
        return _plan_path(plan_id, f"{kwarg.removesuffix('_id')}-{pk}")


# --- Creating rows ----------------------------------------------------------------


def notify(
    *,
    recipients: Iterable[int],
    kind: str,
    team_id: int | None,
    object_type: str,
    object_id: int,
    occurrence: str = "",
    context: dict | None = None,
    due_at: datetime | None = None,
    exclude: Iterable[int | None] = (),
) -> int:
    """Write one outbox row per recipient (inside the caller's transaction)
    and queue their delivery for after the commit. Rows that exist already
    (same recipient, kind, object and occurrence) are left alone."""
    skip = {pk for pk in exclude if pk}
    people = sorted({pk for pk in recipients if pk} - skip)
    if not people:
        return 0
    due_at = due_at or timezone.now()
    Notification.objects.bulk_create(
        [
            Notification(
                recipient_id=pk,
                team_id=team_id,
                kind=kind,
                object_type=object_type,
                object_id=object_id,
                occurrence=occurrence[:100],
                due_at=due_at,
                context=context or {},
            )
            for pk in people
        ],
        ignore_conflicts=True,
    )
    key = {"kind": kind, "object_type": object_type, "object_id": object_id}
    transaction.on_commit(lambda: queue_due(filters=key))
    return len(people)


def queue_due(*, now: datetime | None = None, filters: dict | None = None, limit=5000) -> int:
    """Put a delivery task on the broker for each due pending row that has no
    live message (never queued, or queued long ago and still pending)."""
    from .tasks import deliver_batch

    now = now or timezone.now()
    stale = now - requeue_after()
    with transaction.atomic():
        rows = Notification.objects.filter(status=Status.PENDING, due_at__lte=now).filter(
            Q(queued_at__isnull=True) | Q(queued_at__lt=stale)
        )
        if filters:
            rows = rows.filter(**filters)
        # Two scans at once each take different rows, never the same ones.
        ids = list(
            rows.order_by("due_at", "pk")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            Notification.objects.filter(pk__in=ids).update(queued_at=now)
    size = delivery_batch_size()
    sent = 0
    try:
        # One broker connection for the whole run, and a few rows per
        # message: publishing one message per row costs a broker round trip
        # each, which was most of a scan's time with hundreds due at once.
        with deliver_batch.app.producer_or_acquire() as producer:
            for start in range(0, len(ids), size):
                deliver_batch.apply_async((ids[start : start + size],), producer=producer)
                sent = min(start + size, len(ids))
    except Exception:  # noqa: BLE001 - broker down: the next scan re-queues the rest
        log.warning("could not queue %s notifications; the scan retries", len(ids) - sent)
        Notification.objects.filter(pk__in=ids[sent:], status=Status.PENDING).update(queued_at=None)
    return sent


# --- Events (called by events.py inside the plan services' transactions) ------------


def _window_context(window: MaintenanceWindow) -> dict:
    from .calendars import WindowFacts

    facts = WindowFacts.from_window(window)
    return {
        "window": facts.snapshot(),
        "title": facts.title
        if facts.title == facts.plan_title
        else f"{facts.title} ({facts.plan_title})",
        "path": _object_path("window_detail", "window_id", window.pk, window.plan_id),
    }


def window_state(window: MaintenanceWindow) -> dict:
    """What a window looks like now, in the terms an update email compares:
    its times, title, milestone and servers (two queries). The window
    services take it before a change and pass it to events.window_changed."""
    servers = dict(
        WindowServer.objects.filter(window_id=window.pk)
        .order_by("server__hostname")
        .values_list("server_id", "server__hostname")
    )
    milestone = (
        Milestone.objects.filter(pk=window.milestone_id).values_list("name", flat=True).first()
        if window.milestone_id
        else None
    )
    return {
        "starts_at": window.starts_at.isoformat(),
        "ends_at": window.ends_at.isoformat(),
        "title": window.title,
        "milestone": milestone or "",
        "servers": {str(pk): host for pk, host in servers.items()},
    }


def window_changes(before: dict, after: dict) -> dict:
    """was -> now for every changed thing: {"starts_at": [was, now], ...,
    "servers_added": [hostnames], "servers_removed": [hostnames]}."""
    changes: dict = {}
    for key in ("starts_at", "ends_at", "title", "milestone"):
        if before.get(key) != after.get(key):
            changes[key] = [before.get(key), after.get(key)]
    old, new = before.get("servers", {}), after.get("servers", {})
    added = sorted(new[k] for k in set(new) - set(old))
    removed = sorted(old[k] for k in set(old) - set(new))
    if added:
        changes["servers_added"] = added
    if removed:
        changes["servers_removed"] = removed
    return changes


def _merge_changes(older: dict, newer: dict) -> dict:
    """An update not sent yet is replaced by a newer one: the newer email
    says was -> now against what the person was last told (the older
    one's "was"), so two quick edits read as one change."""
    merged = dict(older)
    for key in ("starts_at", "ends_at", "title", "milestone"):
        if key in newer:
            was = older[key][0] if key in older else newer[key][0]
            merged[key] = [was, newer[key][1]]
        if key in merged and merged[key][0] == merged[key][1]:
            del merged[key]
    added = set(older.get("servers_added", [])) | set(newer.get("servers_added", []))
    removed = set(older.get("servers_removed", [])) | set(newer.get("servers_removed", []))
    # Added then removed (or the reverse) is no change at all.
    both = added & removed
    for key, hosts in (("servers_added", added - both), ("servers_removed", removed - both)):
        merged.pop(key, None)
        if hosts:
            merged[key] = sorted(hosts)
    return merged


def window_updated(
    *, window: MaintenanceWindow, by: User | None, before: dict | None = None
) -> int:
    """A window moved or changed: reminders for its old time are dropped, and
    everyone who was told about it gets the update (same UID, new SEQUENCE).

    `before` is window_state() from before the change: the change set (was
    -> now) is computed here, in the changing transaction, and kept in the
    row, because by send time the old values are gone."""
    if window.cancelled_at is not None:
        return window_cancelled(window=window, by=by)
    start_key = window.starts_at.astimezone(ZoneInfo("UTC")).isoformat()
    Notification.objects.filter(
        object_type="window",
        object_id=window.pk,
        kind=Kind.WINDOW_REMINDER,
        status=Status.PENDING,
    ).exclude(occurrence__startswith=start_key).update(status=Status.CANCELLED)
    told = selectors.told_about_window(window.pk)
    if not told:
        return 0
    changes = window_changes(before, window_state(window)) if before is not None else {}
    occurrence = f"{window.sequence}|{start_key}|{window.ends_at.isoformat()}"
    # An update not yet sent is replaced by this newer one (its "was" kept).
    unsent = Notification.objects.filter(
        object_type="window", object_id=window.pk, kind=Kind.WINDOW_UPDATED, status=Status.PENDING
    ).exclude(occurrence=occurrence)
    older = unsent.order_by("pk").values_list("context", flat=True).first()
    if older and older.get("changes"):
        changes = _merge_changes(older["changes"], changes)
    unsent.update(status=Status.CANCELLED)
    context = _window_context(window)
    context["by"] = by.display_name if by else ""
    context["changes"] = changes
    return notify(
        recipients=told,
        kind=Kind.WINDOW_UPDATED,
        team_id=window.plan.team_id,
        object_type="window",
        object_id=window.pk,
        occurrence=occurrence,
        context=context,
    )


def window_cancelled(*, window: MaintenanceWindow, by: User | None) -> int:
    """A window is cancelled (or about to be deleted): pending reminders are
    dropped and everyone told about it gets a METHOD:CANCEL. The window's
    facts are kept in the row, so this works after the window is deleted."""
    Notification.objects.filter(
        object_type="window",
        object_id=window.pk,
        kind__in=[Kind.WINDOW_REMINDER, Kind.WINDOW_UPDATED],
        status=Status.PENDING,
    ).update(status=Status.CANCELLED)
    told = selectors.told_about_window(window.pk)
    context = _window_context(window)
    context["window"]["cancelled"] = True
    context["by"] = by.display_name if by else ""
    return notify(
        recipients=told,
        kind=Kind.WINDOW_CANCELLED,
        team_id=window.plan.team_id,
        object_type="window",
        object_id=window.pk,
        occurrence="cancelled",
        context=context,
    )


def task_assigned(*, task: Task, by: User | None) -> int:
    if not task.assignee_id:
        return 0
    return notify(
        recipients=[task.assignee_id],
        exclude=[by.pk if by else None],
        kind=Kind.TASK_ASSIGNED,
        team_id=task.plan.team_id,
        object_type="task",
        object_id=task.pk,
        # Reassigning to the same person later is a new assignment.
        occurrence=timezone.now().isoformat(),
        context={
            "title": f"{task.title} ({task.plan.title})",
            "path": _object_path("task_detail", "task_id", task.pk, task.plan_id),
            "by": by.display_name if by else "",
        },
    )


def plan_status_changed(*, plan, old_status: str, new_status: str, by: User | None) -> int:
    notable = {
        PlanStatus.APPROVED,
        PlanStatus.IN_PROGRESS,
        PlanStatus.COMPLETED,
        PlanStatus.COMPLETED_EXC,
        PlanStatus.ROLLED_BACK,
        PlanStatus.CANCELLED,
    }
    if new_status == PlanStatus.IN_REVIEW:
        return plan_sent_for_review(plan=plan, by=by)
    if new_status not in notable:
        return 0
    return notify(
        recipients=selectors.plan_stakeholders(plan),
        exclude=[by.pk if by else None],
        kind=Kind.PLAN_STATUS,
        team_id=plan.team_id,
        object_type="plan",
        object_id=plan.pk,
        occurrence=f"{old_status}>{new_status}@{timezone.now().isoformat()}",
        context={
            "title": f"{plan.title}: {PlanStatus(new_status).label}",
            "path": _plan_path(plan.pk),
            "old_status": str(PlanStatus(old_status).label) if old_status else "",
            "new_status": str(PlanStatus(new_status).label),
            "by": by.display_name if by else "",
        },
    )


def comment_posted(*, comment, mentioned_users, by: User | None) -> int:
    plan = comment.plan
    members = {
        pk
        for pk in (getattr(u, "pk", u) for u in mentioned_users)
        if selectors.is_member(user_id=pk, team_id=plan.team_id)
    }
    return notify(
        recipients=members,
        exclude=[by.pk if by else None],
        kind=Kind.MENTION,
        team_id=plan.team_id,
        object_type="comment",
        object_id=comment.pk,
        context={
            "title": f"{by.display_name if by else _('Someone')} mentioned you on {plan.title}",
            "path": _plan_path(plan.pk, f"comment-{comment.pk}"),
            "excerpt": comment.body[:300],
            "by": by.display_name if by else "",
        },
    )


def milestone_event(*, milestone: Milestone, kind: str, by: User | None, note: str = "") -> int:
    """Ready for sign-off (to its approvers), signed off or rejected (to the
    plan owner and its responsible/accountable people)."""
    plan = milestone.plan
    if kind == Kind.SIGNOFF_REQUESTED:
        people = selectors.milestone_approvers(milestone)
    else:
        people = selectors.plan_stakeholders(plan)
    return notify(
        recipients=people,
        exclude=[by.pk if by else None],
        kind=kind,
        team_id=plan.team_id,
        object_type="milestone",
        object_id=milestone.pk,
        occurrence=timezone.now().isoformat(),
        context={
            "title": f"{plan.title}: {milestone.name}",
            "path": _plan_path(plan.pk, f"milestone-{milestone.pk}"),
            "note": note[:500],
            "by": by.display_name if by else "",
        },
    )


def plan_sent_for_review(*, plan, by: User | None) -> int:
    """Draft -> in review: the people who will approve it are asked to look."""
    return notify(
        recipients=selectors.plan_approvers(plan),
        exclude=[by.pk if by else None],
        kind=Kind.PLAN_SENT_FOR_REVIEW,
        team_id=plan.team_id,
        object_type="plan",
        object_id=plan.pk,
        occurrence=f"in_review@{timezone.now().isoformat()}",
        context={
            "title": f"For review: {plan.title}",
            "path": _plan_path(plan.pk),
            "by": by.display_name if by else "",
        },
    )


def go_given(*, milestone: Milestone, by: User | None, note: str = "") -> int:
    """The go for a milestone's work was approved: the plan's people (owner,
    RACI, assignees of the milestone's tasks) may start."""
    plan = milestone.plan
    return notify(
        recipients=selectors.milestone_people(milestone),
        exclude=[by.pk if by else None],
        kind=Kind.GO_GIVEN,
        team_id=plan.team_id,
        object_type="milestone",
        object_id=milestone.pk,
        occurrence=f"go@{timezone.now().isoformat()}",
        context={
            "title": f"Go: {plan.title}: {milestone.name}",
            "path": _plan_path(plan.pk, f"milestone-{milestone.pk}"),
            "by": by.display_name if by else "",
            "note": note[:500],
        },
    )


def window_started_early(*, window: MaintenanceWindow, by: User | None, reason: str = "") -> int:
    """Work in a window started before it was planned to (or before its
    milestone's go, with an override): the plan's people hear of it."""
    plan = window.plan
    people = selectors.plan_stakeholders(plan) | selectors.window_recipients(window)
    started = window.actual_starts_at or timezone.now()
    context = _window_context(window)
    context.update(
        title=f"Started early: {context['title']}",
        by=by.display_name if by else "",
        started_at=started.isoformat(),
        reason=reason[:500],
    )
    return notify(
        recipients=people,
        exclude=[by.pk if by else None],
        kind=Kind.WORK_STARTED_EARLY,
        team_id=plan.team_id,
        object_type="window",
        object_id=window.pk,
        occurrence=f"early@{started.isoformat()}",
        context=context,
    )


# --- The periodic scan ----------------------------------------------------------------


def _insert_new(rows: list[Notification]) -> int:
    """Insert the rows whose key is not there yet. Reading the existing keys
    first keeps a repeat scan (nearly every scan) free of writes; the unique
    constraint, with conflicts ignored, still settles a race with a
    concurrent scan."""
    if not rows:
        return 0
    existing = set()
    kinds = {r.kind for r in rows}
    for object_type in {r.object_type for r in rows}:
        ids = {r.object_id for r in rows if r.object_type == object_type}
        existing |= set(
            Notification.objects.filter(
                object_type=object_type, object_id__in=ids, kind__in=kinds
            ).values_list("recipient_id", "kind", "object_type", "object_id", "occurrence")
        )
    new = [
        r
        for r in rows
        if (r.recipient_id, r.kind, r.object_type, r.object_id, r.occurrence) not in existing
    ]
    Notification.objects.bulk_create(new, ignore_conflicts=True, batch_size=2000)
    return len(new)


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
                        "path": _object_path(
                            "window_detail", "window_id", window.pk, window.plan_id
                        ),
                        "lead_minutes": lead,
                    },
                )
            )
    return _insert_new(rows)


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
        path = _object_path("task_detail", "task_id", task.pk, task.plan_id)
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
    return _insert_new(rows)


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
                        "path": _plan_path(milestone.plan_id, f"milestone-{milestone.pk}"),
                    },
                )
            )
    return _insert_new(rows)


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
                "path": _object_path("window_detail", "window_id", w.pk, w.plan_id),
            },
        )
        for w in windows
    ]
    return _insert_new(rows)


GO_PLAN_STATUSES = (PlanStatus.APPROVED, PlanStatus.IN_PROGRESS)


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
                "path": _plan_path(m.plan_id, f"milestone-{m.pk}"),
            },
        )
        for m in ready
        for pk in approvers.get(m.pk, ())
    ]
    return _insert_new(rows)


REVIEW_LEADS_DAYS = (7, 0)
REVIEW_HOUR = time(8, 0)


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
        if not due or local_now.date() > plan.review_by:
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
                    "title": f"Review by {plan.review_by:%d %b %Y}: {plan.title}",
                    "path": _plan_path(plan.pk),
                    "review_by": plan.review_by.isoformat(),
                    "days": lead,
                },
            )
        )
    return _insert_new(rows)


def plan_scheduled(*, plan, schedule, occurs_on) -> int:
    """A recurring schedule created this plan: tell its owner."""
    return notify(
        recipients=[plan.owner_id],
        kind=Kind.PLAN_SCHEDULED,
        team_id=plan.team_id,
        object_type="plan",
        object_id=plan.pk,
        occurrence=f"schedule-{schedule.pk}|{occurs_on.isoformat()}",
        context={
            "title": f"New plan from a schedule: {plan.title}",
            "path": _plan_path(plan.pk),
            "occurs_on": occurs_on.isoformat(),
            "rule": str(schedule.describe()),
        },
    )


def scan_digests(now: datetime) -> int:
    rows = []
    for pref in NotificationPreference.objects.filter(digest=True).select_related("user"):
        local_now = now.astimezone(zone_for(pref.user))
        send_at = datetime.combine(local_now.date(), DIGEST_HOUR, tzinfo=local_now.tzinfo)
        if local_now < send_at:
            continue
        rows.append(
            Notification(
                recipient_id=pref.user_id,
                team=None,
                kind=Kind.DIGEST,
                object_type="user",
                object_id=pref.user_id,
                occurrence=local_now.date().isoformat(),
                due_at=send_at,
                context={"title": f"Daily digest {local_now.date().isoformat()}", "path": "/"},
            )
        )
    return _insert_new(rows)


def reclaim_stale(now: datetime) -> int:
    """Rows left 'sending' by a worker that died go back to pending."""
    return Notification.objects.filter(
        status=Status.SENDING, claimed_at__lt=now - claim_timeout()
    ).update(status=Status.PENDING, queued_at=None, claimed_at=None)


def _scheduled_plans(now: datetime) -> int:
    # Recurring plans are the plans app's (its service notifies the owner
    # through plan_scheduled); the one beat scan drives them.
    from plans.services.schedules import schedules_run

    return schedules_run(now=now)


def notifications_scan(*, now: datetime | None = None) -> dict[str, int]:
    """The one periodic job (Celery beat, every minute): create the reminders
    that are due at `now`, hand back dead claims, queue every due unsent row."""
    now = now or timezone.now()
    figures = {
        "windows": scan_window_reminders(now),
        "tasks": scan_tasks(now),
        "signoffs": scan_pending_signoffs(now),
        "overruns": scan_overruns(now),
        "go_requests": scan_go_requests(now),
        "reviews": scan_reviews(now),
        "occurrences": _scheduled_plans(now),
        "digests": scan_digests(now),
        "reclaimed": reclaim_stale(now),
    }
    figures["queued"] = queue_due(now=now)
    return figures


# --- Delivery -----------------------------------------------------------------------


class Undeliverable(Exception):
    """This row should not be emailed (any more); the message says why."""

    def __init__(self, reason: str, status: str = Status.SKIPPED):
        super().__init__(reason)
        self.status = status


def _finish(pk: int, claim: datetime, **fields) -> None:
    # Only the claim that is still ours may finish the row.
    Notification.objects.filter(pk=pk, status=Status.SENDING, claimed_at=claim).update(**fields)


def notification_deliver(*, notification_id: int, connection=None) -> str:
    """Claim one row, check it still applies, render and send it, mark it.

    Returns what happened: "sent", "skipped", "cancelled", "retry", "failed"
    or "not-claimed" (someone else has it, or it is done). `connection` is an
    email backend kept open across a batch; it is closed after an error."""
    from .emails import build_message

    claimed_at = timezone.now()
    claimed = Notification.objects.filter(pk=notification_id, status=Status.PENDING).update(
        status=Status.SENDING, claimed_at=claimed_at, attempts=F("attempts") + 1
    )
    if not claimed:
        return "not-claimed"
    n = (
        Notification.objects.select_related("recipient__notification_preference", "team")
        .annotate(
            is_member=Exists(
                Membership.objects.filter(
                    team_id=OuterRef("team_id"), user_id=OuterRef("recipient_id")
                )
            )
        )
        .get(pk=notification_id)
    )
    try:
        message = build_message(n)
    except Undeliverable as why:
        _finish(n.pk, claimed_at, status=why.status, last_error=str(why)[:1000])
        return str(why.status)
    try:
        if connection is not None:
            message.connection = connection
            connection.open()  # no-op when already open
        message.send()
    except smtplib.SMTPRecipientsRefused as exc:
        # The server will never take this address: retrying cannot help.
        _finish(n.pk, claimed_at, status=Status.FAILED, last_error=repr(exc)[:1000])
        return "failed"
    except (smtplib.SMTPException, OSError) as exc:
        if connection is not None:
            # A broken session must not be reused for the next message.
            with contextlib.suppress(Exception):
                connection.close()
        if n.attempts >= max_attempts():
            _finish(n.pk, claimed_at, status=Status.FAILED, last_error=repr(exc)[:1000])
            log.error("notification %s failed after %s attempts: %r", n.pk, n.attempts, exc)
            return "failed"
        _finish(
            n.pk,
            claimed_at,
            status=Status.PENDING,
            due_at=timezone.now() + retry_delay(n.attempts),
            queued_at=None,
            claimed_at=None,
            last_error=repr(exc)[:1000],
        )
        log.warning("notification %s attempt %s failed: %r", n.pk, n.attempts, exc)
        return "retry"
    _finish(n.pk, claimed_at, status=Status.SENT, sent_at=timezone.now(), last_error="")
    return "sent"


@transaction.atomic
def notification_retry(*, notification: Notification) -> Notification:
    """A team admin asks for a failed message to be tried again."""
    if notification.status != Status.FAILED:
        raise ValidationError(_("Only a failed message can be retried."))
    Notification.objects.filter(pk=notification.pk, status=Status.FAILED).update(
        status=Status.PENDING, attempts=0, due_at=timezone.now(), queued_at=None, claimed_at=None
    )
    transaction.on_commit(lambda: queue_due(filters={"pk": notification.pk}))
    notification.refresh_from_db()
    return notification


# --- In-app and preferences ------------------------------------------------------------


def notifications_mark_read(*, user: User, ids: Iterable[int] | None = None) -> int:
    """Mark the user's own notifications read (all of them when ids is None)."""
    rows = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    return rows.update(read_at=timezone.now())


def stored_preference(user: User) -> NotificationPreference:
    """The person's saved preferences, or the defaults (unsaved) if they never
    chose; reads the select_related row when there is one."""
    try:
        return user.notification_preference
    except NotificationPreference.DoesNotExist:
        return NotificationPreference(user=user, lead_times_minutes=list(DEFAULT_LEAD_TIMES))


def preference_for(user: User) -> NotificationPreference:
    pref, _created = NotificationPreference.objects.get_or_create(
        user=user, defaults={"lead_times_minutes": list(DEFAULT_LEAD_TIMES)}
    )
    return pref


@transaction.atomic
def preference_update(
    *, user: User, lead_times_minutes: list[int], email_off: list[str], digest: bool
) -> NotificationPreference:
    """Save a person's reminder lead times, email choices and digest choice."""
    leads = sorted({int(m) for m in lead_times_minutes})
    if not leads:
        raise ValidationError({"lead_times": _("Give at least one lead time.")})
    if len(leads) > MAX_LEAD_TIMES:
        raise ValidationError({"lead_times": _("At most %d lead times.") % MAX_LEAD_TIMES})
    if any(m < 5 or m > MAX_LEAD_MINUTES for m in leads):
        raise ValidationError(
            {"lead_times": _("Each lead time must be between 5 minutes and 14 days.")}
        )
    unknown = set(email_off) - set(Group.values)
    if unknown:
        raise ValidationError({"email_off": _("Unknown kind of notification.")})
    pref = preference_for(user)
    pref.lead_times_minutes = leads
    pref.email_off = sorted(set(email_off))
    pref.digest = digest
    pref.save(update_fields=["lead_times_minutes", "email_off", "digest"])
    return pref


@transaction.atomic
def calendar_token_reset(*, user: User) -> str:
    """A new private feed URL; the old one stops working at once. Returns the
    raw token, to be shown once: only its hash is stored."""
    pref = preference_for(user)
    raw = new_token()
    pref.calendar_token_hash = hash_token(raw)
    pref.save(update_fields=["calendar_token_hash"])
    return raw


@transaction.atomic
def team_feed_reset(*, team: Team) -> str:
    """A new team feed URL (the old one stops working); the raw token, shown once."""
    raw = new_token()
    TeamCalendarFeed.objects.update_or_create(team=team, defaults={"token_hash": hash_token(raw)})
    return raw

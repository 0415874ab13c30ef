"""Events that notify people: the one entry point for plan services. Each is
called inside the service's transaction and writes outbox rows in that same
transaction; delivery is queued for after the commit (see DESIGN.md,
"Notifications and reminders", and docs/notifications.md). A rolled-back
service therefore notifies nobody, and a committed one never loses its
notifications."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from patchplan.accounts.models import User
from patchplan.notifications import selectors as outbox_selectors
from patchplan.notifications.models import Kind, Notification, Status
from patchplan.notifications.services import notify
from plans.choices import PlanStatus
from plans.models import MaintenanceWindow, Milestone, Task, WindowServer

from . import recipients as selectors


def plan_path(plan_id: int, anchor: str = "") -> str:
    path = reverse("plan_detail", kwargs={"plan_id": plan_id})
    return f"{path}#{anchor}" if anchor else path


def object_path(name: str, kwarg: str, pk: int, plan_id: int) -> str:
    """The object's own page, or its plan's page where it has none."""
    try:
        return reverse(name, kwargs={kwarg: pk})
    except NoReverseMatch:
        return plan_path(plan_id, f"{kwarg.removesuffix('_id')}-{pk}")


def _window_context(window: MaintenanceWindow) -> dict:
    from .calendars import WindowFacts

    facts = WindowFacts.from_window(window)
    return {
        "window": facts.snapshot(),
        "title": facts.title
        if facts.title == facts.plan_title
        else f"{facts.title} ({facts.plan_title})",
        "path": object_path("window_detail", "window_id", window.pk, window.plan_id),
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


def window_changed(
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
            "path": object_path("task_detail", "task_id", task.pk, task.plan_id),
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
            "path": plan_path(plan.pk),
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
        if outbox_selectors.is_member(user_id=pk, team_id=plan.team_id)
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
            "path": plan_path(plan.pk, f"comment-{comment.pk}"),
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
            "path": plan_path(plan.pk, f"milestone-{milestone.pk}"),
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
            "path": plan_path(plan.pk),
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
            "path": plan_path(plan.pk, f"milestone-{milestone.pk}"),
            "by": by.display_name if by else "",
            "note": note[:500],
        },
    )


def window_started_early(
    *, window: MaintenanceWindow, by: User | None, reason: str = "", before_go: bool = False
) -> int:
    """Work in a window started before it was planned to, or before its
    milestone's go (`before_go`: an approver's emergency change; `reason` says
    whose and why): the plan's people hear of it."""
    plan = window.plan
    people = selectors.plan_stakeholders(plan) | selectors.window_recipients(window)
    started = window.actual_starts_at or timezone.now()
    context = _window_context(window)
    context.update(
        title=f"Started early: {context['title']}",
        by=by.display_name if by else "",
        started_at=started.isoformat(),
        reason=reason[:500],
        before_go=before_go,
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
            "path": plan_path(plan.pk),
            "occurs_on": occurs_on.isoformat(),
            "rule": str(schedule.describe()),
        },
    )


def milestone_ready_for_signoff(*, milestone: Milestone, by: User | None) -> int:
    """A milestone's work is done and it waits for sign-off: ask its approvers."""
    return milestone_event(milestone=milestone, kind=Kind.SIGNOFF_REQUESTED, by=by)


def milestone_signed_off(*, milestone: Milestone, by: User | None) -> int:
    """A milestone got its last approval."""
    return milestone_event(milestone=milestone, kind=Kind.MILESTONE_SIGNED_OFF, by=by)


def milestone_rejected(*, milestone: Milestone, by: User | None, comment: str = "") -> int:
    """An approver rejected a milestone, with their reason."""
    return milestone_event(milestone=milestone, kind=Kind.MILESTONE_REJECTED, by=by, note=comment)

"""Reads for the dashboard and calendar, scoped to the user's teams."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Count, Exists, F, Min, OuterRef, Q, QuerySet
from django.utils import timezone

from patchplan.teams.models import Team
from patchplan.teams.roles import Action, role_allows
from patchplan.teams.selectors import role_in_team, scope_to_user, user_can
from plans.choices import PlanStatus
from plans.models import (
    AuditEvent,
    Comment,
    MaintenanceWindow,
    Milestone,
    Plan,
    PlanRole,
    PlanStatusChange,
    SignOff,
    Task,
)
from plans.selectors.tasks import TaskRow, my_task_rows

OPEN_PLAN_STATUSES = (
    PlanStatus.DRAFT,
    PlanStatus.IN_REVIEW,
    PlanStatus.APPROVED,
    PlanStatus.IN_PROGRESS,
)


def my_open_tasks(*, user, limit: int = 20) -> list[TaskRow]:
    """Open tasks assigned to the user across all their teams, due soonest first (undated
    last), as rows with what the user may do to each (plans.selectors.tasks does both)."""
    return my_task_rows(user=user, limit=limit)


def upcoming_windows(*, team: Team | None, user, limit: int = 10) -> QuerySet[MaintenanceWindow]:
    if team is None:
        return MaintenanceWindow.objects.none()
    return (
        scope_to_user(MaintenanceWindow.objects.all(), user=user, team_field="plan__team")
        .filter(plan__team=team, ends_at__gte=timezone.now())
        .select_related("plan", "milestone")
        .order_by("starts_at")[:limit]
    )


def my_plans(*, user, team: Team | None, limit: int = 10) -> QuerySet[Plan]:
    if team is None:
        return Plan.objects.none()
    return (
        scope_to_user(Plan.objects.all(), user=user)
        .filter(team=team, owner=user, status__in=OPEN_PLAN_STATUSES, is_template=False)
        .only("title", "status", "risk", "updated_at")
        # Their state at a glance: milestones signed off of all, the next window.
        .annotate(
            milestone_total=Count("milestones", distinct=True),
            milestone_done=Count(
                "milestones", filter=Q(milestones__signed_off_at__isnull=False), distinct=True
            ),
            next_window=Min(
                "windows__starts_at",
                filter=Q(windows__cancelled_at__isnull=True, windows__ends_at__gte=timezone.now()),
            ),
        )
        .order_by("-updated_at")[:limit]
    )


def dashboard_for_user(*, user, team: Team | None) -> dict:
    return {
        "tasks": list(my_open_tasks(user=user)),
        "windows": my_next_windows(user=user, team=team),
        "plans": list(my_plans(user=user, team=team)),
        "signoffs": milestones_awaiting_my_signoff(user=user, team=team),
        "failed": failed_notifications(user=user, team=team),
        "reviews": plans_due_for_review(user=user, team=team),
        "today": timezone.localdate(),
    }


REVIEW_SOON_DAYS = 7


def plans_due_for_review(*, user, team: Team | None, limit: int = 10) -> list[Plan]:
    """Plans and templates of the team whose review-by date is past or within
    a week, soonest first (one query)."""
    if team is None:
        return []
    soon = timezone.localdate() + timedelta(days=REVIEW_SOON_DAYS)
    return list(
        scope_to_user(Plan.objects.all(), user=user)
        .filter(team=team, review_by__isnull=False, review_by__lte=soon)
        # Ended plans need no review (the scan sends them no reminder either).
        .exclude(
            is_template=False,
            status__in=(PlanStatus.COMPLETED, PlanStatus.CANCELLED, PlanStatus.ROLLED_BACK),
        )
        .select_related("owner")
        .only(
            "title",
            "is_template",
            "review_by",
            "owner__first_name",
            "owner__last_name",
            "owner__username",
        )
        .order_by("review_by", "pk")[:limit]
    )


# --- The dashboard's other cards (issue 7) ----------------------------------
# Each card is a fixed number of queries, limited rows: the dashboard is the
# page everyone opens first thing, at any team size.


def _involves(user) -> Q:
    """Windows the user is in: owner of the plan, a RACI role in it, or a task in
    the window's milestone (the same people the window reminders go to)."""
    return (
        Q(plan__owner=user)
        | Exists(PlanRole.objects.filter(plan_id=OuterRef("plan_id"), user=user))
        | Exists(Task.objects.filter(milestone_id=OuterRef("milestone_id"), assignee=user))
    )


def my_next_windows(*, user, team: Team | None, limit: int = 8) -> list[MaintenanceWindow]:
    """The user's windows not yet over, soonest first: 1 query."""
    if team is None:
        return []
    return list(
        scope_to_user(MaintenanceWindow.objects.all(), user=user, team_field="plan__team")
        .filter(
            plan__team=team,
            plan__is_template=False,
            cancelled_at__isnull=True,
            ends_at__gte=timezone.now(),
        )
        .filter(_involves(user))
        .select_related("plan", "milestone")
        .only("title", "starts_at", "ends_at", "plan__title", "milestone__name")
        .order_by("starts_at", "pk")[:limit]
    )


def milestones_awaiting_my_signoff(*, user, team: Team | None, limit: int = 10) -> list[Milestone]:
    """Milestones the user could sign off now: required from them (named, or their
    team role among the sign-off roles; with neither set, anyone whose role may sign
    off), not signed off, every earlier milestone signed off, the user not having
    decided in the current round, the plan still running and not theirs under four
    eyes. The same rules as plans.services.signoff, as one query."""
    if team is None:
        return []
    role = role_in_team(user=user, team_id=team.pk)
    if role is None:
        return []
    if connection.features.supports_json_field_contains:
        by_role = Q(signoff_roles__contains=[role])
    else:  # SQLite: the JSON list as text
        by_role = Q(signoff_roles__icontains=f'"{role}"')
    named = Milestone.signoff_users.through.objects.filter(milestone_id=OuterRef("pk"))
    required = Exists(named.filter(user_id=user.pk)) | by_role
    if role_allows(role, Action.SIGN_OFF):
        required |= Q(signoff_roles=[]) & ~Exists(named)
    earlier_open = Milestone.objects.filter(
        plan_id=OuterRef("plan_id"), signed_off_at__isnull=True
    ).filter(
        Q(position__lt=OuterRef("position"))
        | Q(position=OuterRef("position"), pk__lt=OuterRef("pk"))
    )
    decided = SignOff.objects.filter(
        milestone_id=OuterRef("pk"), user_id=user.pk, round=OuterRef("signoff_round")
    )
    qs = (
        Milestone.objects.filter(
            plan__team=team,
            plan__is_template=False,
            plan__status__in=OPEN_PLAN_STATUSES,
            signed_off_at__isnull=True,
        )
        .filter(required)
        .exclude(Exists(earlier_open))
        .exclude(Exists(decided))
    )
    if team.four_eyes:
        qs = qs.exclude(plan__owner=user)
    return list(
        qs.select_related("plan")
        .only("name", "due_on", "signoff_round", "plan__title", "plan__status")
        .order_by(F("due_on").asc(nulls_last=True), "plan_id", "pk")[:limit]
    )


@dataclass
class ActivityItem:
    """One line of the dashboard's activity card."""

    at: datetime
    kind: str  # "status", "comment" or "audit"
    plan_id: int
    plan_title: str
    who: str
    text: str


def recent_activity(*, user, team: Team | None, limit: int = 8) -> list[ActivityItem]:
    """The newest status changes, comments and audit events on plans the user owns
    or has a role in, merged newest first: 3 queries, each limited."""
    if team is None:
        return []
    plan_ids = Plan.objects.filter(team=team, is_template=False).filter(
        Q(owner=user) | Exists(PlanRole.objects.filter(plan_id=OuterRef("pk"), user=user))
    )
    plan_ids = plan_ids.values("pk")
    items: list[ActivityItem] = []
    for c in (
        PlanStatusChange.objects.filter(plan_id__in=plan_ids)
        .select_related("plan", "by")
        .order_by("-at", "-pk")[:limit]
    ):
        items.append(
            ActivityItem(
                c.at,
                "status",
                c.plan_id,
                c.plan.title,
                c.by.display_name if c.by else "",
                f"{PlanStatus(c.from_status).label} → {PlanStatus(c.to_status).label}",
            )
        )
    for c in (
        Comment.objects.filter(plan_id__in=plan_ids)
        .select_related("plan", "author")
        .order_by("-created_at", "-pk")[:limit]
    ):
        items.append(
            ActivityItem(
                c.created_at,
                "comment",
                c.plan_id,
                c.plan.title,
                c.author.display_name if c.author else "",
                c.body[:140],
            )
        )
    from plans.history_labels import label_rows

    # Status moves are in PlanStatusChange already.
    for e in (
        AuditEvent.objects.filter(plan_id__in=plan_ids)
        .exclude(action="status")
        .select_related("plan", "by")
        .order_by("-at", "-pk")[:limit]
    ):
        # Labels people read (plans.history_labels); the plan's own changes need no
        # name: the line starts with the plan.
        label_rows([e])
        parts = (
            (e.action_label,)
            if e.object_type == "plan"
            else (e.action_label, e.part_label.lower(), e.object_repr)
        )
        what = " ".join(x[:60] for x in parts if x)
        if e.field:
            what += f": {e.field_label}"
        if e.new_value:
            what += f" → {e.new_label[:60]}"
        items.append(
            ActivityItem(
                e.at, "audit", e.plan_id, e.plan.title, e.by.display_name if e.by else "", what
            )
        )
    items.sort(key=lambda i: i.at, reverse=True)
    return items[:limit]


def failed_notifications(*, user, team: Team | None, limit: int = 5) -> dict | None:
    """Undelivered notifications of the team, for those who manage it: 2 queries."""
    if team is None or not user_can(user=user, team_id=team.pk, action=Action.MANAGE_TEAM):
        return None
    from patchplan.notifications.selectors import failed_for_team

    failed = failed_for_team(team=team)
    rows = list(failed[:limit])
    return {"rows": rows, "count": len(rows) if len(rows) < limit else failed.count()}

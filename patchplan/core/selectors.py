"""Reads for the dashboard and calendar, scoped to the user's teams."""

from django.db.models import QuerySet
from django.utils import timezone

from patchplan.teams.models import Team
from patchplan.teams.selectors import scope_to_user
from plans.choices import PlanStatus, TaskStatus
from plans.models import MaintenanceWindow, Plan, Task

OPEN_PLAN_STATUSES = (
    PlanStatus.DRAFT,
    PlanStatus.IN_REVIEW,
    PlanStatus.APPROVED,
    PlanStatus.IN_PROGRESS,
)


def my_open_tasks(*, user, limit: int = 20) -> QuerySet[Task]:
    """Open tasks assigned to the user across all their teams, due soonest first."""
    return (
        scope_to_user(Task.objects.all(), user=user, team_field="plan__team")
        .filter(assignee=user)
        .exclude(status=TaskStatus.DONE)
        .select_related("plan", "milestone")
        .order_by("due_on", "pk")[:limit]
    )


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
        .filter(team=team, owner=user, status__in=OPEN_PLAN_STATUSES)
        .order_by("-updated_at")[:limit]
    )


def dashboard_for_user(*, user, team: Team | None) -> dict:
    return {
        "tasks": list(my_open_tasks(user=user)),
        "windows": list(upcoming_windows(team=team, user=user)),
        "plans": list(my_plans(user=user, team=team)),
        "today": timezone.localdate(),
    }

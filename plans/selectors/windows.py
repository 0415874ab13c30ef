"""Reads of maintenance windows, scoped through the access selectors."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from patchplan.teams.roles import Action
from patchplan.teams.selectors import get_for_user, user_can
from plans.checks import plan_window_problems
from plans.models import MaintenanceWindow, Plan, WindowServer


def window_get_for_user(*, user, window_id: int, action: str = Action.VIEW) -> MaintenanceWindow:
    """One window of the user's teams: 404 outside them, 403 if the role may not act."""
    return get_for_user(
        MaintenanceWindow.objects.select_related("plan__team", "plan__owner", "milestone"),
        user=user,
        action=action,
        team_field="plan__team",
        pk=window_id,
    )


def windows_of_plan(*, plan: Plan) -> QuerySet[MaintenanceWindow]:
    """The plan's windows (cancelled ones last) with their servers and downtimes: 2 queries."""
    return (
        MaintenanceWindow.objects.filter(plan_id=plan.pk)
        .select_related("milestone")
        .prefetch_related(
            Prefetch(
                "windowserver_set",
                queryset=WindowServer.objects.select_related("server").order_by("server__hostname"),
                to_attr="entries",
            )
        )
        .order_by("cancelled_at", "starts_at", "pk")
    )


def windows_card(*, plan: Plan, user) -> dict:
    """Context of the plan page's windows card: 7 queries whatever the sizes
    (windows, their servers, and the checks' five)."""
    windows = list(windows_of_plan(plan=plan))
    problems = plan_window_problems(plan)
    for w in windows:
        w.problems = problems.get(w.pk, [])
        w.downtime_total = sum(e.expected_downtime_minutes for e in w.entries)
    return {
        "plan": plan,
        "windows": windows,
        "problem_count": sum(len(p) for p in problems.values()),
        "can_edit": user_can(user=user, team_id=plan.team_id, action=Action.EDIT_PLAN),
    }

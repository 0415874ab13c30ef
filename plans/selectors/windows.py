"""Reads of maintenance windows, scoped through the access selectors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from django.urls import reverse
from django.utils import timezone

from patchplan.teams.roles import Action
from patchplan.teams.selectors import get_for_user, user_can
from plans.checks import Problem, plan_window_problems
from plans.models import MaintenanceWindow, Plan, WindowServer
from servers.choices import Environment


def window_get_for_user(*, user, window_id: int, action: str = Action.VIEW) -> MaintenanceWindow:
    """One window of the user's teams: 404 outside them, 403 if the role may not act."""
    return get_for_user(
        MaintenanceWindow.objects.select_related("plan__team", "plan__owner", "milestone"),
        user=user,
        action=action,
        team_field="plan__team",
        pk=window_id,
    )


class WindowEntry(NamedTuple):
    """A server of a window as the windows card shows it (plain values, no models)."""

    hostname: str
    environment: str
    environment_label: str
    expected_downtime_minutes: int
    server_id: int


def windows_of_plan(*, plan: Plan, milestones=None) -> list[MaintenanceWindow]:
    """The plan's windows (cancelled ones last) with their milestone and their servers
    (`entries`, WindowEntry tuples by hostname): 2 queries, 1 when the plan's
    `milestones` are passed in (the plan page has read them already)."""
    windows = MaintenanceWindow.objects.filter(plan_id=plan.pk).order_by(
        "cancelled_at", "starts_at", "pk"
    )
    if milestones is None:
        windows = list(windows.select_related("milestone"))
    else:
        by_pk = {m.pk: m for m in milestones}
        windows = list(windows)
        for w in windows:
            w.milestone = by_pk.get(w.milestone_id) if w.milestone_id else None
    entries: dict[int, list[WindowEntry]] = {w.pk: [] for w in windows}
    if windows:
        labels = {value: str(label) for value, label in Environment.choices}
        # Tuples, not WindowServer + Server objects: 200 of each cost more than the card.
        for window_id, hostname, env, downtime, server_id in (
            WindowServer.objects.filter(window__plan_id=plan.pk)
            .order_by("server__hostname", "pk")
            .values_list(
                "window_id",
                "server__hostname",
                "server__environment",
                "expected_downtime_minutes",
                "server_id",
            )
        ):
            entries[window_id].append(
                WindowEntry(hostname, env, labels.get(env, env), downtime, server_id)
            )
    for w in windows:
        w.entries = entries[w.pk]
    return windows


ENTRIES_SHOWN = 4


@dataclass(slots=True)
class WindowRow:
    """One row of the plan page's windows card (templates/jinja2/plans/window_rows.jinja),
    plain values: the first ENTRIES_SHOWN servers and how many more."""

    pk: int
    url: str
    title: str
    starts_at: datetime
    ends_at: datetime
    ends_same_day: bool  # in the viewer's zone: the end shows its time only
    cancelled: bool
    milestone_name: str
    entries: list[WindowEntry]
    more_entries: int
    downtime_total: int
    problems: list[Problem]


def windows_card(*, plan: Plan, user) -> dict:
    """Context of the plan page's windows card: 6 queries whatever the sizes (windows
    with their milestone, their servers, the checks' three, the edit right)."""
    windows = windows_of_plan(plan=plan)
    problems = plan_window_problems(plan, windows=windows)
    link = reverse("window_detail", args=[0]).replace("/0/", "/{}/")
    rows = []
    for w in windows:
        starts, ends = timezone.localtime(w.starts_at), timezone.localtime(w.ends_at)
        rows.append(
            WindowRow(
                pk=w.pk,
                url=link.format(w.pk),
                title=w.title,
                starts_at=w.starts_at,
                ends_at=w.ends_at,
                ends_same_day=starts.date() == ends.date(),
                cancelled=w.cancelled_at is not None,
                milestone_name=w.milestone.name if w.milestone else "",
                entries=w.entries[:ENTRIES_SHOWN],
                more_entries=max(len(w.entries) - ENTRIES_SHOWN, 0),
                downtime_total=sum(e.expected_downtime_minutes for e in w.entries),
                problems=problems.get(w.pk, []),
            )
        )
    return {
        "plan": plan,
        "windows": rows,
        "problem_count": sum(len(p) for p in problems.values()),
        "can_edit": user_can(user=user, team_id=plan.team_id, action=Action.EDIT_PLAN),
    }

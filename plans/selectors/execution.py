"""Reads for running a window ("run mode"): the checklist of servers with their
execution status, the package versions before and after, recent events."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from patchplan.teams.roles import Action
from patchplan.teams.selectors import get_for_user, user_can
from plans.choices import FINAL_EXECUTION_STATUSES, ExecutionStatus
from plans.models import ExecutionEvent, MaintenanceWindow, ServerExecution, WindowServer
from plans.verification import (
    PACKAGES,
    UPDATES,
    Listing,
    PackageResult,
    Verification,
    listing_from_blob,
    verify_packages,
)
from servers.models import InventorySnapshot, Server

# One click per status change: the moves offered from each status.
NEXT_STATUSES: dict[str, tuple[str, ...]] = {
    ExecutionStatus.PENDING: (ExecutionStatus.IN_PROGRESS,),
    ExecutionStatus.IN_PROGRESS: (
        ExecutionStatus.PATCHED,
        ExecutionStatus.FAILED,
        ExecutionStatus.PENDING,
    ),
    ExecutionStatus.PATCHED: (
        ExecutionStatus.VERIFIED,
        ExecutionStatus.FAILED,
        ExecutionStatus.ROLLED_BACK,
    ),
    ExecutionStatus.FAILED: (ExecutionStatus.ROLLED_BACK, ExecutionStatus.IN_PROGRESS),
    ExecutionStatus.ROLLED_BACK: (ExecutionStatus.IN_PROGRESS,),
    ExecutionStatus.VERIFIED: (ExecutionStatus.ROLLED_BACK,),
}

RECENT_EVENTS = 15


def window_for_run(*, user, plan_id: int, window_id: int, action: str = Action.VIEW):
    """A window of the plan, for the user: 404 outside their teams (or another plan's
    window), 403 if the role may not act."""
    return get_for_user(
        MaintenanceWindow.objects.select_related("plan__team", "plan__owner", "milestone"),
        user=user,
        action=action,
        team_field="plan__team",
        pk=window_id,
        plan_id=plan_id,
    )


def plan_package_targets(plan) -> dict[str, str | None]:
    """What the plan targets: package name -> minimum version (None: any newer one).
    The one place verification reads the plan's targets from: the plan's packages,
    with the minimum (fixed) versions "Plan the fix" set from an advisory."""
    targets = plan.package_targets or {}
    return {name: targets.get(name) for name in [*plan.packages, *targets]}


def _listing(snapshot_id: int, fmt: str, taken_at, data_loader, names: tuple[str, ...]) -> Listing:
    # Snapshots never change: their rows for the plan's packages are cached by id.
    digest = hashlib.sha1("\n".join(names).encode(), usedforsecurity=False).hexdigest()
    key = f"pp:listing:{snapshot_id}:{digest[:12]}"
    found = cache.get(key)
    kind = UPDATES if fmt == "apt-upgradable" else PACKAGES
    if found is None:
        full = listing_from_blob(kind, data_loader(snapshot_id))
        wanted = set(names)
        found = (
            {n: v for n, v in full.installed.items() if n in wanted},
            {n: v for n, v in full.pending.items() if n in wanted},
        )
        cache.set(key, found, 24 * 3600)
    return Listing(kind, taken_at, found[0], found[1])


def server_verifications(
    *, window: MaintenanceWindow, server_ids: list[int], targets: dict[str, str | None]
) -> dict[int, Verification]:
    """Per server, the plan's targets compared with the latest listing taken before
    the window started (its planned start until it actually starts) and the latest
    one since: 2 queries, plus 1 for listings not cached yet.

    "Since" is the latest listing, not the first: a listing uploaded at the start
    of the window and another after the fix must count the second."""
    if not server_ids:
        return {}
    if not targets:
        return {pk: Verification(True, []) for pk in server_ids}
    ref = window.actual_starts_at or window.starts_at
    listings = InventorySnapshot.objects.filter(server=OuterRef("pk"))
    newest = ("-taken_at", "-pk")
    rows = list(
        Server.objects.filter(pk__in=server_ids)
        .annotate(
            before_id=Subquery(
                listings.filter(taken_at__lt=ref).order_by(*newest).values("pk")[:1]
            ),
            after_id=Subquery(
                listings.filter(taken_at__gte=ref).order_by(*newest).values("pk")[:1]
            ),
        )
        .values("pk", "before_id", "after_id", "package_family")
    )
    names = tuple(sorted(targets))
    ids = {r[k] for r in rows for k in ("before_id", "after_id") if r.get(k)}
    meta: dict[int, tuple] = {}
    loaded: dict[int, str] = {}
    if ids:
        meta = {
            pk: (fmt, at)
            for pk, fmt, at in InventorySnapshot.objects.filter(pk__in=ids).values_list(
                "pk", "format", "taken_at"
            )
        }

    def load(snapshot_id: int) -> str:
        if not loaded:
            loaded.update(InventorySnapshot.objects.filter(pk__in=ids).values_list("pk", "data"))
        return loaded.get(snapshot_id, "")

    result: dict[int, Verification] = {}
    for r in rows:
        found = {}
        for k in ("before_id", "after_id"):
            sid = r.get(k)
            found[k] = _listing(sid, *meta[sid], load, names) if sid in meta else None
        result[r["pk"]] = verify_packages(
            targets=targets,
            before=found["before_id"],
            after=found["after_id"],
            family=r["package_family"] or "deb",
        )
    return result


def server_verification(*, window: MaintenanceWindow, server: Server) -> Verification:
    """One server's verification against the plan's targets."""
    targets = plan_package_targets(window.plan)
    return server_verifications(window=window, server_ids=[server.pk], targets=targets)[server.pk]


@dataclass
class RunRow:
    """One line of the run-mode checklist."""

    entry: WindowServer
    execution: ServerExecution | None
    verification: Verification | None = None

    @property
    def changes(self) -> list[PackageResult]:
        return self.verification.packages if self.verification else []

    @property
    def server(self) -> Server:
        return self.entry.server

    @property
    def status(self) -> str:
        return self.execution.status if self.execution else ExecutionStatus.PENDING

    @property
    def status_label(self) -> str:
        return ExecutionStatus(self.status).label

    @property
    def next_statuses(self) -> list[tuple[str, str]]:
        return [(s, ExecutionStatus(s).label) for s in NEXT_STATUSES[self.status]]

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_EXECUTION_STATUSES

    @property
    def overran(self) -> bool:
        d = self.execution.downtime_minutes if self.execution else None
        return d is not None and d > self.entry.expected_downtime_minutes


def run_board(*, window: MaintenanceWindow, user) -> dict:
    """The run-mode checklist: 4 queries whatever the sizes (window servers, executions,
    recent events, the package listings' ids), plus 1 for listings not cached yet."""
    plan = window.plan
    entries = list(
        WindowServer.objects.filter(window_id=window.pk)
        .select_related("server")
        .order_by("server__environment", "server__hostname")
    )
    executions = {
        e.server_id: e
        for e in ServerExecution.objects.filter(window_id=window.pk).select_related("updated_by")
    }
    checks = server_verifications(
        window=window,
        server_ids=[e.server_id for e in entries],
        targets=plan_package_targets(plan),
    )
    rows = [RunRow(e, executions.get(e.server_id), checks.get(e.server_id)) for e in entries]
    events = list(
        ExecutionEvent.objects.filter(execution__window_id=window.pk)
        .select_related("by", "execution__server")
        .order_by("-at", "-pk")[:RECENT_EVENTS]
    )
    counts: dict[str, int] = dict.fromkeys(ExecutionStatus.values, 0)
    for r in rows:
        counts[r.status] += 1
    return {
        "plan": plan,
        "window": window,
        "rows": rows,
        "events": events,
        "counts": [(ExecutionStatus(s).label, s, n) for s, n in counts.items()],
        "done": sum(1 for r in rows if r.is_final),
        "can_execute": user_can(user=user, team_id=plan.team_id, action=Action.EXECUTE),
        "now": timezone.now(),
        "refresh_seconds": getattr(settings, "PATCHPLAN_RUN_REFRESH_SECONDS", 60),
    }


def run_gate(*, window: MaintenanceWindow, user) -> dict:
    """May the window's work start (plans.services.gates), and what the page offers:
    what is missing (the plan's approval, the milestone's failing entry checks), the
    emergency changes recorded, an early start. About 17 queries whatever the sizes:
    the gating milestone (2), the plan's gates (13), the emergency changes, the
    viewer's role."""
    from patchplan.teams.selectors import role_in_team
    from plans.services.gates import OVERRIDE_ROLES, window_gate, window_is_early

    gate = window_gate(window)
    role = role_in_team(user=user, team_id=window.plan.team_id)
    return {
        "gate": gate,
        "gate_milestone": gate.milestone,
        "gate_failed": gate.failed,
        "gate_blocked": gate.blocked,
        "gate_overrides": gate.overrides,
        "can_override": role in OVERRIDE_ROLES and gate.overridable,
        "early": window.actual_starts_at is None and window_is_early(window),
    }

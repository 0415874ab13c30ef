"""Reads for running a window ("run mode"): the checklist of servers with their
execution status, the package versions before and after, recent events."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from patchplan.teams.roles import Action
from patchplan.teams.selectors import get_for_user, user_can
from plans.choices import FINAL_EXECUTION_STATUSES, ExecutionStatus
from plans.models import ExecutionEvent, MaintenanceWindow, ServerExecution, WindowServer
from servers.inventory import packages_from_blob
from servers.models import InventorySnapshot, Server
from servers.versions import compare_versions

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


@dataclass(frozen=True)
class PackageChange:
    """A package the plan is about, on one server: its version before and after."""

    name: str
    before: str
    after: str
    updated: bool


def _package_versions(snapshot_id: int, data_loader, packages: tuple[str, ...]) -> dict:
    # Snapshots never change: their versions of the plan's packages are cached by id.
    digest = hashlib.sha1("\n".join(packages).encode(), usedforsecurity=False).hexdigest()
    key = f"pp:snapver:{snapshot_id}:{digest[:12]}"
    found = cache.get(key)
    if found is None:
        wanted = set(packages)
        found = {}
        for name, _arch, version, *_rest in packages_from_blob(data_loader(snapshot_id)):
            if name in wanted:
                found.setdefault(name, version)
        cache.set(key, found, 24 * 3600)
    return found


def package_changes(
    *,
    window: MaintenanceWindow,
    server_ids: list[int],
    packages: list[str],
    targets: dict[str, str] | None = None,
) -> dict[int, list[PackageChange]]:
    """Per server, the plan's packages in the last listing before the window started
    and the first listing after: 1 query (plus 1 for listings not cached yet).

    A package with a target (minimum fixed version, from an advisory) counts as
    updated when the listing after shows it at or above the target."""
    targets = targets or {}
    if not packages or not server_ids:
        return {}
    ref = window.actual_starts_at or window.starts_at
    listings = InventorySnapshot.objects.filter(server=OuterRef("pk")).exclude(
        format="apt-upgradable"
    )
    rows = list(
        Server.objects.filter(pk__in=server_ids)
        .annotate(
            before_id=Subquery(
                listings.filter(taken_at__lt=ref).order_by("-taken_at", "-pk").values("pk")[:1]
            ),
            after_id=Subquery(
                listings.filter(taken_at__gte=ref).order_by("-taken_at", "-pk").values("pk")[:1]
            ),
        )
        .values_list("pk", "before_id", "after_id", "package_family")
    )
    pkgs = tuple(sorted(packages))
    loaded: dict[int, str] = {}

    def load(snapshot_id: int) -> str:
        if not loaded:
            ids = {i for row in rows for i in row[1:3] if i}
            loaded.update(InventorySnapshot.objects.filter(pk__in=ids).values_list("pk", "data"))
        return loaded.get(snapshot_id, "")

    result: dict[int, list[PackageChange]] = {}
    for server_id, before_id, after_id, family in rows:
        before = _package_versions(before_id, load, pkgs) if before_id else {}
        after = _package_versions(after_id, load, pkgs) if after_id else {}
        changes = []
        for name in pkgs:
            old, new = before.get(name, ""), after.get(name, "")
            if not after_id or not new:
                updated = False
            elif name in targets:
                try:
                    updated = compare_versions(new, targets[name], family=family or "deb") >= 0
                except ValueError:
                    updated = False
            elif not old:
                updated = True
            else:
                updated = compare_versions(new, old, family=family or "deb") > 0
            changes.append(PackageChange(name, old, new, updated))
        result[server_id] = changes
    return result


def packages_updated(
    *,
    window: MaintenanceWindow,
    server: Server,
    packages: list[str],
    targets: dict[str, str] | None = None,
) -> bool:
    """Whether every package the plan is about shows a new version on the server
    (at or above its target, for a package with one)."""
    changes = package_changes(
        window=window, server_ids=[server.pk], packages=packages, targets=targets
    )
    return all(c.updated for c in changes.get(server.pk, [])) if packages else True


@dataclass
class RunRow:
    """One line of the run-mode checklist."""

    entry: WindowServer
    execution: ServerExecution | None
    changes: list[PackageChange] = field(default_factory=list)

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
    changes = package_changes(
        window=window,
        server_ids=[e.server_id for e in entries],
        packages=plan.packages,
        targets=plan.package_targets,
    )
    rows = [RunRow(e, executions.get(e.server_id), changes.get(e.server_id, [])) for e in entries]
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
    }

"""Reads behind the reports: fleet patch posture, plans, downtime.

Each report is one function returning plain rows (dataclasses) that the page,
its chart and its CSV export all use, so the three never disagree. Every
report reads a fixed number of queries whatever the team's size: grouping
and sums happen in the database, only the rows a table shows come back.
"""

from __future__ import annotations

import hashlib
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.db import connection
from django.db.models import (
    Count,
    DateTimeField,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from patchplan.teams.models import Team
from patchplan.teams.roles import Action
from patchplan.teams.selectors import check_team_action
from plans.choices import PlanKind, PlanStatus
from plans.models import (
    MaintenanceWindow,
    Milestone,
    Plan,
    PlanStatusChange,
    ServerExecution,
    WindowServer,
)
from servers.choices import Criticality, Environment
from servers.models import InventorySnapshot, Server
from servers.selectors import stale_cutoff

UPDATES_FORMAT = "apt-upgradable"
TABLE_LIMIT = 50


def report_team(*, user, team: Team | None) -> Team:
    """The team a report is about: the current one, if the user may view it."""
    if team is None:
        raise Http404("No team.")
    check_team_action(user=user, team_id=team.pk, action=Action.VIEW)
    return team


@dataclass(frozen=True)
class Period:
    """Inclusive dates in the viewer's zone and the UTC instants they cover."""

    start: date
    end: date
    tz: ZoneInfo

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time(0), tzinfo=self.tz).astimezone(UTC)

    @property
    def end_at(self) -> datetime:
        """Midnight after the last day (exclusive bound)."""
        return datetime.combine(self.end + timedelta(days=1), time(0), tzinfo=self.tz).astimezone(
            UTC
        )

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def period(start: date, end: date, tz: ZoneInfo | None = None) -> Period:
    return Period(start, end, tz or timezone.get_current_timezone())


def calendar_days(since: datetime, now: datetime, tz: ZoneInfo) -> int:
    """Days from `since` to `now` as people count them: calendar dates in the
    team's zone, so something seen yesterday evening is 1 day old this morning
    (whole 24-hour periods would say 0 until the evening)."""
    return (now.astimezone(tz).date() - since.astimezone(tz).date()).days


def _minutes(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() / 60)


# --- Fleet patch posture -----------------------------------------------------


@dataclass
class PostureCell:
    environment: str
    criticality: str
    servers: int
    with_security: int
    security_updates: int


@dataclass
class AgingServer:
    pk: int
    hostname: str
    environment: str
    criticality: str
    pending_security: int
    since: datetime | None
    now: datetime
    tz: ZoneInfo

    @property
    def age_days(self) -> int | None:
        """Calendar days in the team's zone since the updates were first seen."""
        return None if self.since is None else calendar_days(self.since, self.now, self.tz)


@dataclass
class StaleServer:
    pk: int
    hostname: str
    environment: str
    last_inventory_at: datetime | None
    now: datetime
    tz: ZoneInfo

    @property
    def age_days(self) -> int | None:
        """Calendar days in the team's zone since the last inventory."""
        if self.last_inventory_at is None:
            return None
        return calendar_days(self.last_inventory_at, self.now, self.tz)


@dataclass
class Posture:
    cells: list[PostureCell]
    aging: list[AgingServer]
    aging_total: int
    stale: list[StaleServer]
    stale_total: int
    stale_days: int
    trend: list[tuple[date, int]]
    servers_total: int = 0
    with_security_total: int = 0
    environments: list[tuple[str, str]] = field(default_factory=list)
    criticalities: list[tuple[str, str]] = field(default_factory=list)

    def matrix(self) -> list[tuple[str, list[PostureCell | None]]]:
        """Rows per environment, columns per criticality (None: no servers there)."""
        by_key = {(c.environment, c.criticality): c for c in self.cells}
        return [
            (label, [by_key.get((env, crit)) for crit, _l in self.criticalities])
            for env, label in self.environments
        ]


CACHE_SECONDS = 600


def _inventory_signature(team: Team) -> str:
    """Changes whenever a listing is imported anywhere or a server of the team is
    added, edited or deleted: what the cached figures below depend on. One query."""
    signature = Server.objects.filter(team=team).aggregate(
        n=Count("pk"),
        top=Max("pk"),
        edited=Max("updated_at"),
        snap=Max(Subquery(InventorySnapshot.objects.order_by("-pk").values("pk")[:1])),
    )
    return ":".join(str(signature[k]) for k in ("n", "top", "edited", "snap"))


def _cached(key: str, compute):
    # Hashed: the parts hold spaces and colons no cache backend needs to see.
    key = "reports:" + hashlib.sha256(key.encode()).hexdigest()
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, CACHE_SECONDS)
    return value


def _security_trend(*, team: Team, p: Period, signature: str) -> list[tuple[date, int]]:
    """The trend, cached under the inventory signature: the window function reads
    every listing of the period (about 250 ms for 5,000 servers over half a year on
    the benchmark machine), and the past does not change."""
    key = f"reports:trend:{team.pk}:{p.start}:{p.end}:{p.tz}:{signature}"
    return _cached(key, lambda: _compute_security_trend(team=team, p=p))


def _compute_security_trend(*, team: Team, p: Period) -> list[tuple[date, int]]:
    """Pending security updates in the fleet at the end of each day of the period,
    from the update snapshots: each snapshot changes the fleet total by its count
    minus the server's previous count (a window function), so one query sums the
    changes per day, and the latest snapshot of each server before the period gives
    the starting total. Servers deleted since are not counted."""
    snap = InventorySnapshot._meta.db_table
    server = Server._meta.db_table
    if connection.vendor == "postgresql":
        day = "CAST((taken_at AT TIME ZONE %(zone)s) AS date)"
    else:  # SQLite (the embedded default) has no zones: days in UTC there.
        day = "date(taken_at)"
    # The latest listing of each server before the period enters as one row dated
    # just before it (a scalar subquery per server, on the (server, taken_at) index).
    sql = f"""
        WITH base AS (
            SELECT s.server_id, s.taken_at, s.security_count
            FROM {snap} s JOIN {server} v ON v.id = s.server_id
            WHERE v.team_id = %(team)s AND s.format = %(fmt)s
              AND s.taken_at >= %(start)s AND s.taken_at < %(end)s
            UNION ALL
            SELECT server_id, %(before)s, security_count FROM (
                SELECT v.id AS server_id,
                       (SELECT s2.security_count FROM {snap} s2
                        WHERE s2.server_id = v.id AND s2.format = %(fmt)s
                          AND s2.taken_at < %(start)s
                        ORDER BY s2.taken_at DESC LIMIT 1) AS security_count
                FROM {server} v WHERE v.team_id = %(team)s
            ) latest WHERE security_count IS NOT NULL
        ), deltas AS (
            SELECT taken_at, security_count - COALESCE(LAG(security_count) OVER (
                PARTITION BY server_id ORDER BY taken_at), 0) AS delta
            FROM base
        )
        SELECT CASE WHEN taken_at < %(start)s THEN NULL ELSE {day} END AS day, SUM(delta)
        FROM deltas GROUP BY 1
    """  # noqa: S608 - table names from model meta, values as parameters
    params = {
        "team": team.pk,
        "fmt": UPDATES_FORMAT,
        "start": p.start_at,
        "before": p.start_at - timedelta(seconds=1),
        "end": p.end_at,
        "zone": str(p.tz),
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    baseline = 0
    changes: dict[date, int] = {}
    for day_value, total in rows:
        if day_value is None:
            baseline += int(total or 0)
        else:
            if isinstance(day_value, str):
                day_value = date.fromisoformat(day_value)
            changes[day_value] = changes.get(day_value, 0) + int(total or 0)
    points = []
    running = baseline
    day_cursor = p.start
    while day_cursor <= p.end:
        running += changes.get(day_cursor, 0)
        points.append((day_cursor, running))
        day_cursor += timedelta(days=1)
    return points


def sample_points(points: list[tuple[date, int]], limit: int = 60) -> list[tuple[date, int]]:
    """At most `limit` points for a chart: every n-th day, always the last."""
    if len(points) <= limit:
        return points
    step = -(-len(points) // limit)
    sampled = points[::-1][::step][::-1]
    return sampled


def fleet_posture(
    *,
    team: Team,
    p: Period,
    stale_days: int = 7,
    now: datetime | None = None,
    limit: int | None = TABLE_LIMIT,
) -> Posture:
    """Servers with pending security updates by environment and criticality, the
    servers waiting longest, the stale inventories, and the trend. 6 queries (8 when
    the cache is cold): matrix, the inventory signature, (aging rows), aging count,
    stale rows, stale count, (trend)."""
    now = now or timezone.now()
    servers = Server.objects.filter(team=team)
    cells = [
        PostureCell(r["environment"], r["criticality"], r["n"], r["sec"], r["updates"] or 0)
        for r in servers.values("environment", "criticality")
        .annotate(
            n=Count("pk"),
            sec=Count("pk", filter=Q(pending_security__gt=0)),
            updates=Sum("pending_security"),
        )
        .order_by()
    ]
    # "Since when" a server has had security updates pending: its first update
    # snapshot with some after its last clean one. PendingUpdate rows keep no
    # first-seen date, the snapshots do.
    updates = InventorySnapshot.objects.filter(server=OuterRef("pk"), format=UPDATES_FORMAT)
    last_clean = updates.filter(security_count=0).order_by("-taken_at").values("taken_at")[:1]
    epoch = Value(datetime(1970, 1, 1, tzinfo=UTC), output_field=DateTimeField())
    first_dirty = (
        InventorySnapshot.objects.filter(
            server=OuterRef("pk"),
            format=UPDATES_FORMAT,
            security_count__gt=0,
            taken_at__gt=Coalesce(OuterRef("last_clean"), epoch),
        )
        .order_by("taken_at")
        .values("taken_at")[:1]
    )
    pending = servers.filter(pending_security__gt=0)
    signature = _inventory_signature(team)

    def aging_rows() -> list[tuple]:
        return list(
            pending.annotate(last_clean=Subquery(last_clean))
            .annotate(since=Coalesce(Subquery(first_dirty), F("last_inventory_at")))
            .order_by(F("since").asc(nulls_last=True), "hostname")
            .values_list(
                "pk", "hostname", "environment", "criticality", "pending_security", "since"
            )[:limit]
        )

    # Two correlated subqueries per server with pending updates (about 60 ms for
    # 5,000): cached under the same signature as the trend.
    rows = _cached(f"reports:aging:{team.pk}:{limit}:{signature}", aging_rows)
    tz = team.tzinfo
    aging = [AgingServer(*row, now=now, tz=tz) for row in rows]
    cutoff = stale_cutoff(now=now, stale_days=stale_days, tz=tz)
    stale_qs = servers.filter(Q(last_inventory_at__lt=cutoff) | Q(last_inventory_at__isnull=True))
    stale = [
        StaleServer(*row, now=now, tz=tz)
        for row in stale_qs.order_by(
            F("last_inventory_at").asc(nulls_first=True), "hostname"
        ).values_list("pk", "hostname", "environment", "last_inventory_at")[:limit]
    ]
    posture = Posture(
        cells=cells,
        aging=aging,
        aging_total=pending.count(),
        stale=stale,
        stale_total=stale_qs.count(),
        stale_days=stale_days,
        trend=_security_trend(team=team, p=p, signature=signature),
        servers_total=sum(c.servers for c in cells),
        with_security_total=sum(c.with_security for c in cells),
    )
    present_envs = {c.environment for c in cells}
    posture.environments = [(v, str(lbl)) for v, lbl in Environment.choices if v in present_envs]
    posture.criticalities = [(v, str(lbl)) for v, lbl in reversed(Criticality.choices)]
    return posture


# --- Plans -------------------------------------------------------------------


@dataclass
class CompletedPlan:
    pk: int
    title: str
    kind: str
    created_at: datetime
    completed_at: datetime

    @property
    def days(self) -> float:
        return round((self.completed_at - self.created_at).total_seconds() / 86400, 1)


@dataclass
class SignOffLead:
    milestone_id: int
    plan_id: int
    plan_title: str
    name: str
    requested_at: datetime
    signed_off_at: datetime
    position: int = 0

    @property
    def hours(self) -> float:
        return round((self.signed_off_at - self.requested_at).total_seconds() / 3600, 1)


@dataclass
class LeadSummary:
    name: str
    count: int
    median_hours: float
    mean_hours: float
    max_hours: float


@dataclass
class PlansReport:
    by_status_kind: dict[tuple[str, str], int]
    completed: list[CompletedPlan]
    leads: list[SignOffLead]
    statuses: list[tuple[str, str]] = field(default_factory=list)
    kinds: list[tuple[str, str]] = field(default_factory=list)

    def status_rows(self) -> list[tuple[str, list[int], int]]:
        rows = []
        for status, label in self.statuses:
            counts = [self.by_status_kind.get((status, kind), 0) for kind, _l in self.kinds]
            rows.append((label, counts, sum(counts)))
        return rows

    @property
    def total(self) -> int:
        return sum(self.by_status_kind.values())

    @property
    def median_days_to_complete(self) -> float | None:
        if not self.completed:
            return None
        return round(statistics.median(c.days for c in self.completed), 1)

    def lead_summary(self) -> list[LeadSummary]:
        by_name: dict[str, list[float]] = defaultdict(list)
        order: dict[str, list[int]] = defaultdict(list)
        for lead in self.leads:
            by_name[lead.name].append(lead.hours)
            order[lead.name].append(lead.position)
        return [
            LeadSummary(
                name,
                len(hours),
                round(statistics.median(hours), 1),
                round(statistics.fmean(hours), 1),
                max(hours),
            )
            # In timeline order (the usual position of a milestone of that name).
            for name, hours in sorted(
                by_name.items(), key=lambda kv: (statistics.median(order[kv[0]]), kv[0])
            )
        ]

    @property
    def slowest_leads(self) -> list[SignOffLead]:
        return sorted(self.leads, key=lambda lead: lead.hours, reverse=True)[:10]


def plans_report(*, team: Team, p: Period) -> PlansReport:
    """Plans created in the period by status and kind; plans completed in the period
    with the days from creation; milestones signed off in the period with their
    lead time, from when sign-off could be asked (the previous milestone signed
    off; for the first, the plan first sent for review, else its creation).
    3 queries."""
    plans = Plan.objects.filter(team=team, is_template=False)
    counts = {
        (r["status"], r["kind"]): r["n"]
        for r in plans.filter(created_at__gte=p.start_at, created_at__lt=p.end_at)
        .values("status", "kind")
        .annotate(n=Count("pk"))
        .order_by()
    }
    completed = [
        CompletedPlan(*row)
        for row in plans.filter(
            status__in=(PlanStatus.COMPLETED, PlanStatus.COMPLETED_EXC),
            completed_at__gte=p.start_at,
            completed_at__lt=p.end_at,
        )
        .order_by("completed_at", "pk")
        .values_list("pk", "title", "kind", "created_at", "completed_at")
    ]
    previous = (
        Milestone.objects.filter(plan_id=OuterRef("plan_id"))
        .filter(
            Q(position__lt=OuterRef("position"))
            | Q(position=OuterRef("position"), pk__lt=OuterRef("pk"))
        )
        .order_by("-position", "-pk")
        .values("signed_off_at")[:1]
    )
    first_review = (
        PlanStatusChange.objects.filter(plan_id=OuterRef("plan_id"), to_status=PlanStatus.IN_REVIEW)
        .order_by("at")
        .values("at")[:1]
    )
    leads = [
        SignOffLead(*row)
        for row in Milestone.objects.filter(
            plan__team=team,
            plan__is_template=False,
            signed_off_at__gte=p.start_at,
            signed_off_at__lt=p.end_at,
        )
        .annotate(
            requested=Coalesce(Subquery(previous), Subquery(first_review), F("plan__created_at"))
        )
        .order_by("signed_off_at", "pk")
        .values_list(
            "pk", "plan_id", "plan__title", "name", "requested", "signed_off_at", "position"
        )
    ]
    return PlansReport(
        counts,
        completed,
        leads,
        statuses=[(v, str(lbl)) for v, lbl in PlanStatus.choices],
        kinds=[(v, str(lbl)) for v, lbl in PlanKind.choices],
    )


# --- Downtime ----------------------------------------------------------------


@dataclass
class WindowDowntime:
    pk: int
    plan_id: int
    plan_title: str
    title: str
    starts_at: datetime
    ends_at: datetime
    actual_starts_at: datetime | None
    actual_ends_at: datetime | None
    expected_downtime: int
    actual_downtime: int | None

    @property
    def planned(self) -> int:
        return _minutes(self.starts_at, self.ends_at) or 0

    @property
    def actual(self) -> int | None:
        return _minutes(self.actual_starts_at, self.actual_ends_at)

    @property
    def overrun(self) -> int:
        return max(0, self.actual - self.planned) if self.actual is not None else 0

    @property
    def overran(self) -> bool:
        return self.overrun > 0

    @property
    def label(self) -> str:
        return self.title or self.plan_title


@dataclass
class DowntimeReport:
    windows: list[WindowDowntime]

    @property
    def recorded(self) -> list[WindowDowntime]:
        return [w for w in self.windows if w.actual is not None]

    @property
    def overrun_count(self) -> int:
        return sum(w.overran for w in self.recorded)

    @property
    def overrun_rate(self) -> float | None:
        """Share (percent) of the windows with recorded times that ran longer than planned."""
        recorded = self.recorded
        if not recorded:
            return None
        return round(100 * self.overrun_count / len(recorded), 1)

    @property
    def worst(self) -> list[WindowDowntime]:
        return sorted(
            (w for w in self.recorded if w.overran), key=lambda w: (-w.overrun, w.starts_at)
        )[:10]

    @property
    def planned_total(self) -> int:
        return sum(w.planned for w in self.recorded)

    @property
    def actual_total(self) -> int:
        return sum(w.actual or 0 for w in self.recorded)


def downtime_report(*, team: Team, p: Period) -> DowntimeReport:
    """Windows (not cancelled) starting in the period: planned length against the
    recorded actual start to end, and expected against recorded server downtime.
    One query (the sums are subqueries)."""
    expected = (
        WindowServer.objects.filter(window_id=OuterRef("pk"))
        .order_by()
        .values("window_id")
        .annotate(total=Sum("expected_downtime_minutes"))
        .values("total")
    )
    actual = (
        ServerExecution.objects.filter(window_id=OuterRef("pk"), downtime_minutes__isnull=False)
        .order_by()
        .values("window_id")
        .annotate(total=Sum("downtime_minutes"))
        .values("total")
    )
    rows = (
        MaintenanceWindow.objects.filter(
            plan__team=team,
            plan__is_template=False,
            cancelled_at__isnull=True,
            starts_at__gte=p.start_at,
            starts_at__lt=p.end_at,
        )
        .annotate(
            expected=Coalesce(Subquery(expected, output_field=IntegerField()), 0),
            actual_down=Subquery(actual, output_field=IntegerField()),
        )
        .order_by("starts_at", "pk")
        .values_list(
            "pk",
            "plan_id",
            "plan__title",
            "title",
            "starts_at",
            "ends_at",
            "actual_starts_at",
            "actual_ends_at",
            "expected",
            "actual_down",
        )
    )
    return DowntimeReport([WindowDowntime(*row) for row in rows])

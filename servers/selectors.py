"""Reads of servers and their inventory, always scoped through the access selectors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import (
    Case,
    Count,
    Exists,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils import timezone

from patchplan.teams.models import Team
from patchplan.teams.roles import Action
from patchplan.teams.selectors import check_team_action, get_for_user

from .choices import Criticality, Environment
from .models import InventorySnapshot, InventoryToken, PendingUpdate, Server, ServerPackage, Tag
from .versions import version_key


def stale_cutoff(*, now: datetime, stale_days: int, tz: ZoneInfo) -> datetime:
    """Inventories before this instant are more than `stale_days` calendar days
    old in `tz`: the midnight that starts the day `stale_days` days ago."""
    day = now.astimezone(tz).date() - timedelta(days=stale_days)
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


# ?sort= values the list accepts, and the ordering each means.
SORTS: dict[str, tuple[str, ...]] = {
    "hostname": ("hostname",),
    "-hostname": ("-hostname",),
    "environment": ("environment", "hostname"),
    "criticality": ("criticality_rank", "hostname"),
    "-criticality": ("-criticality_rank", "hostname"),
    "packages": ("package_count", "hostname"),
    "-packages": ("-package_count", "hostname"),
    "security": ("pending_security", "hostname"),
    "-security": ("-pending_security", "-pending_updates", "hostname"),
    "pending": ("pending_updates", "hostname"),
    "-pending": ("-pending_updates", "hostname"),
    "inventory": ("last_inventory_at", "hostname"),
    "-inventory": ("-last_inventory_at", "hostname"),
}
_CRIT_RANK = {c: i for i, c in enumerate(Criticality.values)}


def servers_for_team(*, user, team: Team) -> QuerySet[Server]:
    """The team's servers, for a member of the team (404 otherwise)."""
    check_team_action(user=user, team_id=team.pk, action=Action.VIEW)
    return Server.objects.filter(team=team)


def server_get_for_user(*, user, server_id: int, action: str = Action.VIEW) -> Server:
    return get_for_user(
        Server.objects.select_related("owner", "team"), user=user, action=action, pk=server_id
    )


@dataclass
class ServerFilters:
    """The list's GET parameters, cleaned (unknown values are ignored, never an error)."""

    q: str = ""
    environment: str = ""
    criticality: str = ""
    security: bool = False
    stale_days: int | None = None
    tag: str = ""
    sort: str = "hostname"

    @classmethod
    def from_query(cls, params) -> ServerFilters:
        stale = params.get("stale", "").strip()
        sort = params.get("sort", "hostname")
        return cls(
            # PostgreSQL refuses NUL in a string: drop it rather than answer 500.
            q=params.get("q", "").replace("\x00", "").strip()[:100],
            environment=params.get("environment", "")
            if params.get("environment") in Environment.values
            else "",
            criticality=params.get("criticality", "")
            if params.get("criticality") in Criticality.values
            else "",
            security=params.get("security") == "1",
            stale_days=int(stale) if stale.isdecimal() and 0 < int(stale) < 100_000 else None,
            tag=params.get("tag", "").replace("\x00", "").strip()[:64],
            sort=sort if sort in SORTS else "hostname",
        )


def servers_filtered(
    *, user, team: Team, filters: ServerFilters, tags_to_attr: str | None = None
) -> QuerySet[Server]:
    """The server list: search, filters and a whitelisted sort, tags prefetched.

    With ``tags_to_attr`` the tags land in a plain list attribute of that name
    (no related manager built per row: the server list's hot loop); without
    it ``server.tags.all()`` is served from the prefetch.
    """
    qs = servers_for_team(user=user, team=team)
    if filters.q:
        # A subquery for the tag, not a join: no DISTINCT over the whole list.
        tagged = Server.tags.through.objects.filter(
            tag__team=team, tag__name__iexact=filters.q
        ).values("server_id")
        qs = qs.filter(
            Q(hostname__icontains=filters.q)
            | Q(fqdn__icontains=filters.q)
            | Q(pk__in=Subquery(tagged))
        )
    if filters.environment:
        qs = qs.filter(environment=filters.environment)
    if filters.criticality:
        qs = qs.filter(criticality=filters.criticality)
    if filters.security:
        qs = qs.filter(pending_security__gt=0)
    if filters.stale_days:
        # Calendar days in the team's zone, as the posture report counts them.
        cutoff = stale_cutoff(now=timezone.now(), stale_days=filters.stale_days, tz=team.tzinfo)
        qs = qs.filter(Q(last_inventory_at__lt=cutoff) | Q(last_inventory_at__isnull=True))
    if filters.tag:
        qs = qs.filter(
            pk__in=Subquery(
                Server.tags.through.objects.filter(tag__team=team, tag__name=filters.tag).values(
                    "server_id"
                )
            )
        )
    if "criticality" in filters.sort:
        qs = qs.annotate(
            criticality_rank=Case(
                *[When(criticality=c, then=Value(r)) for c, r in _CRIT_RANK.items()],
                output_field=IntegerField(),
            )
        )
    return (
        qs.select_related("owner")
        .prefetch_related(
            Prefetch("tags", queryset=Tag.objects.order_by("name"), to_attr=tags_to_attr)
        )
        .order_by(*SORTS[filters.sort], "pk")
    )


def team_tags(*, team: Team) -> QuerySet[Tag]:
    return Tag.objects.filter(team=team).order_by("name")


def server_snapshots(*, server: Server) -> QuerySet[InventorySnapshot]:
    """History for the server page: no blobs."""
    return server.snapshots.defer("data").select_related("created_by", "token")


def server_packages(*, server: Server, q: str = "") -> QuerySet[ServerPackage]:
    qs = ServerPackage.objects.filter(server=server).only(
        "name", "architecture", "version", "state"
    )
    if q:
        qs = qs.filter(name__icontains=q[:100])
    return qs.order_by("name", "architecture", "version")


def server_pending(*, server: Server) -> QuerySet[PendingUpdate]:
    return PendingUpdate.objects.filter(server=server).order_by("-is_security", "name")


@dataclass
class FleetHit:
    server_id: int
    hostname: str
    environment: str
    version: str
    architecture: str
    candidate: str
    is_security: bool

    @property
    def environment_label(self) -> str:
        return str(Environment(self.environment).label)


class FleetResults:
    """The fleet search's hits, read a page at a time: len() is one COUNT, a slice one
    query for its rows and one for those servers' pending candidates (what Paginator and
    the CSV export ask for), so a page costs the same at 5,000 or 20,000 servers."""

    _FIELDS = ("server_id", "server__hostname", "server__environment", "version", "architecture")

    def __init__(self, rows: QuerySet[ServerPackage], name: str) -> None:
        self._rows = rows.order_by("server__hostname", "architecture", "version", "pk")
        self._name = name
        self._count: int | None = None

    def __len__(self) -> int:
        if self._count is None:
            self._count = self._rows.count()
        return self._count

    def __bool__(self) -> bool:
        return len(self) > 0

    def __getitem__(self, index):
        if not isinstance(index, slice):
            return self[index : index + 1][0]
        rows = list(self._rows.values_list(*self._FIELDS)[index])
        pending = {
            (sid, arch): (cand, sec)
            for sid, arch, cand, sec in PendingUpdate.objects.filter(
                name=self._name, server_id__in={r[0] for r in rows}
            ).values_list("server_id", "architecture", "candidate", "is_security")
        }
        return [
            FleetHit(sid, hostname, env, version, arch, *pending.get((sid, arch), ("", False)))
            for sid, hostname, env, version, arch in rows
        ]

    def __iter__(self):
        step = 2000
        for start in range(0, len(self), step):
            yield from self[start : start + step]


def fleet_package_search(
    *, user, team: Team, name: str, below: str = "", environment: str = ""
) -> FleetResults:
    """Servers of the team running package ``name`` (exact), optionally below a version.

    Paged in SQL (FleetResults). "Below" compares in the database: each row's
    version_key (servers.versions.version_key, stored at import by the server's own
    Debian or RPM ordering) against the bound's key in that family, on the
    (name, version_key) index.
    """
    check_team_action(user=user, team_id=team.pk, action=Action.VIEW)
    name = name.strip()
    rows = ServerPackage.objects.filter(name=name, server__team=team)
    if not name:
        rows = rows.none()
    if environment in Environment.values:
        rows = rows.filter(server__environment=environment)
    below = below.strip()
    if below:
        families = team_package_families(team=team)
        bounds = Q(pk__in=[])
        for family in families:
            key = version_key(below, family=family).encode()
            if not key:  # a bound the family's rules reject matches none of its servers
                continue
            # An unparsable version has an empty key: never "below" anything. As a
            # range ('' < key < bound), the covering (name, version_key) index alone
            # answers it; a fleet of one family needs no server's family per row.
            in_range = Q(version_key__gt=b"", version_key__lt=key)
            bounds |= (
                in_range if len(families) == 1 else in_range & Q(server__package_family=family)
            )
        rows = rows.filter(bounds)
    return FleetResults(rows, name)


def team_package_families(*, team: Team) -> list[str]:
    """The version orderings ("deb", "rpm") the team's servers use: one query of an
    index probe per family (server_team_family), not a scan of the fleet."""
    probes = {
        family: Exists(Server.objects.filter(team_id=OuterRef("pk"), package_family=family))
        for family in ("deb", "rpm")
    }
    row = Team.objects.filter(pk=team.pk).annotate(**probes).values(*probes).first() or {}
    return [family for family in probes if row.get(family)]


def fleet_servers(
    *, user, team: Team, name: str, below: str = "", environment: str = ""
) -> QuerySet[Server]:
    """The servers of a fleet search's answer (for a plan's scope), by hostname."""
    hits = fleet_package_search(
        user=user, team=team, name=name, below=below, environment=environment
    )
    return (
        servers_for_team(user=user, team=team)
        .filter(pk__in={hit.server_id for hit in hits})
        .order_by("hostname")
    )


def fleet_pending_overview(*, user, team: Team, top: int = 25) -> dict:
    """The fleet's pending updates: per environment, the servers most exposed, top packages."""
    check_team_action(user=user, team_id=team.pk, action=Action.VIEW)
    servers = Server.objects.filter(team=team)
    per_env = list(
        servers.values("environment")
        .annotate(
            servers=Count("pk"),
            with_pending=Count("pk", filter=Q(pending_updates__gt=0)),
            with_security=Count("pk", filter=Q(pending_security__gt=0)),
        )
        .order_by("environment")
    )
    labels = dict(Environment.choices)
    for row in per_env:
        row["label"] = labels.get(row["environment"], row["environment"])
    exposed = list(
        servers.filter(pending_security__gt=0)
        .order_by("-pending_security", "-pending_updates", "hostname")
        .only("hostname", "environment", "criticality", "pending_security", "pending_updates")[:50]
    )
    # Two steps: rank names by rows (a cheap hash aggregate over the whole
    # fleet), then count distinct servers exactly for the few names shown.
    pending = PendingUpdate.objects.filter(server__team=team)
    names = list(
        pending.values("name")
        .annotate(rows=Count("id"), security_rows=Count("id", filter=Q(is_security=True)))
        .order_by("-security_rows", "-rows", "name")
        .values_list("name", flat=True)[:top]
    )
    packages = sorted(
        pending.filter(name__in=names)
        .values("name")
        .annotate(
            servers=Count("server", distinct=True),
            security=Count("server", filter=Q(is_security=True), distinct=True),
            candidate=Max("candidate"),
        ),
        key=lambda row: (-row["security"], -row["servers"], row["name"]),
    )
    return {"per_env": per_env, "exposed": exposed, "packages": packages}


def tokens_for_team(*, team: Team) -> QuerySet[InventoryToken]:
    return InventoryToken.objects.filter(team=team).select_related("created_by")


def token_get_for_user(*, user, token_id: int, action: str) -> InventoryToken:
    return get_for_user(InventoryToken.objects.all(), user=user, action=action, pk=token_id)


def server_by_hostname(*, team: Team, hostname: str) -> Server | None:
    return Server.objects.filter(team=team, hostname=hostname).first()

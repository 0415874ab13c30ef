"""Match advisories to servers: which installed package is below the fixed
version for the server's release, or has no fix yet.

Set-based, so the whole fleet costs about what one server does:
1. each server in scope gets its release (set, or derived from its OS) in a
   temporary table;
2. one query finds the distinct (release, source package, installed version,
   advisory entry) tuples: a version installed on 4,000 servers is compared
   once, not 4,000 times;
3. Python places those versions in the advisories' intervals (introduced,
   fixed, last_affected) with the package manager's ordering (servers.versions),
   cached per pair of versions;
4. the vulnerable tuples go to a second temporary table, joined back to the
   servers' packages to upsert Match rows; open matches that no longer hold
   are resolved (kept with resolved_at, for the time to remediate).

A package whose listing carried its source (``dpkg-query`` with
``${source:Package}``) matches by source; any other by binary name = source
name, which holds for most packages (openssl, bash) but not for libssl3.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db import connection, transaction
from django.utils import timezone

from servers.models import Server, ServerPackage
from servers.releases import release_for_os
from servers.versions import version_key

from .choices import FixStatus, MatchStatus
from .models import AffectedPackage, Match

_SRC = "COALESCE(NULLIF(sp.source_name, ''), sp.name)"
_VER = "COALESCE(NULLIF(sp.source_version, ''), sp.version)"


def _release_rows(server_ids: list[int] | None) -> list[tuple[int, str, str]]:
    qs = Server.objects.all()
    if server_ids is not None:
        qs = qs.filter(pk__in=server_ids)
    return [
        (pk, release or release_for_os(os_name, os_version), family or "deb")
        for pk, release, os_name, os_version, family in qs.values_list(
            "pk", "release", "os_name", "os_version", "package_family"
        )
    ]


def _fill(cursor, table: str, columns: str, rows: list[tuple]) -> None:
    if not rows:
        return
    marks = "(" + ", ".join(["%s"] * len(rows[0])) + ")"
    for start in range(0, len(rows), 1000):
        batch = rows[start : start + 1000]
        cursor.execute(
            f"INSERT INTO {table} ({columns}) VALUES {', '.join([marks] * len(batch))}",  # noqa: S608
            [v for row in batch for v in row],
        )


def _vulnerable(
    rows: Iterable[tuple[str, str, str, int, str, str, str, str, str]],
) -> list[tuple[str, str, str, int, str, str]]:
    """Keep the (release, source, installed, vulnerability, fixed, match status)
    tuples whose installed version lies in an advisory interval (AffectedPackage):
    one per (release, source, installed, vulnerability), a fix available winning
    over none, the highest fixed version over lower ones (two feeds that disagree)."""
    # Sort keys (servers.versions.version_key) order like compare_versions, cost one
    # parse per distinct version instead of two per pair, and compare as strings.
    keys: dict[tuple[str, str], str] = {}

    def order(installed: str, other: str, family: str) -> int | None:
        a = keys.get((installed, family))
        if a is None:
            a = keys[(installed, family)] = version_key(installed, family=family)
        b = keys.get((other, family))
        if b is None:
            b = keys[(other, family)] = version_key(other, family=family)
        if not a or not b:
            return None  # an unreadable version proves nothing
        return (a > b) - (a < b)

    found: dict[tuple[str, str, str, int], tuple[str, str, str]] = {}
    for release, source, installed, vuln_id, status, fixed, family, introduced, last in rows:
        if introduced:
            below_start = order(installed, introduced, family)
            if below_start is None or below_start < 0:
                continue
        if status == FixStatus.FIXED:
            before_fix = order(installed, fixed, family)
            if before_fix is None or before_fix >= 0:
                continue
            candidate = (fixed, MatchStatus.FIX_AVAILABLE)
        elif status == FixStatus.OPEN:
            if last:
                after_last = order(installed, last, family)
                if after_last is None or after_last > 0:
                    continue
            candidate = ("", MatchStatus.NO_FIX)
        elif status == FixStatus.UNDETERMINED:
            candidate = ("", MatchStatus.NO_FIX)
        else:
            continue
        key = (release, source, installed, vuln_id)
        best = found.get(key)
        # A fix beats no fix; of two fixes (feeds that disagree) the higher one.
        if best is None or (
            candidate[0] and (not best[0] or (order(candidate[0], best[0], family) or 0) > 0)
        ):
            found[key] = (*candidate, family)
    return [(*key, fixed, status) for key, (fixed, status, _family) in found.items()]


# The steps match_servers reports through ``progress``: versions compared, matches
# computed, written, the ones that no longer hold resolved.
FLEET_STEPS = 4


@transaction.atomic
def match_servers(
    server_ids: list[int] | None = None, *, progress: Callable[[int, int], None] | None = None
) -> int:
    """Recompute the matches of the given servers (None: the whole fleet).

    Returns the number of open matches in scope afterwards."""
    now = timezone.now()
    releases = _release_rows(server_ids)
    with connection.cursor() as cursor:
        for table in ("pp_match_scope", "pp_match_vuln", "pp_match_now"):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(
            "CREATE TEMPORARY TABLE pp_match_scope "
            "(server_id bigint PRIMARY KEY, release varchar(40), family varchar(3))"
        )
        cursor.execute(
            "CREATE TEMPORARY TABLE pp_match_vuln (release varchar(40), source varchar(200), "
            "version varchar(200), vulnerability_id bigint, fixed varchar(200), status varchar(14))"
        )
        cursor.execute(
            "CREATE TEMPORARY TABLE pp_match_now (server_id bigint, team_id bigint, "
            "vulnerability_id bigint, package varchar(200), installed varchar(200), "
            "fixed varchar(200), status varchar(14))"
        )
        _fill(cursor, "pp_match_scope", "server_id, release, family", releases)
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE pp_match_scope")
        sp = ServerPackage._meta.db_table
        ap = AffectedPackage._meta.db_table
        # Distinct (release, source, version) first: 5,000 servers running the
        # same versions collapse to a few thousand tuples before the advisory join.
        cursor.execute(
            f"""WITH installed AS (
                SELECT DISTINCT r.release, {_SRC} AS source, {_VER} AS version, r.family
                FROM {sp} sp JOIN pp_match_scope r ON r.server_id = sp.server_id
                WHERE r.release <> '')
            SELECT i.release, i.source, i.version, a.vulnerability_id, a.status,
                   a.fixed_version, i.family, a.introduced, a.last_affected
            FROM installed i
            JOIN {ap} a ON a.release = i.release AND a.package = i.source
            WHERE a.status <> %s""",  # noqa: S608
            [FixStatus.NOT_AFFECTED],
        )
        vulnerable = _vulnerable(cursor.fetchall())
        if progress:
            progress(1, FLEET_STEPS)
        _fill(
            cursor,
            "pp_match_vuln",
            "release, source, version, vulnerability_id, fixed, status",
            vulnerable,
        )
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE pp_match_vuln")
        cursor.execute(
            f"""INSERT INTO pp_match_now
            SELECT sp.server_id, s.team_id, v.vulnerability_id, v.source, MIN(v.version),
                   MAX(v.fixed), MIN(v.status)
            FROM {sp} sp
            JOIN pp_match_scope r ON r.server_id = sp.server_id
            JOIN {Server._meta.db_table} s ON s.id = sp.server_id
            JOIN pp_match_vuln v ON v.release = r.release AND v.source = {_SRC}
                 AND v.version = {_VER}
            GROUP BY sp.server_id, s.team_id, v.vulnerability_id, v.source"""  # noqa: S608
        )
        if progress:
            progress(2, FLEET_STEPS)
        m = Match._meta.db_table
        cursor.execute(
            f"""INSERT INTO {m} (server_id, team_id, vulnerability_id, package,
                installed_version, fixed_version, status, first_seen_at, resolved_at)
            SELECT server_id, team_id, vulnerability_id, package, installed, fixed, status,
                   %s, NULL
            FROM pp_match_now WHERE true
            ON CONFLICT (server_id, vulnerability_id, package) DO UPDATE SET
                installed_version = EXCLUDED.installed_version,
                fixed_version = EXCLUDED.fixed_version,
                status = EXCLUDED.status,
                first_seen_at = CASE WHEN {m}.resolved_at IS NULL THEN {m}.first_seen_at
                                     ELSE EXCLUDED.first_seen_at END,
                resolved_at = NULL
            WHERE {m}.resolved_at IS NOT NULL
               OR {m}.installed_version <> EXCLUDED.installed_version
               OR {m}.fixed_version <> EXCLUDED.fixed_version
               OR {m}.status <> EXCLUDED.status""",  # noqa: S608
            [now],
        )
        if progress:
            progress(3, FLEET_STEPS)
        cursor.execute(
            f"""UPDATE {m} SET resolved_at = %s
            WHERE resolved_at IS NULL
              AND server_id IN (SELECT server_id FROM pp_match_scope)
              AND NOT EXISTS (SELECT 1 FROM pp_match_now n WHERE n.server_id = {m}.server_id
                  AND n.vulnerability_id = {m}.vulnerability_id AND n.package = {m}.package)""",  # noqa: S608
            [now],
        )
        cursor.execute("SELECT COUNT(*) FROM pp_match_now")
        (count,) = cursor.fetchone()
        for table in ("pp_match_scope", "pp_match_vuln", "pp_match_now"):
            cursor.execute(f"DROP TABLE {table}")
    if progress:
        progress(FLEET_STEPS, FLEET_STEPS)
    return count


def match_server(server: Server) -> int:
    """Recompute one server's matches after its import: 2 to 4 queries (its
    vulnerable candidates, its open matches, then only what changed)."""
    release = server.effective_release
    family = server.package_family or "deb"
    now = timezone.now()
    current: dict[tuple[int, str], tuple[str, str, str]] = {}
    if release:
        # Two index-driven reads rather than one join, so the planner never scans
        # the whole advisory table for one server: its (source, version) pairs,
        # then the advisories of those sources in its release.
        installed: dict[str, set[str]] = {}
        for name, version, source_name, source_version in ServerPackage.objects.filter(
            server_id=server.pk
        ).values_list("name", "version", "source_name", "source_version"):
            installed.setdefault(source_name or name, set()).add(source_version or version)
        rows = []
        names = sorted(installed)
        for start in range(0, len(names), 2000):
            for source, vid, status, fixed, introduced, last in (
                AffectedPackage.objects.filter(
                    release=release, package__in=names[start : start + 2000]
                )
                .exclude(status=FixStatus.NOT_AFFECTED)
                .values_list(
                    "package",
                    "vulnerability_id",
                    "status",
                    "fixed_version",
                    "introduced",
                    "last_affected",
                )
            ):
                rows.extend(
                    (release, source, version, vid, status, fixed, family, introduced, last)
                    for version in installed[source]
                )
        for _rel, source, installed, vid, fixed, status in sorted(_vulnerable(rows)):
            key = (vid, source)
            if key not in current:  # the lowest installed version of the source
                current[key] = (installed, fixed, status)
    existing = {
        (m.vulnerability_id, m.package): m
        for m in Match.objects.filter(server_id=server.pk).only(
            "pk",
            "vulnerability_id",
            "package",
            "installed_version",
            "fixed_version",
            "status",
            "first_seen_at",
            "resolved_at",
        )
    }
    upsert = []
    for (vid, source), (installed, fixed, status) in current.items():
        old = existing.get((vid, source))
        if (
            old is not None
            and old.resolved_at is None
            and (
                old.installed_version,
                old.fixed_version,
                old.status,
            )
            == (installed, fixed, status)
        ):
            continue
        reopened = old is None or old.resolved_at is not None
        upsert.append(
            Match(
                team_id=server.team_id,
                server_id=server.pk,
                vulnerability_id=vid,
                package=source,
                installed_version=installed,
                fixed_version=fixed,
                status=status,
                first_seen_at=now if reopened else old.first_seen_at,
                resolved_at=None,
            )
        )
    if upsert:
        Match.objects.bulk_create(
            upsert,
            update_conflicts=True,
            unique_fields=["server", "vulnerability", "package"],
            update_fields=[
                "installed_version",
                "fixed_version",
                "status",
                "first_seen_at",
                "resolved_at",
            ],
        )
    gone = [m.pk for key, m in existing.items() if m.resolved_at is None and key not in current]
    if gone:
        Match.objects.filter(pk__in=gone).update(resolved_at=now)
    new = [m.vulnerability_id for m in upsert if m.first_seen_at == now]
    if new and server.environment == "production":
        from .services import exposure_alerts

        exposure_alerts(team_ids=[server.team_id], vulnerability_ids=new)
    return len(current)

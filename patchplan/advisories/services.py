"""Writes for advisories: importing a feed (one transaction per source) and
the remediation policy. Matching lives in ``matching``."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
import urllib.request
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from .choices import RANK_SEVERITY, Source
from .feeds import READERS, FeedError, FeedRecord
from .models import AdvisoryRecord, AffectedPackage, RemediationPolicy, SourceState, Vulnerability

log = logging.getLogger(__name__)

_BATCH = 1000
DOWNLOAD_TIMEOUT = 120


@dataclass(frozen=True)
class ImportStats:
    source: str
    records: int
    changed: int
    removed: int
    seconds: float

    def summary(self) -> str:
        return (
            f"{self.source}: {self.records} records, {self.changed} changed, "
            f"{self.removed} removed in {self.seconds:.1f} s"
        )


@contextmanager
def open_feed(location: str):
    """A binary stream of a feed: a local file, or a URL downloaded to a temporary
    file first (so a download that breaks halfway never reaches the parser)."""
    if location.startswith(("http://", "https://")):
        with tempfile.TemporaryFile() as tmp:
            try:
                with urllib.request.urlopen(location, timeout=DOWNLOAD_TIMEOUT) as response:  # noqa: S310 - http(s) only, checked above
                    shutil.copyfileobj(response, tmp, 1024 * 1024)
            except OSError as error:
                raise FeedError(f"download failed: {error}") from None
            tmp.seek(0)
            yield tmp
        return
    path = Path(location)
    if not path.is_file():
        raise FeedError(f"cannot open {location}: no such file")
    with path.open("rb") as stream:
        yield stream


def _flush(source: str, batch: dict[str, FeedRecord], existing: dict, touched: set[int]) -> None:
    """Replace the records of ``batch`` (new or changed) and their packages."""
    old_ids = [existing[key][0] for key in batch if key in existing]
    if old_ids:
        touched.update(
            AdvisoryRecord.vulnerabilities.through.objects.filter(
                advisoryrecord_id__in=old_ids
            ).values_list("vulnerability_id", flat=True)
        )
        AdvisoryRecord.objects.filter(pk__in=old_ids).delete()
    idents = {ident for rec in batch.values() for ident in rec.idents}
    Vulnerability.objects.bulk_create(
        [Vulnerability(ident=ident[:64]) for ident in idents], ignore_conflicts=True
    )
    vuln_ids = dict(Vulnerability.objects.filter(ident__in=idents).values_list("ident", "pk"))
    records = AdvisoryRecord.objects.bulk_create(
        [
            AdvisoryRecord(
                source=source,
                key=rec.key[:300],
                content_hash=rec.content_hash,
                summary=rec.summary,
                severity_rank=rec.severity_rank,
                cvss_score=round(rec.cvss_score, 1) if rec.cvss_score is not None else None,
                data=rec.data,
            )
            for rec in batch.values()
        ]
    )
    links, packages = [], []
    for record, rec in zip(records, batch.values(), strict=True):
        for ident in dict.fromkeys(rec.idents):
            vid = vuln_ids[ident[:64]]
            touched.add(vid)
            links.append((record.pk, vid))
            packages.extend(
                (
                    record.pk,
                    vid,
                    row.release[:40],
                    row.package[:200],
                    row.status,
                    row.fixed[:200],
                    row.urgency[:30],
                    row.introduced[:200],
                    row.last_affected[:200],
                )
                for row in rec.packages
            )
    _insert(
        AdvisoryRecord.vulnerabilities.through._meta.db_table,
        ["advisoryrecord_id", "vulnerability_id"],
        links,
    )
    _insert(
        AffectedPackage._meta.db_table,
        [
            "record_id",
            "vulnerability_id",
            "release",
            "package",
            "status",
            "fixed_version",
            "urgency",
            "introduced",
            "last_affected",
        ],
        packages,
    )


def _insert(table: str, columns: list[str], rows: list[tuple]) -> None:
    """Multi-row INSERTs without model instances: an import writes hundreds of
    thousands of rows, and bulk_create spends most of its time building objects."""
    if not rows:
        return
    marks = "(" + ", ".join(["%s"] * len(columns)) + ")"
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "  # noqa: S608 - model tables
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _BATCH):
            batch = rows[start : start + _BATCH]
            cursor.execute(sql + ", ".join([marks] * len(batch)), [v for r in batch for v in r])


def _refresh_vulnerabilities(ids: Iterable[int]) -> None:
    """Derive severity, score, known-exploited and description from the records:
    one UPDATE ... FROM an aggregate per 5,000 vulnerabilities."""
    ids = sorted(ids)
    vuln = Vulnerability._meta.db_table
    record = AdvisoryRecord._meta.db_table
    through = AdvisoryRecord.vulnerabilities.through._meta.db_table
    severity = " ".join(f"WHEN {rank} THEN '{sev.value}'" for rank, sev in RANK_SEVERITY.items())
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        marks = ", ".join(["%s"] * len(chunk))
        with connection.cursor() as cursor:
            cursor.execute(
                f"""UPDATE {vuln} SET severity_rank = a.rank,
                    severity = CASE a.rank {severity} ELSE 'unknown' END,
                    cvss_score = a.score,
                    known_exploited = a.kev = 1,
                    description = COALESCE(a.summary, {vuln}.description)
                FROM (SELECT t.vulnerability_id AS vid, MAX(r.severity_rank) AS rank,
                        MAX(r.cvss_score) AS score,
                        MAX(CASE WHEN r.source = %s THEN 1 ELSE 0 END) AS kev,
                        COALESCE(MAX(CASE WHEN r.source = %s AND r.summary <> ''
                                     THEN r.summary END),
                                 MAX(CASE WHEN r.source = %s AND r.summary <> ''
                                     THEN r.summary END),
                                 MAX(NULLIF(r.summary, ''))) AS summary
                      FROM {through} t JOIN {record} r ON r.id = t.advisoryrecord_id
                      WHERE t.vulnerability_id IN ({marks})
                      GROUP BY t.vulnerability_id) a
                WHERE {vuln}.id = a.vid""",  # noqa: S608
                # The description: Debian's, else OSV's, else KEV's.
                [Source.KEV, Source.DEBIAN, Source.OSV, *chunk],
            )
        # KEV facts and advisory ids come from the records' data (few rows).
        facts: dict[int, dict] = {}
        for vid, source, data in AdvisoryRecord.vulnerabilities.through.objects.filter(
            vulnerability_id__in=chunk, advisoryrecord__source__in=[Source.KEV, Source.OSV]
        ).values_list("vulnerability_id", "advisoryrecord__source", "advisoryrecord__data"):
            entry = facts.setdefault(vid, {"advisories": [], "kev": None})
            if source == Source.KEV:
                entry["kev"] = data
            entry["advisories"].extend(data.get("advisories", []))
        rows = []
        for row in Vulnerability.objects.filter(pk__in=chunk).only(
            "pk", "advisories", "kev_date_added", "kev_ransomware"
        ):
            entry = facts.get(row.pk, {"advisories": [], "kev": None})
            kev = entry["kev"] or {}
            wanted = (
                sorted(set(entry["advisories"])),
                kev.get("date_added"),
                bool(kev.get("ransomware")),
            )
            current = (
                row.advisories,
                row.kev_date_added.isoformat() if row.kev_date_added else None,
                row.kev_ransomware,
            )
            if wanted != current:  # most vulnerabilities have neither: nothing to write
                row.advisories, row.kev_date_added, row.kev_ransomware = wanted
                rows.append(row)
        Vulnerability.objects.bulk_update(
            rows, ["advisories", "kev_date_added", "kev_ransomware"], batch_size=_BATCH
        )


def _import_records(source: str, stream: IO[bytes]) -> tuple[int, int, int]:
    existing = {
        key: (pk, digest)
        for pk, key, digest in AdvisoryRecord.objects.filter(source=source).values_list(
            "pk", "key", "content_hash"
        )
    }
    seen: set[str] = set()
    batch: dict[str, FeedRecord] = {}
    touched: set[int] = set()
    total = changed = 0
    for rec in READERS[source](stream):
        total += 1
        seen.add(rec.key)
        old = existing.get(rec.key)
        if old is not None and old[1] == rec.content_hash:
            continue  # unchanged: nothing written
        batch[rec.key] = rec
        if len(batch) >= _BATCH:
            changed += len(batch)
            _flush(source, batch, existing, touched)
            batch = {}
    if batch:
        changed += len(batch)
        _flush(source, batch, existing, touched)
    # An OSV dump is one ecosystem among several of the source: records it does
    # not list belong to the other dumps (withdrawn ones arrive marked so).
    gone = (
        []
        if source == Source.OSV
        else [pk for key, (pk, _digest) in existing.items() if key not in seen]
    )
    for start in range(0, len(gone), 5000):
        chunk = gone[start : start + 5000]
        touched.update(
            AdvisoryRecord.vulnerabilities.through.objects.filter(
                advisoryrecord_id__in=chunk
            ).values_list("vulnerability_id", flat=True)
        )
        AdvisoryRecord.objects.filter(pk__in=chunk).delete()
    _refresh_vulnerabilities(touched)
    return total, changed, len(gone)


def advisories_import(
    *, source: str, location: str, stream: IO[bytes] | None = None, rematch: bool = True
) -> ImportStats:
    """Import one feed from a file, a URL or an open stream: all of it in one
    transaction, or nothing. A failure (download, malformed file) leaves the
    previous data in place, is recorded on the source's SourceState (shown on
    the admin page), and is raised as FeedError. A success queues the fleet
    rematch after the commit."""
    if source not in READERS:
        raise ValidationError(_("Unknown advisory source %(s)s.") % {"s": source})
    now = timezone.now()
    started = time.monotonic()
    state, _created = SourceState.objects.get_or_create(source=source)
    try:
        with transaction.atomic():
            if stream is not None:
                total, changed, removed = _import_records(source, stream)
            else:
                with open_feed(location) as opened:
                    total, changed, removed = _import_records(source, opened)
    except FeedError as error:
        SourceState.objects.filter(pk=state.pk).update(
            location=location[:500],
            last_attempt_at=now,
            last_error=str(error)[:2000],
            last_error_at=now,
        )
        log.warning("advisory import %s from %s failed: %s", source, location, error)
        raise
    seconds = time.monotonic() - started
    SourceState.objects.filter(pk=state.pk).update(
        location=location[:500],
        last_attempt_at=now,
        last_success_at=now,
        last_error="",
        records=total,
        changed=changed,
        seconds=seconds,
    )
    if rematch and (changed or removed):
        from .tasks import rematch_fleet

        transaction.on_commit(lambda: rematch_fleet.delay())
    return ImportStats(source, total, changed, removed, seconds)


def source_settings() -> dict[str, dict]:
    """Each source's URL(s) and whether it is on (settings.ADVISORY_SOURCES)."""
    return settings.ADVISORY_SOURCES


@transaction.atomic
def remediation_policy_set(*, team, by, **days: int) -> RemediationPolicy:
    """Set a team's days-to-remediate per severity (1 to 3650)."""
    errors = {}
    for name, value in days.items():
        if name not in ("critical_days", "high_days", "medium_days", "low_days"):
            raise TypeError(f"unknown target {name!r}")
        if value is None or not 1 <= int(value) <= 3650:
            errors[name] = _("Between 1 and 3650 days.")
    if errors:
        raise ValidationError(errors)
    policy, _created = RemediationPolicy.objects.get_or_create(team=team)
    for name, value in days.items():
        setattr(policy, name, int(value))
    policy.save()
    return policy


# --- Plan the fix -------------------------------------------------------------

_RISK_FOR_SEVERITY = {"critical": "critical", "high": "high", "medium": "medium", "low": "low"}
_ENV_ORDER = {"development": 0, "staging": 1, "other": 2, "production": 3}


def _fix_targets(rows: Iterable[tuple[str, str, str, str]]) -> dict[str, str]:
    """Source package -> the version to verify, from (package, release, fixed, family):
    within a release the highest fixed version (it fixes every selected CVE); across
    releases the lowest of those (a bookworm server never gets trixie's version, and
    a plan has one target per package)."""
    from servers.versions import compare_versions

    def pick(current: str | None, version: str, family: str, higher: bool) -> str:
        if current is None:
            return version
        try:
            order = compare_versions(version, current, family=family)
        except ValueError:
            return current
        return version if (order > 0 if higher else order < 0) else current

    per_release: dict[tuple[str, str], tuple[str, str]] = {}
    for package, release, version, family in rows:
        if version:
            current = per_release.get((package, release))
            per_release[(package, release)] = (
                pick(current and current[0], version, family, higher=True),
                family,
            )
    out: dict[str, str] = {}
    for (package, _release), (version, family) in sorted(per_release.items()):
        out[package] = pick(out.get(package), version, family, higher=False)
    return out


MAX_SELECTION = 50


@transaction.atomic
def plan_the_fix(*, team, vulnerabilities: Sequence[Vulnerability], by):
    """Create one draft security-patch plan for the given vulnerabilities (one, from
    its page, or a selection from the list): the team's affected servers in scope
    (staging first in the suggested order), every CVE and its advisories as
    references, and the binary packages to update with their fixed versions as
    verification targets (``_fix_targets``).

    Refused (ValidationError, nothing written) when nothing is selected, too much
    is, or a selected vulnerability affects no server of this team."""
    from plans.choices import PlanKind
    from plans.services.plans import plan_create, plan_scope_add, reference_parse
    from servers.models import Server, ServerPackage

    from .choices import SEVERITY_RANK
    from .models import Match

    vulnerabilities = list({v.pk: v for v in vulnerabilities}.values())
    if not vulnerabilities:
        raise ValidationError(_("Select at least one vulnerability to plan its fix."))
    if len(vulnerabilities) > MAX_SELECTION:
        raise ValidationError(
            _("Select at most %(n)d vulnerabilities for one plan.") % {"n": MAX_SELECTION}
        )
    vulnerabilities.sort(key=lambda v: (-v.known_exploited, -v.severity_rank, v.ident))
    matches = list(
        Match.objects.filter(
            team_id=team.pk, vulnerability__in=vulnerabilities, resolved_at=None
        ).select_related("server")
    )
    hit = {m.vulnerability_id for m in matches}
    missing = [v.ident for v in vulnerabilities if v.pk not in hit]
    if missing:
        raise ValidationError(
            _("No server of this team is affected by %(ids)s.") % {"ids": ", ".join(missing)}
        )
    servers = sorted(
        {m.server_id: m.server for m in matches}.values(),
        key=lambda s: (_ENV_ORDER.get(s.environment, 2), s.hostname),
    )
    sources = {m.package for m in matches}
    source_fixed = _fix_targets(
        (m.package, m.server.effective_release, m.fixed_version, m.server.package_family or "deb")
        for m in matches
    )
    # The binaries built from those sources on the affected servers are what a
    # listing shows after patching; each gets its source's fixed version.
    binaries = (
        ServerPackage.objects.filter(server_id__in=[s.pk for s in servers])
        .filter(Q(source_name__in=sources) | Q(source_name="", name__in=sources))
        .values_list("name", "source_name")
        .distinct()
    )
    targets: dict[str, str] = {}
    for name, source_name in sorted(binaries):
        fixed = source_fixed.get(source_name or name)
        if fixed:
            targets[name] = fixed
    packages = sorted({name for name, _source in binaries})

    refs = []
    for text in [v.ident for v in vulnerabilities] + [
        a for v in vulnerabilities for a in v.advisories
    ]:
        try:
            ref = reference_parse(text)
        except ValidationError:
            continue  # an advisory id PatchPlan has no link pattern for (ALSA-...)
        if ref not in refs:
            refs.append(ref)
    worst = max(vulnerabilities, key=lambda v: SEVERITY_RANK.get(v.severity, 0))
    idents = [v.ident for v in vulnerabilities]
    named = ", ".join(idents[:3]) + (f" +{len(idents) - 3}" if len(idents) > 3 else "")
    if len(vulnerabilities) == 1:
        objective = vulnerabilities[0].description or vulnerabilities[0].ident
    else:
        objective = "\n".join(
            f"- {v.ident}: {(v.description or v.ident).splitlines()[0][:300]}"
            for v in vulnerabilities
        )
    order = ", ".join(f"{s.hostname} ({s.environment})" for s in servers)
    fixes = ", ".join(f"{name} >= {version}" for name, version in targets.items())
    plan = plan_create(
        team=team,
        title=(_("Fix %(id)s (%(pkgs)s)") % {"id": named, "pkgs": ", ".join(sorted(sources))})[
            :150
        ],
        owner=by,
        by=by,
        references=refs,
        kind=PlanKind.SECURITY_PATCH,
        risk=_RISK_FOR_SEVERITY.get(worst.severity, "medium"),
        objective=objective[:5000],
        success_criteria=(
            _("Every server in scope runs %(fixes)s.") % {"fixes": fixes}
            if fixes
            else _("No fixed version is published yet: mitigate and re-check.")
        ),
        test_procedure=_("Suggested order, staging first: %(order)s.") % {"order": order},
        packages=packages,
        package_targets=targets,
    )
    plan_scope_add(plan=plan, servers=Server.objects.filter(pk__in=[s.pk for s in servers]), by=by)
    return plan


# --- alerts ---------------------------------------------------------------------

ALERT_HOSTS = 10


def exposure_alerts(
    *, team_ids: Iterable[int] | None = None, vulnerability_ids: Iterable[int] | None = None
) -> int:
    """Tell each team's planners, once per vulnerability, when a critical or
    known-exploited one affects its production servers (the outbox's unique key
    makes a repeat a no-op). Returns the rows written."""
    from django.urls import reverse

    from patchplan.notifications.models import Kind
    from patchplan.notifications.services import notify
    from patchplan.teams.models import Membership
    from patchplan.teams.roles import Role
    from servers.choices import Environment

    from .choices import Severity
    from .models import Match

    matches = Match.objects.filter(
        resolved_at=None, server__environment=Environment.PRODUCTION
    ).filter(Q(vulnerability__severity=Severity.CRITICAL) | Q(vulnerability__known_exploited=True))
    if team_ids is not None:
        matches = matches.filter(team_id__in=list(team_ids))
    if vulnerability_ids is not None:
        matches = matches.filter(vulnerability_id__in=list(vulnerability_ids))
    exposures: dict[tuple[int, int], list[str]] = {}
    facts: dict[int, Vulnerability] = {}
    for team_id, hostname, vuln in (
        (m.team_id, m.server.hostname, m.vulnerability)
        for m in matches.select_related("server", "vulnerability").only(
            "team_id",
            "server__hostname",
            "vulnerability__ident",
            "vulnerability__severity",
            "vulnerability__known_exploited",
            "vulnerability__description",
        )
    ):
        hosts = exposures.setdefault((team_id, vuln.pk), [])
        if hostname not in hosts:
            hosts.append(hostname)
        facts[vuln.pk] = vuln
    if not exposures:
        return 0
    planners: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for team_id, user_id, role, team_name in Membership.objects.filter(
        team_id__in={t for t, _v in exposures}, role__in=[Role.PLANNER, Role.ADMIN]
    ).values_list("team_id", "user_id", "role", "team__name"):
        names[team_id] = team_name
        if role == Role.PLANNER:
            planners.setdefault(team_id, []).append(user_id)
    # A team without planners: its admins hear of it instead.
    for team_id, user_id in Membership.objects.filter(
        team_id__in=set(names) - set(planners), role=Role.ADMIN
    ).values_list("team_id", "user_id"):
        planners.setdefault(team_id, []).append(user_id)
    written = 0
    for (team_id, vuln_id), hosts in sorted(exposures.items()):
        vuln = facts[vuln_id]
        hosts.sort()
        written += notify(
            recipients=planners.get(team_id, []),
            kind=Kind.ADVISORY,
            team_id=team_id,
            object_type="vulnerability",
            object_id=vuln_id,
            occurrence="exposed",
            context={
                "title": f"{vuln.ident} affects production servers",
                "path": reverse("vulnerability_detail", args=[vuln.ident]),
                "ident": vuln.ident,
                "severity": vuln.severity,
                "known_exploited": vuln.known_exploited,
                "summary": vuln.description[:500],
                "team": names.get(team_id, ""),
                "hosts": hosts[:ALERT_HOSTS],
                "count": len(hosts),
            },
        )
    return written

"""Reads for advisories. Advisory data is global; everything about servers
is per team and goes through the access selectors (the views pass a team the
user was checked against, or a server fetched with server_get_for_user)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.core.cache import cache
from django.db.models import Avg, Count, Exists, F, Min, OuterRef, Q, QuerySet, Value
from django.db.models.functions import TruncDate
from django.http import Http404
from django.utils import timezone

from patchplan.teams.models import Team
from plans.choices import PlanStatus, ReferenceKind
from plans.models import Plan, PlanReference
from servers.choices import Criticality, Environment
from servers.models import Server, ServerPackage

from .choices import SEVERITY_RANK, MatchStatus, Severity
from .models import (
    DEFAULT_TARGET_DAYS,
    AffectedPackage,
    FleetMatchRun,
    Match,
    RemediationPolicy,
    SourceState,
    Vulnerability,
)

_INACTIVE_PLANS = (PlanStatus.CANCELLED, PlanStatus.ROLLED_BACK)


@dataclass(frozen=True)
class VulnerabilityFilters:
    severity: str = ""
    environment: str = ""
    package: str = ""
    fix: str = ""  # "available", "none" or ""
    planned: str = ""  # "yes", "no" or ""

    @classmethod
    def from_query(cls, params) -> VulnerabilityFilters:
        def pick(name, allowed):
            value = params.get(name, "")
            return value if value in allowed else ""

        return cls(
            severity=pick("severity", Severity.values),
            environment=pick("environment", Environment.values),
            package=params.get("package", "").strip()[:100],
            fix=pick("fix", ("available", "none")),
            planned=pick("planned", ("yes", "no")),
        )

    @property
    def active(self) -> bool:
        return any((self.severity, self.environment, self.package, self.fix, self.planned))


def _planned(team_id: int, ident_ref) -> Exists:
    return Exists(
        PlanReference.objects.filter(
            plan__team_id=team_id,
            plan__is_template=False,
            kind=ReferenceKind.CVE,
            identifier=ident_ref,
        ).exclude(plan__status__in=_INACTIVE_PLANS)
    )


def team_vulnerabilities(*, team: Team, filters: VulnerabilityFilters | None = None):
    """The team's open vulnerabilities, one row each, ranked: known exploited,
    then severity, then exposure (production servers, critical servers, all).
    One query; rows are dicts with the vulnerability's fields and the counts."""
    filters = filters or VulnerabilityFilters()
    matches = Match.objects.filter(team_id=team.pk, resolved_at=None)
    if filters.environment:
        matches = matches.filter(server__environment=filters.environment)
    if filters.package:
        matches = matches.filter(package__icontains=filters.package)
    if filters.fix == "available":
        matches = matches.filter(status=MatchStatus.FIX_AVAILABLE)
    elif filters.fix == "none":
        matches = matches.filter(status=MatchStatus.NO_FIX)
    if filters.severity:
        matches = matches.filter(vulnerability__severity=filters.severity)
    rows = (
        matches.values(
            "vulnerability_id",
            ident=F("vulnerability__ident"),
            severity=F("vulnerability__severity"),
            severity_rank=F("vulnerability__severity_rank"),
            known_exploited=F("vulnerability__known_exploited"),
            cvss_score=F("vulnerability__cvss_score"),
        )
        .annotate(
            servers=Count("server_id", distinct=True),
            production=Count(
                "server_id", distinct=True, filter=Q(server__environment=Environment.PRODUCTION)
            ),
            critical_servers=Count(
                "server_id", distinct=True, filter=Q(server__criticality=Criticality.CRITICAL)
            ),
            fixable=Count("server_id", distinct=True, filter=Q(status=MatchStatus.FIX_AVAILABLE)),
            packages=Count("package", distinct=True),
            first_package=Min("package"),
            first_seen=Min("first_seen_at"),
            planned=_planned(team.pk, OuterRef("vulnerability__ident")),
        )
        .order_by(
            "-known_exploited",
            "-severity_rank",
            "-production",
            "-critical_servers",
            "-servers",
            "ident",
        )
    )
    if filters.planned == "yes":
        rows = rows.filter(planned=True)
    elif filters.planned == "no":
        rows = rows.filter(planned=False)
    return rows


def vulnerability_get(*, ident: str) -> Vulnerability:
    vuln = Vulnerability.objects.filter(ident=ident.upper() if ident.startswith("cve-") else ident)
    found = vuln.first()
    if found is None:
        raise Http404("No such vulnerability.")
    return found


def vulnerabilities_by_ident(*, idents: list[str]) -> list[Vulnerability]:
    """The vulnerabilities named (global data; whether they affect a team is the
    caller's question), unknown names left out."""
    return list(Vulnerability.objects.filter(ident__in=idents[:1000]))


def vulnerability_team_matches(*, team: Team, vulnerability: Vulnerability) -> QuerySet[Match]:
    """The team's open matches of one vulnerability, production and critical first."""
    return (
        Match.objects.filter(team_id=team.pk, vulnerability=vulnerability, resolved_at=None)
        .select_related("server")
        .order_by(
            F("server__environment").asc(),
            "-server__criticality",
            "server__hostname",
            "package",
        )
    )


def vulnerability_resolved_count(*, team: Team, vulnerability: Vulnerability) -> int:
    return Match.objects.filter(
        team_id=team.pk, vulnerability=vulnerability, resolved_at__isnull=False
    ).count()


def plans_covering(*, team: Team, ident: str) -> QuerySet[Plan]:
    """The team's plans that name this CVE in their references."""
    return (
        Plan.objects.filter(
            team_id=team.pk,
            is_template=False,
            references__kind=ReferenceKind.CVE,
            references__identifier=ident,
        )
        .only("pk", "title", "status")
        .distinct()
        .order_by("-created_at")
    )


def vulnerability_releases(*, vulnerability: Vulnerability) -> QuerySet[AffectedPackage]:
    return (
        AffectedPackage.objects.filter(vulnerability=vulnerability)
        .order_by("release", "package", "record__source")
        .select_related("record")
    )


def server_open_matches(*, server: Server) -> QuerySet[Match]:
    """A server's open vulnerabilities (server already checked), ranked like the list."""
    return (
        Match.objects.filter(server_id=server.pk, resolved_at=None)
        .select_related("vulnerability")
        .order_by(
            "-vulnerability__known_exploited",
            "-vulnerability__severity_rank",
            "vulnerability__ident",
            "package",
        )
    )


def server_source_coverage(*, server: Server) -> tuple[int, int]:
    """(packages matched to a source, packages): by the listing's source column,
    or by a binary name that is a source package the advisories know for its release."""
    release = server.effective_release
    packages = ServerPackage.objects.filter(server_id=server.pk)
    known = AffectedPackage.objects.filter(release=release, package=OuterRef("name"))
    counts = packages.aggregate(
        total=Count("pk"),
        matched=Count("pk", filter=~Q(source_name="") | Q(Exists(known))),
    )
    return counts["matched"], counts["total"]


def source_states() -> list[SourceState]:
    return list(SourceState.objects.order_by("source"))


def progress_key(run_id: int) -> str:
    return f"pp:advisories:fleet-run:{run_id}"


def latest_fleet_run() -> FleetMatchRun | None:
    """The last fleet rematch, with its progress while it runs (from the cache)."""
    run = FleetMatchRun.objects.first()
    if run is not None and run.finished_at is None:
        done, total = cache.get(progress_key(run.pk), (run.releases_done, run.releases_total))
        run.releases_done, run.releases_total = done, total
    return run


# --- remediation ----------------------------------------------------------------


def remediation_targets(*, team: Team) -> dict[str, int]:
    policy = RemediationPolicy.objects.filter(team_id=team.pk).first()
    if policy is None:
        return dict(DEFAULT_TARGET_DAYS)
    return {s: getattr(policy, f"{s}_days") for s in DEFAULT_TARGET_DAYS}


@dataclass(frozen=True)
class SeverityPosture:
    severity: str
    label: str
    target_days: int
    open: int
    past_target: int
    mttr_days: float | None


def remediation_posture(*, team: Team, now=None) -> list[SeverityPosture]:
    """Per severity: open vulnerable (server, CVE) pairs, those open longer than the
    team's target, and the mean time to remediate of resolved ones. Two queries
    (the targets, one aggregate)."""
    now = now or timezone.now()
    targets = remediation_targets(team=team)
    severities = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW)
    past = {
        f"past_{s.value}": Count(
            "pk",
            filter=Q(
                resolved_at=None,
                vulnerability__severity_rank=SEVERITY_RANK[s],
                first_seen_at__lt=now - timedelta(days=targets[s.value]),
            ),
        )
        for s in severities
    }
    rows = {
        r["vulnerability__severity_rank"]: r
        for r in Match.objects.filter(team_id=team.pk)
        .values("vulnerability__severity_rank")
        .annotate(
            open=Count("pk", filter=Q(resolved_at=None)),
            mean=Avg(F("resolved_at") - F("first_seen_at"), filter=Q(resolved_at__isnull=False)),
            **past,
        )
    }
    out = []
    for severity in severities:
        row = rows.get(SEVERITY_RANK[severity], {})
        mean = row.get("mean")
        out.append(
            SeverityPosture(
                severity=severity.value,
                label=str(severity.label),
                target_days=targets[severity.value],
                open=row.get("open", 0),
                past_target=row.get(f"past_{severity.value}", 0),
                mttr_days=round(mean.total_seconds() / 86400, 1) if mean is not None else None,
            )
        )
    return out


def remediation_trend(*, team: Team, weeks: int = 12, now=None) -> list[tuple[date, int]]:
    """Open vulnerable (server, CVE) pairs at the end of each of the last ``weeks``
    weeks, from per-day counts of opened and resolved matches: one query."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    opened = (
        Match.objects.filter(team_id=team.pk)
        .annotate(day=TruncDate("first_seen_at"), sign=Value(1))
        .values("day", "sign")
        .annotate(n=Count("pk"))
        .values_list("day", "sign", "n")
    )
    resolved = (
        Match.objects.filter(team_id=team.pk, resolved_at__isnull=False)
        .annotate(day=TruncDate("resolved_at"), sign=Value(-1))
        .values("day", "sign")
        .annotate(n=Count("pk"))
        .values_list("day", "sign", "n")
    )
    changes = list(opened.union(resolved, all=True))
    points = []
    for back in range(weeks - 1, -1, -1):
        end = today - timedelta(days=7 * back)
        points.append((end, sum(sign * n for day, sign, n in changes if day <= end)))
    return points

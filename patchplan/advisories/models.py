"""Advisory data (global: every team reads the same feeds) and its matches
against each team's servers (per team, read through the access selectors)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from patchplan.teams.models import Team
from servers.models import Server

from .choices import SEVERITY_RANK, FixStatus, MatchStatus, Severity, Source


class Vulnerability(models.Model):
    """One vulnerability, named by its CVE id when it has one (else the feed's id).

    Severity and the known-exploited flag are derived from the records of all
    sources (``services.feeds._refresh_vulnerabilities``), never edited."""

    ident = models.CharField(_("identifier"), max_length=64, unique=True)
    description = models.TextField(_("description"), blank=True)
    severity = models.CharField(
        _("severity"), max_length=10, choices=Severity.choices, default=Severity.UNKNOWN
    )
    severity_rank = models.PositiveSmallIntegerField(default=0)
    cvss_score = models.DecimalField(max_digits=3, decimal_places=1, null=True, blank=True)
    known_exploited = models.BooleanField(_("known exploited"), default=False)
    kev_date_added = models.DateField(null=True, blank=True)
    kev_ransomware = models.BooleanField(default=False)
    # Advisory ids that answer it (DSA-5800-1, USN-7000-1, ALSA-2024:1234).
    advisories = models.JSONField(default=list, blank=True)
    first_seen_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-known_exploited", "-severity_rank", "ident"]
        verbose_name_plural = _("vulnerabilities")

    def __str__(self) -> str:
        return self.ident

    @property
    def severity_label(self) -> str:
        return Severity(self.severity).label


class AdvisoryRecord(models.Model):
    """One unit of a feed as published: a (source package, CVE) entry of the
    Debian tracker, an OSV record, a KEV entry. ``content_hash`` makes a
    re-import incremental: an unchanged record is not written again."""

    source = models.CharField(max_length=10, choices=Source.choices)
    key = models.CharField(max_length=300)
    content_hash = models.CharField(max_length=40)
    vulnerabilities = models.ManyToManyField(Vulnerability, related_name="records")
    summary = models.TextField(blank=True)
    severity_rank = models.PositiveSmallIntegerField(default=0)
    cvss_score = models.DecimalField(max_digits=3, decimal_places=1, null=True, blank=True)
    # Source-specific facts: KEV's dateAdded / ransomware use, advisory ids.
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "key"], name="advisoryrecord_unique_key")
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.key}"


class AffectedPackage(models.Model):
    """What one record says about one package in one release, as one interval of
    versions (``feeds.Affected``): FIXED is [introduced, fixed_version), OPEN is
    [introduced, last_affected] (no upper bound when empty), UNDETERMINED is every
    version, NOT_AFFECTED none. A record can have several rows per package and
    release (OSV ranges with gaps, listed versions)."""

    record = models.ForeignKey(AdvisoryRecord, on_delete=models.CASCADE, related_name="packages")
    vulnerability = models.ForeignKey(
        Vulnerability, on_delete=models.CASCADE, related_name="affected"
    )
    release = models.CharField(max_length=40)
    # The source package for Debian/Ubuntu, the package name for RPM.
    package = models.CharField(max_length=200)
    status = models.CharField(max_length=14, choices=FixStatus.choices)
    fixed_version = models.CharField(max_length=200, blank=True)
    urgency = models.CharField(max_length=30, blank=True)
    # Empty: from the first version (the Debian tracker's only case, OSV's "0").
    introduced = models.CharField(max_length=200, blank=True, default="")
    last_affected = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["release", "package"], name="affected_release_package")]

    def __str__(self) -> str:
        return f"{self.vulnerability_id} {self.release}/{self.package} {self.status}"


class SourceState(models.Model):
    """The last refresh of one feed: when, what it changed, and the error if it
    failed (a failed refresh leaves the previous data in place)."""

    source = models.CharField(max_length=10, choices=Source.choices, unique=True)
    location = models.CharField(max_length=500, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    records = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0)

    def __str__(self) -> str:
        return self.source


class FleetMatchRun(models.Model):
    """One background rematch of the whole fleet after a refresh (progress shown)."""

    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    releases_total = models.PositiveIntegerField(default=0)
    releases_done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return f"fleet match {self.started_at:%Y-%m-%d %H:%M}"


class Match(models.Model):
    """A vulnerable package on a server: installed below the release's fixed
    version (or no fix yet). Recomputed per server on each import and for the
    fleet after a refresh; a match that no longer holds gets ``resolved_at``
    (kept, for the time to remediate)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="+")
    vulnerability = models.ForeignKey(Vulnerability, on_delete=models.CASCADE, related_name="+")
    package = models.CharField(max_length=200)
    installed_version = models.CharField(max_length=200)
    fixed_version = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=14, choices=MatchStatus.choices)
    first_seen_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["server", "vulnerability", "package"], name="match_unique"
            )
        ]
        indexes = [
            models.Index(fields=["team", "resolved_at"], name="match_team_open"),
            models.Index(fields=["vulnerability", "team"], name="match_vulnerability"),
        ]

    def __str__(self) -> str:
        return f"{self.server_id} {self.vulnerability_id} {self.package}"


class RemediationPolicy(models.Model):
    """A team's remediation targets: days to fix an open CVE, per severity."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="+")
    critical_days = models.PositiveSmallIntegerField(_("critical (days)"), default=7)
    high_days = models.PositiveSmallIntegerField(_("high (days)"), default=30)
    medium_days = models.PositiveSmallIntegerField(_("medium (days)"), default=90)
    low_days = models.PositiveSmallIntegerField(_("low (days)"), default=180)

    def __str__(self) -> str:
        return f"remediation targets of team {self.team_id}"

    def days_for(self, severity: str) -> int | None:
        return getattr(self, f"{severity}_days", None)


DEFAULT_TARGET_DAYS = {"critical": 7, "high": 30, "medium": 90, "low": 180}
__all__ = [
    "SEVERITY_RANK",
    "AdvisoryRecord",
    "AffectedPackage",
    "FleetMatchRun",
    "Match",
    "RemediationPolicy",
    "SourceState",
    "Vulnerability",
]

from django.db import models
from django.utils.translation import gettext_lazy as _


class Source(models.TextChoices):
    DEBIAN = "debian", _("Debian Security Tracker")
    OSV = "osv", _("OSV")
    KEV = "kev", _("CISA Known Exploited Vulnerabilities")


class Severity(models.TextChoices):
    CRITICAL = "critical", _("Critical")
    HIGH = "high", _("High")
    MEDIUM = "medium", _("Medium")
    LOW = "low", _("Low")
    UNKNOWN = "unknown", _("Unknown")


# Higher ranks first in every list.
SEVERITY_RANK = {
    Severity.CRITICAL: 4,
    Severity.HIGH: 3,
    Severity.MEDIUM: 2,
    Severity.LOW: 1,
    Severity.UNKNOWN: 0,
}
RANK_SEVERITY = {rank: severity for severity, rank in SEVERITY_RANK.items()}


class FixStatus(models.TextChoices):
    """What an advisory says about one package in one release."""

    FIXED = "fixed", _("Fixed")
    OPEN = "open", _("Open (no fix yet)")
    UNDETERMINED = "undetermined", _("Undetermined")
    NOT_AFFECTED = "not_affected", _("Not affected")


class MatchStatus(models.TextChoices):
    """Whether a vulnerable server can be fixed now."""

    FIX_AVAILABLE = "fix_available", _("Fix available")
    NO_FIX = "no_fix", _("No fix yet")

from django.db import models
from django.utils.translation import gettext_lazy as _


class PlanKind(models.TextChoices):
    SECURITY_PATCH = "security_patch", _("Security patch")
    SOFTWARE_UPGRADE = "software_upgrade", _("Software upgrade")
    OS_UPGRADE = "os_upgrade", _("OS upgrade")
    ROUTINE_CYCLE = "routine_cycle", _("Routine cycle")


class PlanStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    IN_REVIEW = "in_review", _("In review")
    APPROVED = "approved", _("Approved")
    IN_PROGRESS = "in_progress", _("In progress")
    COMPLETED = "completed", _("Completed")
    # Review signed off, but not every server in scope was verified.
    COMPLETED_EXC = "completed_exc", _("Completed with exceptions")
    CANCELLED = "cancelled", _("Cancelled")
    ROLLED_BACK = "rolled_back", _("Rolled back")


class Risk(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


class TaskStatus(models.TextChoices):
    TODO = "todo", _("To do")
    IN_PROGRESS = "in_progress", _("In progress")
    DONE = "done", _("Done")
    BLOCKED = "blocked", _("Blocked")


class Raci(models.TextChoices):
    RESPONSIBLE = "responsible", _("Responsible")
    ACCOUNTABLE = "accountable", _("Accountable")
    CONSULTED = "consulted", _("Consulted")
    INFORMED = "informed", _("Informed")


class ReferenceKind(models.TextChoices):
    CVE = "cve", _("CVE")
    ADVISORY = "advisory", _("Advisory")
    LINK = "link", _("Link")


class ExecutionStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    IN_PROGRESS = "in_progress", _("In progress")
    PATCHED = "patched", _("Patched")
    VERIFIED = "verified", _("Verified")
    FAILED = "failed", _("Failed")
    ROLLED_BACK = "rolled_back", _("Rolled back")


FINAL_EXECUTION_STATUSES = (
    ExecutionStatus.VERIFIED,
    ExecutionStatus.FAILED,
    ExecutionStatus.ROLLED_BACK,
)


class TestResult(models.TextChoices):
    PASS = "pass", _("Pass")
    FAIL = "fail", _("Fail")


class LogKind(models.TextChoices):
    ISSUE = "issue", _("Issue encountered")
    ACTION = "action", _("Action taken")
    RESOLUTION = "resolution", _("Resolution")
    NOTE = "note", _("Note")
    # Written by run mode for every server status change (who, server, from -> to, why).
    STATUS = "status", _("Status change")
    # Written by run mode for its other changes: the window started (early) or ended,
    # its times corrected, an emergency change, a listing uploaded, downtime recorded.
    RUN = "run", _("Run mode")


# The kinds run mode writes: records, never typed or edited by hand.
RECORDED_LOG_KINDS = frozenset({LogKind.STATUS, LogKind.RUN})


class SignOffDecision(models.TextChoices):
    APPROVE = "approve", _("Approve")
    REJECT = "reject", _("Reject")


class SignOffStage(models.TextChoices):
    """A milestone is approved twice when its checks ask for it: the go (entry: its
    work may start) and the sign-off as done (exit)."""

    ENTRY = "entry", _("Go")
    EXIT = "exit", _("Done")


COMPLETED_STATUSES = (PlanStatus.COMPLETED, PlanStatus.COMPLETED_EXC)

# Failed and rolled back need a written reason in run mode.
REASON_REQUIRED_STATUSES = (ExecutionStatus.FAILED, ExecutionStatus.ROLLED_BACK)

DEFAULT_MILESTONES = ("assessment", "testing", "deployment", "review")

"""Running a plan: evidence (backups, test runs), per-server execution in a
window, the execution log, sign-offs and the audit trail. Records that
document what happened are append-only: corrections add rows."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from servers.choices import Environment
from servers.models import Server

from ..choices import ExecutionStatus, LogKind, SignOffDecision, SignOffStage, TestResult
from .plan import MaintenanceWindow, Milestone, Plan


class BackupRecord(models.Model):
    """Proof that a server in scope was backed up before deployment."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="backups")
    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="backups")
    what = models.CharField(_("what was backed up"), max_length=300)
    location = models.CharField(_("where it is stored"), max_length=300)
    command = models.TextField(_("command or tool"), blank=True)
    restore_tested = models.BooleanField(_("restore tested"), default=False)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("verified by"),
    )
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["plan", "server"])]

    def __str__(self) -> str:
        return f"Backup of {self.server} for {self.plan}"


class TestRun(models.Model):
    """One run of the plan's test procedure; the latest per environment counts."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="test_runs")
    environment = models.CharField(
        _("environment"), max_length=16, choices=Environment.choices, default=Environment.STAGING
    )
    servers = models.ManyToManyField(Server, blank=True, related_name="test_runs")
    procedure = models.TextField(_("procedure followed"), blank=True)
    result = models.CharField(_("result"), max_length=8, choices=TestResult.choices)
    notes = models.TextField(_("notes"), blank=True)
    run_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    run_at = models.DateTimeField(_("run at"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-run_at", "-pk"]
        indexes = [models.Index(fields=["plan", "environment", "-run_at"])]

    def __str__(self) -> str:
        return f"{self.get_result_display()} on {self.environment} for {self.plan}"


class ChangeApproval(models.Model):
    """The change's approval by the CAB (or whoever approves changes in the team's ITSM
    tool): evidence like a backup record, append-only (a correction is a new record).
    The `cab_approval` check wants one approved after the plan's last scope change."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="change_approvals")
    change_id = models.CharField(_("change request"), max_length=100)
    url = models.URLField(_("link to the change"), max_length=500, blank=True)
    approved_by = models.CharField(_("approved by"), max_length=200)
    approved_at = models.DateTimeField(_("approved at"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-approved_at", "-pk"]
        indexes = [models.Index(fields=["plan", "-approved_at"])]

    def __str__(self) -> str:
        return f"{self.change_id} approved by {self.approved_by}"

    @property
    def link(self) -> str:
        """The link, only when it is http(s): a stored value that bypassed the service's
        check (an import, the admin, `update()`) never becomes a javascript: href."""
        return self.url if self.url.lower().startswith(("https://", "http://")) else ""


class ServerExecution(models.Model):
    """A server's progress through a maintenance window."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="executions")
    window = models.ForeignKey(
        MaintenanceWindow, on_delete=models.CASCADE, related_name="executions"
    )
    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="executions")
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=ExecutionStatus.choices,
        default=ExecutionStatus.PENDING,
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    downtime_minutes = models.PositiveIntegerField(
        _("actual downtime (minutes)"), null=True, blank=True
    )
    # Why a server counts as verified although the packages the plan is
    # about do not all show their new versions.
    verification_note = models.TextField(_("why verified without new versions"), blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["server__hostname"]
        constraints = [
            models.UniqueConstraint(fields=["window", "server"], name="execution_unique"),
            models.CheckConstraint(
                condition=Q(started_at__isnull=True)
                | Q(finished_at__isnull=True)
                | Q(finished_at__gte=F("started_at")),
                name="execution_finish_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.server} in {self.window}: {self.get_status_display()}"


class ExecutionEvent(models.Model):
    """One status change of a server in a window: who, when, from, to."""

    execution = models.ForeignKey(ServerExecution, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=16, choices=ExecutionStatus.choices)
    to_status = models.CharField(max_length=16, choices=ExecutionStatus.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # The time of the insert; set explicitly only by demo data (rows never change after).
    at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.execution.server}: {self.from_status} -> {self.to_status}"


class LogEntry(models.Model):
    """An execution log entry. Edits keep history (LogEntryRevision)."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="log_entries")
    window = models.ForeignKey(
        MaintenanceWindow,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="log_entries",
    )
    server = models.ForeignKey(
        Server, on_delete=models.SET_NULL, null=True, blank=True, related_name="log_entries"
    )
    kind = models.CharField(_("kind"), max_length=12, choices=LogKind.choices, default=LogKind.NOTE)
    body = models.TextField(_("entry"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["plan", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.body[:40]}"


class LogEntryRevision(models.Model):
    """The text a log entry had before an edit."""

    entry = models.ForeignKey(LogEntry, on_delete=models.CASCADE, related_name="revisions")
    body = models.TextField()
    kind = models.CharField(max_length=12, choices=LogKind.choices)
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    edited_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["edited_at", "pk"]

    def __str__(self) -> str:
        return f"Revision of {self.entry_id} at {self.edited_at}"


class SignOff(models.Model):
    """An approval or rejection of a milestone: append-only.

    `round` is the milestone's sign-off round when it was given: rejecting a
    milestone reopens it in a new round. One person signs once per round (a
    database constraint, so two clicks at once cannot make two)."""

    # PROTECT: a milestone with sign-offs is retired, never deleted with them.
    milestone = models.ForeignKey(Milestone, on_delete=models.PROTECT, related_name="signoffs")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="signoffs"
    )
    round = models.PositiveIntegerField(default=1)
    # The go (entry: the milestone's work may start) or done (exit).
    stage = models.CharField(
        _("stage"), max_length=8, choices=SignOffStage.choices, default=SignOffStage.EXIT
    )
    decision = models.CharField(_("decision"), max_length=8, choices=SignOffDecision.choices)
    comment = models.TextField(_("comment"), blank=True)
    # Failing readiness checks the approver overrode, and why.
    overridden_checks = models.JSONField(default=list, blank=True)
    override_reason = models.TextField(_("override reason"), blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["milestone", "user", "round", "stage"],
                name="signoff_once_per_person_per_round",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.decision} {self.milestone}"


class AuditEvent(models.Model):
    """One change to a plan or one of its parts, or to the team's settings, servers and
    members (`team` set, no plan): field, old and new value, who, when."""

    plan = models.ForeignKey(
        Plan, on_delete=models.CASCADE, related_name="audit_events", null=True, blank=True
    )
    team = models.ForeignKey(
        "teams.Team", on_delete=models.CASCADE, related_name="+", null=True, blank=True
    )
    object_type = models.CharField(max_length=50)
    object_id = models.PositiveBigIntegerField(null=True)
    object_repr = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=20)  # created, changed, deleted, ...
    field = models.CharField(max_length=100, blank=True)
    old_value = models.TextField(blank=True)
    new_value = models.TextField(blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["plan", "-at"]), models.Index(fields=["team", "-at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(plan__isnull=False) | Q(team__isnull=False),
                name="auditevent_plan_or_team",
            )
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type} {self.field}"


class GateOverride(models.Model):
    """An approver's emergency change: work in `window` may start although the entry
    checks of its milestone fail (`failed_checks`, as they were), for `reason`.
    Append-only; shown on the report."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="gate_overrides")
    window = models.ForeignKey(
        MaintenanceWindow, on_delete=models.CASCADE, related_name="gate_overrides"
    )
    milestone = models.ForeignKey(
        Milestone, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.TextField(_("reason for the emergency change"))
    failed_checks = models.JSONField(default=list, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"Emergency change on {self.window} by {self.by}"


class FollowUp(models.Model):
    """What happens to a server a plan did not verify (failed or rolled back): a
    follow-up plan, or a risk accepted with a reason and by whom. Append-only."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="follow_ups")
    server = models.ForeignKey(Server, on_delete=models.PROTECT, related_name="+")
    follow_up_plan = models.ForeignKey(
        Plan, on_delete=models.PROTECT, null=True, blank=True, related_name="follows_up"
    )
    reason = models.TextField(_("why the risk is accepted"), blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"Follow-up of {self.server} in {self.plan}"


class HistoryPurge(models.Model):
    """A row here, inserted and removed inside one transaction and never committed,
    lets that transaction delete append-only rows: deleting a whole draft plan, or
    the test database flush on SQLite. See plans/history_guard.py."""

    at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"History purge at {self.at}"

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.translation import gettext_lazy as _

from patchplan.teams.models import Team
from servers.models import Server

from ..choices import PlanKind, PlanStatus, Raci, ReferenceKind, Risk, TaskStatus


class Plan(models.Model):
    """A patching or upgrade campaign: objectives, scope, timeline and work.

    A plan with `is_template` set is a template: it is never run, only copied
    into new plans (dates shifted); `review_by` says when it needs a look."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="plans")
    title = models.CharField(_("title"), max_length=200)
    kind = models.CharField(
        _("kind"), max_length=20, choices=PlanKind.choices, default=PlanKind.SECURITY_PATCH
    )
    status = models.CharField(
        _("status"), max_length=16, choices=PlanStatus.choices, default=PlanStatus.DRAFT
    )
    risk = models.CharField(_("risk"), max_length=10, choices=Risk.choices, default=Risk.MEDIUM)
    objective = models.TextField(_("objective"), blank=True)
    success_criteria = models.TextField(_("success criteria"), blank=True)
    # Package names the plan is about (e.g. ["openssl", "libssl3"]): the plan
    # page shows their pending updates per server in scope.
    packages = models.JSONField(_("packages"), default=list, blank=True)
    # Package name -> minimum fixed version (from an advisory's "Plan the
    # fix"): run mode verifies a server when its listing shows each at or above.
    package_targets = models.JSONField(_("package targets"), default=dict, blank=True)
    backup_plan = models.TextField(_("backup plan"), blank=True)
    test_procedure = models.TextField(_("test procedure"), blank=True)
    rollback_plan = models.TextField(_("rollback plan"), blank=True)
    communication_plan = models.TextField(_("communication plan"), blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="owned_plans",
        verbose_name=_("owner"),
    )
    servers = models.ManyToManyField(Server, blank=True, related_name="plans")
    # When the scope last changed: a test run must be newer to count.
    scope_changed_at = models.DateTimeField(null=True, blank=True)
    is_template = models.BooleanField(_("template"), default=False)
    review_by = models.DateField(_("review by"), null=True, blank=True)
    created_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="copies"
    )
    lessons_learned = models.TextField(_("lessons learned"), blank=True)
    # Optimistic locking: every edit carries the version it started from.
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["team", "is_template", "status"]),
            models.Index(fields=["team", "-created_at"]),
        ]

    def __str__(self) -> str:
        return self.title


class PlanReference(models.Model):
    """A CVE id, an advisory id or a link the plan answers to."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="references")
    kind = models.CharField(_("kind"), max_length=10, choices=ReferenceKind.choices)
    identifier = models.CharField(_("identifier"), max_length=100, blank=True)
    url = models.URLField(_("link"), max_length=500, blank=True)

    class Meta:
        ordering = ["pk"]  # the order they were typed in

    def __str__(self) -> str:
        return self.identifier or self.url


class PlanStatusChange(models.Model):
    """One move of a plan's status: who, when, from and to."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=16, choices=PlanStatus.choices)
    to_status = models.CharField(max_length=16, choices=PlanStatus.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # The time of the insert; set explicitly only by demo data (rows never change after).
    at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.plan}: {self.from_status} -> {self.to_status}"


class Milestone(models.Model):
    """A phase of a plan's timeline (assessment, testing, deployment, review...)
    with the sign-offs it needs: `signoff_count` approvals from people holding
    one of `signoff_roles` (team roles) or named in `signoff_users`."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="milestones")
    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    starts_on = models.DateField(_("starts"), null=True, blank=True)
    due_on = models.DateField(_("due"), null=True, blank=True)
    signoff_roles = models.JSONField(_("sign-off roles"), default=list, blank=True)
    signoff_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+", verbose_name=_("sign-off people")
    )
    signoff_count = models.PositiveSmallIntegerField(_("approvals needed"), default=1)
    signed_off_at = models.DateTimeField(null=True, blank=True)
    # Rejecting a milestone reopens it in a new sign-off round.
    signoff_round = models.PositiveIntegerField(default=1)
    # The milestone's gate (plans.readiness): check codes from the catalogue that must
    # hold before its work may start (entry) and before it is signed off as done
    # (exit). None: the defaults of its phase (DEFAULT_GATES).
    entry_checks = models.JSONField(_("entry checks"), null=True, blank=True)
    exit_checks = models.JSONField(_("exit checks"), null=True, blank=True)
    # When its approvers gave the go (only milestones whose entry asks for one).
    go_given_at = models.DateTimeField(_("go given at"), null=True, blank=True)
    # A milestone with sign-offs is never deleted (they are history): it is retired.
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["plan", "position", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_on__isnull=True)
                | Q(due_on__isnull=True)
                | Q(due_on__gte=F("starts_on")),
                name="milestone_due_after_start",
            )
        ]

    def __str__(self) -> str:
        return self.name


class MaintenanceWindow(models.Model):
    """A period in which servers of the plan may be taken down and patched.

    `sequence` is the iCalendar SEQUENCE: raised on every change so calendars
    update the event instead of duplicating it. A cancelled window is kept
    (cancelled_at) so its cancellation can be sent and audited."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="windows")
    milestone = models.ForeignKey(
        Milestone, on_delete=models.SET_NULL, null=True, blank=True, related_name="windows"
    )
    title = models.CharField(_("title"), max_length=200, blank=True)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    servers = models.ManyToManyField(
        Server, blank=True, related_name="windows", through="WindowServer"
    )
    actual_starts_at = models.DateTimeField(_("actual start"), null=True, blank=True)
    actual_ends_at = models.DateTimeField(_("actual end"), null=True, blank=True)
    # Started more than 15 minutes before its planned start, after a confirmation.
    started_early = models.BooleanField(_("started early"), default=False)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    sequence = models.PositiveIntegerField(default=0)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["starts_at", "ends_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="window_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(actual_starts_at__isnull=True)
                | Q(actual_ends_at__isnull=True)
                | Q(actual_ends_at__gte=F("actual_starts_at")),
                name="window_actual_end_after_start",
            ),
        ]

    def __str__(self) -> str:
        if self.title:
            return self.title
        # In the zone of whoever reads it (the active one), named: never a bare UTC time
        # beside the local ones a page shows.
        local = timezone.localtime(self.starts_at)
        zone = timezone.get_current_timezone_name()
        return f"{self.plan}: {date_format(local, 'j M Y, H:i')} {zone}"


class WindowServer(models.Model):
    """A server in a window, with the downtime expected for it."""

    window = models.ForeignKey(MaintenanceWindow, on_delete=models.CASCADE)
    server = models.ForeignKey(Server, on_delete=models.CASCADE)
    expected_downtime_minutes = models.PositiveIntegerField(
        _("expected downtime (minutes)"), default=0
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["window", "server"], name="windowserver_unique")
        ]

    def __str__(self) -> str:
        return f"{self.server} in {self.window}"


class Task(models.Model):
    """A piece of work in a plan, assigned to a team member."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="tasks")
    milestone = models.ForeignKey(
        Milestone, on_delete=models.SET_NULL, null=True, blank=True, related_name="tasks"
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tasks",
        verbose_name=_("assignee"),
    )
    due_on = models.DateField(_("due"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=TaskStatus.choices, default=TaskStatus.TODO
    )
    position = models.PositiveIntegerField(default=0)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_on", "position", "pk"]
        indexes = [
            models.Index(fields=["assignee", "status", "due_on"]),
            models.Index(fields=["plan", "status"]),
        ]

    def __str__(self) -> str:
        return self.title


class ChecklistItem(models.Model):
    """One line of a task's checklist."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="checklist")
    text = models.CharField(_("text"), max_length=300)
    done = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.text


class PlanRole(models.Model):
    """A person's RACI role in a plan. Exactly one accountable person per plan."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="roles")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="plan_roles"
    )
    raci = models.CharField(_("role"), max_length=12, choices=Raci.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["plan", "user", "raci"], name="planrole_unique"),
            models.UniqueConstraint(
                fields=["plan"],
                condition=Q(raci=Raci.ACCOUNTABLE),
                name="planrole_one_accountable",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.raci} for {self.plan}"


class Comment(models.Model):
    """A comment on a plan; @mentions notify the people named."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    body = models.TextField(_("comment"))
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["plan", "created_at"])]

    def __str__(self) -> str:
        return f"Comment by {self.author} on {self.plan}"

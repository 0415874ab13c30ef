from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from patchplan.teams.models import Team
from servers.models import Server

from .choices import PlanKind, PlanStatus, Raci, Risk, TaskStatus


class Plan(models.Model):
    """A patching or upgrade campaign: objectives, scope, timeline and work."""

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
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="owned_plans",
        verbose_name=_("owner"),
    )
    servers = models.ManyToManyField(Server, blank=True, related_name="plans")
    # Optimistic locking: every edit carries the version it started from.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["team", "status"])]

    def __str__(self) -> str:
        return self.title


class Milestone(models.Model):
    """A phase of a plan's timeline (assessment, testing, deployment, review...)."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="milestones")
    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    starts_on = models.DateField(_("starts"), null=True, blank=True)
    due_on = models.DateField(_("due"), null=True, blank=True)

    class Meta:
        ordering = ["plan", "position"]
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
    """A period in which servers of the plan may be taken down and patched."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="windows")
    milestone = models.ForeignKey(
        Milestone, on_delete=models.SET_NULL, null=True, blank=True, related_name="windows"
    )
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    servers = models.ManyToManyField(Server, blank=True, related_name="windows")

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="window_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.plan}: {self.starts_at:%Y-%m-%d %H:%M}"


class Task(models.Model):
    """A piece of work in a plan, assigned to a team member."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="tasks")
    milestone = models.ForeignKey(
        Milestone, on_delete=models.SET_NULL, null=True, blank=True, related_name="tasks"
    )
    title = models.CharField(_("title"), max_length=200)
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

    class Meta:
        ordering = ["due_on", "pk"]
        indexes = [models.Index(fields=["assignee", "status", "due_on"])]

    def __str__(self) -> str:
        return self.title


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

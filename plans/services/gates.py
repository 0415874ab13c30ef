"""Gates at the moment of action: the work of a window (starting it, any server
status) waits until the plan is approved (no emergency change skips the review) and
the window's milestone may start (its entry checks pass, plans.readiness), unless an
approver recorded an emergency change for it.

Which milestone gates a window: its own; a window with no milestone that
touches production servers belongs to the plan's deployment milestone (production
work always needs the go); any other window without a milestone is not gated.

Starting a window more than EARLY_START_MARGIN before its planned start needs a
confirmation and is recorded as an early start."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from patchplan.teams.roles import Role
from patchplan.teams.selectors import role_in_team
from plans.audit import audit_event
from plans.models import GateOverride, MaintenanceWindow, Milestone
from plans.readiness import Check, check_plan_approved, failing, phase_of, plan_gates
from plans.services.log import run_log_entry
from servers.choices import Environment

EARLY_START_MARGIN = timedelta(minutes=15)
MAX_REASON = 5000
# Who may order an emergency change: the people who approve.
OVERRIDE_ROLES = frozenset({Role.ADMIN, Role.APPROVER})


def window_gate_milestone(window: MaintenanceWindow) -> Milestone | None:
    """The milestone whose entry checks gate the window's work (see the module doc)."""
    if window.milestone_id is not None:
        return Milestone.objects.get(pk=window.milestone_id)
    if not window.servers.filter(environment=Environment.PRODUCTION).exists():
        return None
    milestones = Milestone.objects.filter(plan_id=window.plan_id, retired_at=None).order_by(
        "position", "pk"
    )
    return next((m for m in milestones if phase_of(m) == "deployment"), None)


@dataclass(frozen=True)
class WindowGate:
    """May the window's work start, and if not, what is missing.

    `plan_failed`: the plan-wide checks (the plan approved), which no emergency
    change opens; `milestone_failed`: the gating milestone's failing entry checks,
    which an approver's emergency change (`overrides`) opens."""

    milestone: Milestone | None
    plan_failed: list[Check]
    milestone_failed: list[Check]
    overrides: list[GateOverride]

    @property
    def failed(self) -> list[Check]:
        """What still keeps the work from starting (empty: it may start)."""
        return self.plan_failed + ([] if self.overrides else self.milestone_failed)

    @property
    def blocked(self) -> bool:
        return bool(self.failed)

    @property
    def overridable(self) -> bool:
        """An emergency change would open the gate (only the milestone's checks fail)."""
        return not self.plan_failed and bool(self.milestone_failed) and not self.overrides


def window_gate(window: MaintenanceWindow) -> WindowGate:
    """The window's gate (see the module doc): 16 queries whatever the sizes."""
    milestone = window_gate_milestone(window)
    plan_failed = failing([check_plan_approved(window.plan)])
    milestone_failed = failing(plan_gates(window.plan)[milestone.pk].entry) if milestone else []
    overrides = list(
        GateOverride.objects.filter(window_id=window.pk).select_related("by").order_by("at", "pk")
    )
    return WindowGate(milestone, plan_failed, milestone_failed, overrides)


def window_require_may_start(window: MaintenanceWindow) -> WindowGate:
    """Refuse (ValidationError, code "gate") while the window's work may not start;
    else the gate, which says whether an emergency change opened it."""
    gate = window_gate(window)
    if gate.plan_failed:
        raise ValidationError(" ".join(c.reason for c in gate.plan_failed), code="gate")
    if gate.failed:
        raise ValidationError(
            _(
                "“%(m)s” may not start yet: %(checks)s. An approver can record an emergency "
                "change to start anyway."
            )
            % {
                "m": gate.milestone.name,
                "checks": "; ".join(f"{c.label} ({c.reason})" for c in gate.failed),
            },
            code="gate",
        )
    return gate


def window_is_early(window: MaintenanceWindow, now=None) -> bool:
    now = now or timezone.now()
    return now < window.starts_at - EARLY_START_MARGIN


@transaction.atomic
def window_override_gate(*, window: MaintenanceWindow, by, reason: str) -> GateOverride:
    """An approver's emergency change: the window's work may start although its
    milestone's entry checks fail. Recorded with the failing checks (audit, report).

    Event point for notifications: an emergency change was ordered here."""
    reason = (reason or "").strip()[:MAX_REASON]
    if role_in_team(user=by, team_id=window.plan.team_id) not in OVERRIDE_ROLES:
        raise PermissionDenied(_("Only an approver can order an emergency change."))
    if not reason:
        raise ValidationError({"reason": _("Write why this is an emergency change.")})
    if window.cancelled_at is not None:
        raise ValidationError(_("This window was cancelled."))
    gate = window_gate(window)
    if gate.plan_failed:
        # An emergency change skips the milestone's checks, never the plan's review.
        raise ValidationError(" ".join(c.reason for c in gate.plan_failed))
    if not gate.failed:
        raise ValidationError(_("Nothing to override: the window's work may start."))
    failed = gate.failed
    override = GateOverride.objects.create(
        plan_id=window.plan_id,
        window=window,
        milestone=gate.milestone,
        reason=reason,
        failed_checks=[{"code": c.code, "label": c.label, "reason": c.reason} for c in failed],
        by=by,
    )
    checks = "; ".join(f"“{c.label}” fails ({c.reason.rstrip('.')})" for c in failed)
    run_log_entry(
        window=window,
        body=_("Emergency change ordered: the work may start although %(checks)s. Reason: %(r)s")
        % {"checks": checks, "r": reason},
        by=by,
    )
    audit_event(
        plan=window.plan_id,
        obj=window,
        action="emergency",
        field="emergency change",
        new=reason,
        by=by,
    )
    return override

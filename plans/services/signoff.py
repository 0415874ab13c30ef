"""Milestone sign-off: the people or roles a milestone requires approve or reject it.

Sign-offs are append-only rows (database triggers, plans.history_guard), of two
stages (plans.readiness has the gate model):
- the go (entry): for a milestone whose entry checks ask for it (deployment by
  default); refused while its other entry checks fail. The required approvals
  in, the milestone's work may start.
- done (exit): refused while its exit checks fail. The required approvals in, it
  is signed off. Milestones are signed off in order.
A rejection reopens the milestone in a new round and tells the plan's owner.
Signing off the last milestone (the review) completes the plan: "completed" when
every server in scope was verified, "completed with exceptions" otherwise. The
only override of a gate is an approver's emergency change on a window
(plans.services.gates), never a sign-off.

Concurrency: the milestone row is locked for the whole sign-off, so approvals
are counted one at a time, and the unique (milestone, user, round) constraint
is what refuses a second sign-off by the same person: its IntegrityError
becomes a clear message, never a second row."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from patchplan.teams.roles import Action, role_allows
from patchplan.teams.selectors import role_in_team
from plans.audit import audit_event
from plans.choices import (
    COMPLETED_STATUSES,
    ExecutionStatus,
    PlanStatus,
    SignOffDecision,
    SignOffStage,
)
from plans.models import Milestone, Plan, PlanStatusChange, ServerExecution, SignOff
from plans.notify import events
from plans.readiness import failing, plan_gates

MAX_TEXT = 5000


def signoff_eligible(*, milestone: Milestone, user, role: str | None = None) -> bool:
    """Whether `user` is one of the people the milestone's sign-off requires: named
    in `signoff_users`, or holding one of `signoff_roles`; with neither set, anyone
    whose team role may sign off."""
    named = {u.pk for u in milestone.signoff_users.all()}
    if role is None:
        role = role_in_team(user=user, team_id=milestone.plan.team_id)
    if user.pk in named:
        return True
    if milestone.signoff_roles:
        return role in milestone.signoff_roles
    if named:
        return False
    return role is not None and role_allows(role, Action.SIGN_OFF)


def _approvals(milestone: Milestone, stage: str) -> int:
    return SignOff.objects.filter(
        milestone_id=milestone.pk,
        round=milestone.signoff_round,
        decision=SignOffDecision.APPROVE,
        stage=stage,
    ).count()


def plan_unverified_servers(plan: Plan) -> list:
    """Servers in scope whose latest execution (by window start) is not verified."""
    latest: dict[int, str] = {}
    for server_id, status in (
        ServerExecution.objects.filter(plan_id=plan.pk, window__cancelled_at=None)
        .order_by("window__starts_at", "pk")
        .values_list("server_id", "status")
    ):
        latest[server_id] = status
    return [
        s for s in plan.servers.order_by("hostname") if latest.get(s.pk) != ExecutionStatus.VERIFIED
    ]


def _complete_plan(plan: Plan, by) -> bool:
    """The review signed off: an in-progress plan is completed, "with exceptions"
    when a server in scope was not verified. The only way a plan completes.

    Recorded like any move (a PlanStatusChange and the status-changed event)."""
    unverified = plan_unverified_servers(plan)
    to_status = PlanStatus.COMPLETED_EXC if unverified else PlanStatus.COMPLETED
    now = timezone.now()
    rows = Plan.objects.filter(pk=plan.pk, status=PlanStatus.IN_PROGRESS).update(
        status=to_status, completed_at=now, updated_at=now, version=F("version") + 1
    )
    if not rows:
        return False
    note = _("The review was signed off.")
    if unverified:
        note += " " + _("Not verified: %(h)s.") % {"h": ", ".join(s.hostname for s in unverified)}
    PlanStatusChange.objects.create(
        plan=plan,
        from_status=PlanStatus.IN_PROGRESS,
        to_status=to_status,
        by=by,
        note=note[:500],
    )
    plan.refresh_from_db()
    events.plan_status_changed(
        plan=plan, old_status=PlanStatus.IN_PROGRESS, new_status=to_status, by=by
    )
    audit_event(plan=plan, action="status", field="status", old="in_progress", new=to_status, by=by)
    return True


def _go_given(milestone: Milestone, by) -> None:
    """The milestone's approvers gave the go: its work may start (if its other entry
    checks still hold). Event point for notifications ("go given")."""
    now = timezone.now()
    Milestone.objects.filter(pk=milestone.pk).update(go_given_at=now, version=F("version") + 1)
    milestone.go_given_at = now
    audit_event(
        plan=milestone.plan_id,
        obj=milestone,
        action="go",
        field="go_given_at",
        new=now,
        by=by,
    )
    events.go_given(milestone=milestone, by=by)


@transaction.atomic
def signoff_give(
    *,
    milestone: Milestone,
    by,
    decision: str,
    comment: str = "",
    override_reason: str = "",
    stage: str = SignOffStage.EXIT,
) -> SignOff:
    """Approve or reject a milestone's go (`stage` entry) or its completion (exit).
    Refused with a clear reason, nothing written: a template, a milestone already
    signed off (or whose go is given), an earlier milestone still open (exit), four
    eyes (the owner of the plan), someone the milestone doesn't require, a rejection
    without a comment, failing checks (they are never overridden by a sign-off:
    see the module doc; `override_reason` is kept for callers and ignored), or a
    second sign-off by the same person in this round and stage."""
    comment = comment.strip()[:MAX_TEXT]
    override_reason = ""
    if decision not in SignOffDecision.values:
        raise ValidationError({"decision": _("Approve or reject.")})
    if stage not in SignOffStage.values:
        raise ValidationError({"stage": _("Unknown sign-off stage.")})
    # The lock orders concurrent sign-offs of one milestone (approvals are counted
    # one at a time) and makes the checks below see every committed sign-off.
    milestone = (
        Milestone.objects.select_for_update(of=("self",))
        .select_related("plan__team", "plan__owner")
        .get(pk=milestone.pk)
    )
    plan = milestone.plan
    if plan.is_template:
        raise ValidationError(_("Templates are not signed off."))
    if plan.status in (PlanStatus.CANCELLED, PlanStatus.ROLLED_BACK, *COMPLETED_STATUSES):
        raise ValidationError(
            _("The plan is %(s)s; nothing more is signed off.")
            % {"s": PlanStatus(plan.status).label.lower()}
        )
    if milestone.retired_at is not None:
        raise ValidationError(_("“%(m)s” was retired.") % {"m": milestone.name})
    if milestone.signed_off_at is not None:
        raise ValidationError(
            _("“%(m)s” is already signed off.") % {"m": milestone.name}, code="done"
        )
    milestones = list(
        Milestone.objects.filter(plan_id=plan.pk, retired_at=None).order_by("position", "pk")
    )
    gates = plan_gates(plan, milestones)
    gate = gates[milestone.pk]
    if stage == SignOffStage.ENTRY and not gate.needs_go:
        raise ValidationError(_("“%(m)s” needs no go.") % {"m": milestone.name}, code="no_go")
    if stage == SignOffStage.ENTRY and milestone.go_given_at is not None:
        raise ValidationError(
            _("The go for “%(m)s” is already given.") % {"m": milestone.name}, code="done"
        )
    earlier = [
        m
        for m in milestones[: [m.pk for m in milestones].index(milestone.pk)]
        if m.signed_off_at is None
    ]
    if earlier and stage == SignOffStage.EXIT:
        raise ValidationError(
            _("Milestones are signed off in order: sign off “%(m)s” first.")
            % {"m": earlier[0].name},
            code="order",
        )
    if plan.team.four_eyes and plan.owner_id == by.pk:
        raise ValidationError(
            _("Four eyes: nobody signs off their own plan (you own this one)."), code="four_eyes"
        )
    if not signoff_eligible(milestone=milestone, user=by):
        raise ValidationError(
            _("You are not one of the people “%(m)s” needs a sign-off from.")
            % {"m": milestone.name},
            code="not_required",
        )
    overridden: list[dict] = []
    if decision == SignOffDecision.REJECT:
        if not comment:
            raise ValidationError({"comment": _("Say why you reject it.")})
    else:
        if stage == SignOffStage.ENTRY:
            failed = [c for c in failing(gate.entry) if c.code != "go_approval"]
            what = _("The go can't be given yet")
        else:
            failed = failing(gate.exit)
            what = _("It can't be signed off as done yet")
        if failed:
            message = _("%(what)s: %(checks)s.") % {
                "what": what,
                "checks": "; ".join(f"{c.label} ({c.reason})" for c in failed),
            }
            raise ValidationError(message, code="checks_fail")
    try:
        # A savepoint: the constraint's error must not poison the outer transaction.
        with transaction.atomic():
            signoff = SignOff.objects.create(
                milestone=milestone,
                user=by,
                round=milestone.signoff_round,
                stage=stage,
                decision=decision,
                comment=comment,
                overridden_checks=overridden,
                override_reason=override_reason,
            )
    except IntegrityError:
        raise ValidationError(
            _("You have already signed off “%(m)s” in this round.") % {"m": milestone.name},
            code="duplicate",
        ) from None
    audit_event(
        plan=plan,
        obj=milestone,
        action="go" if stage == SignOffStage.ENTRY else "sign-off",
        field="decision",
        new=decision,
        by=by,
    )
    if decision == SignOffDecision.REJECT:
        Milestone.objects.filter(pk=milestone.pk).update(
            signoff_round=F("signoff_round") + 1, version=F("version") + 1
        )
        events.milestone_rejected(milestone=milestone, by=by, comment=comment)
        return signoff
    if stage == SignOffStage.ENTRY:
        if _approvals(milestone, stage) >= milestone.signoff_count:
            _go_given(milestone, by)
        return signoff
    if _approvals(milestone, stage) >= milestone.signoff_count:
        now = timezone.now()
        Milestone.objects.filter(pk=milestone.pk).update(
            signed_off_at=now, version=F("version") + 1
        )
        milestone.signed_off_at = now
        events.milestone_signed_off(milestone=milestone, by=by)
        if milestones[-1].pk == milestone.pk:
            _complete_plan(plan, by)
        else:
            # The next milestone is now the one waiting: ask its approvers.
            following = milestones[[m.pk for m in milestones].index(milestone.pk) + 1]
            events.milestone_ready_for_signoff(milestone=following, by=by)
    return signoff

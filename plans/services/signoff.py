"""Milestone sign-off: the people or roles a milestone requires approve or reject it.

Sign-offs are append-only rows. A milestone is signed off when its required
approvals of the current round are in and its readiness checks pass (or the
approver who completes it overrides the failing ones with a written reason,
recorded on the row and shown on the report). Milestones are signed off in
order; a rejection reopens the milestone in a new round and tells the plan's
owner; the last sign-off completes the plan.

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

from patchplan.notifications import events
from patchplan.teams.roles import Action, role_allows
from patchplan.teams.selectors import role_in_team
from plans.audit import audit_event
from plans.choices import PlanStatus, SignOffDecision
from plans.models import Milestone, Plan, PlanStatusChange, SignOff
from plans.readiness import failing, plan_readiness

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


def _approvals(milestone: Milestone) -> int:
    return SignOff.objects.filter(
        milestone_id=milestone.pk,
        round=milestone.signoff_round,
        decision=SignOffDecision.APPROVE,
    ).count()


def _complete_plan(plan: Plan, by) -> bool:
    """The last milestone signed off: an in-progress plan is completed.

    The workflow table lets only planners make the in progress -> completed move by
    hand; the last sign-off makes it on the approver's behalf, recorded the same way
    (a PlanStatusChange and the status-changed event)."""
    now = timezone.now()
    rows = Plan.objects.filter(pk=plan.pk, status=PlanStatus.IN_PROGRESS).update(
        status=PlanStatus.COMPLETED, completed_at=now, updated_at=now, version=F("version") + 1
    )
    if not rows:
        return False
    PlanStatusChange.objects.create(
        plan=plan,
        from_status=PlanStatus.IN_PROGRESS,
        to_status=PlanStatus.COMPLETED,
        by=by,
        note=_("The last milestone was signed off."),
    )
    plan.refresh_from_db()
    events.plan_status_changed(
        plan=plan, old_status=PlanStatus.IN_PROGRESS, new_status=PlanStatus.COMPLETED, by=by
    )
    audit_event(
        plan=plan, action="status", field="status", old="in_progress", new="completed", by=by
    )
    return True


@transaction.atomic
def signoff_give(
    *,
    milestone: Milestone,
    by,
    decision: str,
    comment: str = "",
    override_reason: str = "",
) -> SignOff:
    """Approve or reject a milestone. Refused with a clear reason, nothing written:
    a template, a milestone already signed off, an earlier milestone still open,
    four eyes (the owner of the plan), someone the milestone doesn't require, a
    rejection without a comment, failing checks without an override reason, or a
    second sign-off by the same person in this round."""
    comment = comment.strip()[:MAX_TEXT]
    override_reason = override_reason.strip()[:MAX_TEXT]
    if decision not in SignOffDecision.values:
        raise ValidationError({"decision": _("Approve or reject.")})
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
    if plan.status in (PlanStatus.CANCELLED, PlanStatus.ROLLED_BACK, PlanStatus.COMPLETED):
        raise ValidationError(
            _("The plan is %(s)s; nothing more is signed off.")
            % {"s": PlanStatus(plan.status).label.lower()}
        )
    if milestone.signed_off_at is not None:
        raise ValidationError(
            _("“%(m)s” is already signed off.") % {"m": milestone.name}, code="done"
        )
    milestones = list(Milestone.objects.filter(plan_id=plan.pk).order_by("position", "pk"))
    earlier = [
        m
        for m in milestones[: [m.pk for m in milestones].index(milestone.pk)]
        if m.signed_off_at is None
    ]
    if earlier:
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
        override_reason = ""
    else:
        checks = plan_readiness(plan, milestones)[milestone.pk]
        failed = failing(checks)
        if failed and not override_reason:
            message = _(
                "These checks fail: %(checks)s. To sign off anyway, write a reason for the "
                "override."
            ) % {"checks": "; ".join(f"{c.label} ({c.reason})" for c in failed)}
            raise ValidationError({"override_reason": ValidationError(message, code="checks_fail")})
        overridden = [{"code": c.code, "label": c.label, "reason": c.reason} for c in failed]
        if not failed:
            override_reason = ""
    try:
        # A savepoint: the constraint's error must not poison the outer transaction.
        with transaction.atomic():
            signoff = SignOff.objects.create(
                milestone=milestone,
                user=by,
                round=milestone.signoff_round,
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
        action="sign-off",
        field="decision",
        new=f"{decision}" + (f" (override: {override_reason})" if override_reason else ""),
        by=by,
    )
    if decision == SignOffDecision.REJECT:
        Milestone.objects.filter(pk=milestone.pk).update(
            signoff_round=F("signoff_round") + 1, version=F("version") + 1
        )
        events.milestone_rejected(milestone=milestone, by=by, comment=comment)
        return signoff
    if _approvals(milestone) >= milestone.signoff_count:
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
            events.go_given(milestone=following, by=by)  # its work may start now
    return signoff

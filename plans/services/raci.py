"""Writes to a plan's RACI roles. Exactly one person is accountable: the
owner until someone else is made so; making a person accountable moves the
role to them, and the accountable role can't simply be removed."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from patchplan.teams.models import Membership
from plans.audit import audit_event
from plans.choices import Raci
from plans.models import Plan, PlanRole


@transaction.atomic
def planrole_ensure_accountable(*, plan: Plan, by=None) -> PlanRole:
    """Make the owner accountable when nobody is (plans made before RACI, imports)."""
    role = PlanRole.objects.filter(plan=plan, raci=Raci.ACCOUNTABLE).first()
    if role is None:
        role = PlanRole.objects.create(plan=plan, user_id=plan.owner_id, raci=Raci.ACCOUNTABLE)
        audit_event(
            plan=plan, obj=role, action="assigned", field=Raci.ACCOUNTABLE, new=role.user, by=by
        )
    return role


@transaction.atomic
def planrole_assign(*, plan: Plan, user, raci: str, by) -> PlanRole:
    """Give a team member a RACI role in the plan. Accountable replaces the current one."""
    if raci not in Raci.values:
        raise ValidationError(
            {"raci": [_("Choose responsible, accountable, consulted or informed.")]}
        )
    if not Membership.objects.filter(team_id=plan.team_id, user=user).exists():
        raise ValidationError({"user": [_("Only a member of the plan's team can have a role.")]})
    # Serialise RACI changes of one plan so two "make accountable" can't both pass.
    Plan.objects.select_for_update().filter(pk=plan.pk).first()
    if raci == Raci.ACCOUNTABLE:
        for old in PlanRole.objects.filter(plan=plan, raci=Raci.ACCOUNTABLE).exclude(user=user):
            audit_event(
                plan=plan, obj=old, action="deleted", field="accountable", old=old.user, by=by
            )
            old.delete()
    else:
        planrole_ensure_accountable(plan=plan, by=by)
    role, created = PlanRole.objects.get_or_create(plan=plan, user=user, raci=raci)
    if created:
        audit_event(plan=plan, obj=role, action="assigned", field=raci, new=user, by=by)
    return role


@transaction.atomic
def planrole_remove(*, role: PlanRole, by) -> None:
    """Take a RACI role away; the accountable one is moved, never removed."""
    if role.raci == Raci.ACCOUNTABLE:
        raise ValidationError(
            _("A plan needs one accountable person: make someone else accountable instead.")
        )
    audit_event(
        plan=role.plan_id, obj=role, action="removed", field=role.raci, old=role.user, by=by
    )
    role.delete()

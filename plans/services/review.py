"""The post-implementation review: the lessons learned text (the figures of the
review are read by plans.selectors.report)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from plans.audit import audit_changes, audit_event
from plans.live import sections_changed
from plans.models import FollowUp, Plan
from plans.services.documents import document_versions_record

MAX_LESSONS = 20_000


@transaction.atomic
def plan_lessons_update(
    *, plan: Plan, lessons_learned: str, by, version: int | None = None
) -> Plan:
    """Save the review's lessons learned (Markdown). With `version`, refused when the
    plan was saved by someone else since it was loaded."""
    text = lessons_learned.strip()
    if len(text) > MAX_LESSONS:
        raise ValidationError(
            {"lessons_learned": _("Keep it under %(n)d characters.") % {"n": MAX_LESSONS}}
        )
    current = Plan.objects.select_for_update().get(pk=plan.pk)
    if version is not None and current.version != version:
        raise ValidationError(
            {
                "lessons_learned": _(
                    "Someone changed the plan meanwhile; reload the page (your text is kept below)."
                )
            },
            code="stale",
        )
    before = {"lessons_learned": current.lessons_learned}
    Plan.objects.filter(pk=plan.pk).update(
        lessons_learned=text, version=F("version") + 1, updated_at=timezone.now()
    )
    audit_changes(plan=plan, obj=None, before=before, after={"lessons_learned": text}, by=by)
    if text != current.lessons_learned:
        document_versions_record(plan_id=plan.pk, texts={"lessons_learned": text}, by=by)
        sections_changed(plan_id=plan.pk, fields=["lessons_learned"], by=by)
    plan.refresh_from_db()
    return plan


@transaction.atomic
def followup_accept_risk(*, plan: Plan, server, reason: str, by) -> FollowUp:
    """A server the plan did not verify stays as it is: the risk is accepted, with a
    reason and by whom (append-only; the review's follow-up check counts it)."""
    reason = (reason or "").strip()[:MAX_LESSONS]
    if not reason:
        raise ValidationError({"reason": _("Say why the risk is accepted.")})
    if not plan.servers.filter(pk=server.pk).exists():
        raise ValidationError(_("%(h)s is not in the plan's scope.") % {"h": server.hostname})
    follow_up = FollowUp.objects.create(plan=plan, server=server, reason=reason, by=by)
    audit_event(plan=plan, obj=server, action="risk accepted", field="follow-up", new=reason, by=by)
    return follow_up


@transaction.atomic
def plan_create_follow_up(*, plan: Plan, by, title: str = "") -> Plan:
    """One click: a new draft plan for the servers this plan did not verify (and that
    have no follow-up plan yet), with its kind, objective, packages, sections and
    references carried over. Each server gets a FollowUp row pointing at it."""
    from plans.services.plans import Reference, plan_create, plan_scope_add
    from plans.services.signoff import plan_unverified_servers

    planned = set(
        FollowUp.objects.filter(plan_id=plan.pk, follow_up_plan__isnull=False).values_list(
            "server_id", flat=True
        )
    )
    servers = [s for s in plan_unverified_servers(plan) if s.pk not in planned]
    if not servers:
        raise ValidationError(_("Every server of this plan is verified or already followed up."))
    new = plan_create(
        team=plan.team,
        title=(title or _("Follow-up: %(t)s") % {"t": plan.title})[:200],
        owner=plan.owner,
        by=by,
        references=[Reference(r.kind, r.identifier, r.url) for r in plan.references.all()],
        kind=plan.kind,
        risk=plan.risk,
        objective=plan.objective,
        success_criteria=plan.success_criteria,
        packages=list(plan.packages),
        backup_plan=plan.backup_plan,
        test_procedure=plan.test_procedure,
        rollback_plan=plan.rollback_plan,
        communication_plan=plan.communication_plan,
    )
    plan_scope_add(plan=new, servers=servers, by=by)
    FollowUp.objects.bulk_create(
        FollowUp(plan=plan, server=s, follow_up_plan=new, by=by) for s in servers
    )
    audit_event(
        plan=plan, action="follow-up", field="follow-up plan", new=f"{new.title} (#{new.pk})", by=by
    )
    return new

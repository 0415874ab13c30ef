"""The plan's evidence page: backup records, test runs and change approvals."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST, require_safe

from patchplan.teams.roles import Action
from patchplan.teams.selectors import user_can
from plans.forms.evidence import BackupForm, ChangeApprovalForm, TestRunForm
from plans.selectors.evidence import plan_evidence
from plans.selectors.plans import plan_get_for_user
from plans.services import evidence as services


def _page(
    request, plan, *, backup_form=None, test_form=None, approval_form=None, status=200
) -> HttpResponse:
    return render(
        request,
        "plans/evidence_page.html",
        {
            "plan": plan,
            **plan_evidence(plan=plan),
            "backup_form": backup_form or BackupForm(plan=plan, prefix="backup"),
            "test_form": test_form or TestRunForm(plan=plan, prefix="test"),
            "approval_form": approval_form or ChangeApprovalForm(prefix="approval"),
            "can_execute": user_can(user=request.user, team_id=plan.team_id, action=Action.EXECUTE),
        },
        status=status,
    )


@login_required
@require_safe
def evidence_page(request: HttpRequest, plan_id: int) -> HttpResponse:
    """Backups, test runs and change approvals of the plan, with the forms to record
    more."""
    plan = plan_get_for_user(user=request.user, plan_id=plan_id)
    return _page(request, plan)


@login_required
@require_POST
def backup_create(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = plan_get_for_user(user=request.user, plan_id=plan_id, action=Action.EXECUTE)
    form = BackupForm(request.POST, plan=plan, prefix="backup")
    if form.is_valid():
        try:
            records = services.backup_records_create(
                plan=plan, by=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                ngettext(
                    "Backup recorded for %(n)d server.",
                    "Backup recorded for %(n)d servers.",
                    len(records),
                )
                % {"n": len(records)},
            )
            return redirect(f"/plans/{plan.pk}/evidence/#backups")
    return _page(request, plan, backup_form=form, status=400)


@login_required
@require_POST
def testrun_create(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = plan_get_for_user(user=request.user, plan_id=plan_id, action=Action.EXECUTE)
    form = TestRunForm(request.POST, plan=plan, prefix="test")
    if form.is_valid():
        try:
            services.testrun_create(plan=plan, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Test run recorded."))
            return redirect(f"/plans/{plan.pk}/evidence/#tests")
    return _page(request, plan, test_form=form, status=400)


@login_required
@require_POST
def change_approval_create(request: HttpRequest, plan_id: int) -> HttpResponse:
    """Record the change's approval (the CAB's): whoever records backups may."""
    plan = plan_get_for_user(user=request.user, plan_id=plan_id, action=Action.EXECUTE)
    form = ChangeApprovalForm(request.POST, prefix="approval")
    if form.is_valid():
        try:
            approval = services.change_approval_create(
                plan=plan, by=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request, _("Approval of %(change)s recorded.") % {"change": approval.change_id}
            )
            return redirect(f"/plans/{plan.pk}/evidence/#approvals")
    return _page(request, plan, approval_form=form, status=400)

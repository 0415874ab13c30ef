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


def _record(request, plan, form, *, create, done, anchor: str, form_key: str) -> HttpResponse:
    """Record what a valid form describes through `create`, in its one transaction, and
    go back to the page's `anchor` with the message `done(result)`; otherwise show the
    page again with the errors where the person typed (a service's refusal on top)."""
    if form.is_valid():
        try:
            result = create(plan=plan, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, done(result))
            return redirect(f"/plans/{plan.pk}/evidence/#{anchor}")
    return _page(request, plan, status=400, **{form_key: form})


@login_required
@require_POST
def backup_create(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = plan_get_for_user(user=request.user, plan_id=plan_id, action=Action.EXECUTE)
    return _record(
        request,
        plan,
        BackupForm(request.POST, plan=plan, prefix="backup"),
        create=services.backup_records_create,
        done=lambda records: (
            ngettext(
                "Backup recorded for %(n)d server.",
                "Backup recorded for %(n)d servers.",
                len(records),
            )
            % {"n": len(records)}
        ),
        anchor="backups",
        form_key="backup_form",
    )


@login_required
@require_POST
def testrun_create(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = plan_get_for_user(user=request.user, plan_id=plan_id, action=Action.EXECUTE)
    return _record(
        request,
        plan,
        TestRunForm(request.POST, plan=plan, prefix="test"),
        create=services.testrun_create,
        done=lambda run: _("Test run recorded."),
        anchor="tests",
        form_key="test_form",
    )


@login_required
@require_POST
def change_approval_create(request: HttpRequest, plan_id: int) -> HttpResponse:
    """Record the change's approval (the CAB's): whoever records backups may."""
    plan = plan_get_for_user(user=request.user, plan_id=plan_id, action=Action.EXECUTE)
    return _record(
        request,
        plan,
        ChangeApprovalForm(request.POST, prefix="approval"),
        create=services.change_approval_create,
        done=lambda approval: (
            _("Approval of %(change)s recorded.") % {"change": approval.change_id}
        ),
        anchor="approvals",
        form_key="approval_form",
    )

"""Readiness checks and sign-off per milestone (a panel the plan page loads)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from patchplan.teams.roles import Action
from patchplan.teams.selectors import get_for_user, user_can
from plans.forms.signoff import SignOffForm
from plans.models import Milestone
from plans.selectors.plans import plan_get_for_user
from plans.selectors.report import signoff_panel
from plans.services.signoff import signoff_give

PANEL = "plans/partials/_signoff_panel.html"


def _panel(request, plan, *, form=None, form_milestone=None, status=200) -> HttpResponse:
    context = signoff_panel(plan=plan, user=request.user)
    context.update(form=form, form_milestone=form_milestone)
    if request.htmx and request.GET.get("card"):
        template = "plans/partials/_signoff_card.html"
    elif request.htmx:
        template = PANEL
    else:
        template = "plans/signoff_page.html"
    return render(request, template, context, status=status)


@login_required
@require_safe
def readiness_panel(request: HttpRequest, plan_id: int) -> HttpResponse:
    """Each milestone's readiness checks (pass/fail, why) and its sign-offs."""
    plan = plan_get_for_user(user=request.user, plan_id=plan_id)
    return _panel(request, plan)


@login_required
@require_POST
def signoff_create(request: HttpRequest, plan_id: int, milestone_id: int) -> HttpResponse:
    """Approve or reject a milestone, with a comment (and an override reason when
    checks fail). People named on the milestone may sign whatever their role."""
    milestone = get_for_user(
        Milestone.objects.select_related("plan"),
        user=request.user,
        team_field="plan__team",
        pk=milestone_id,
        plan_id=plan_id,
    )
    named = milestone.signoff_users.filter(pk=request.user.pk).exists()
    if not named and not user_can(
        user=request.user, team_id=milestone.plan.team_id, action=Action.SIGN_OFF
    ):
        raise PermissionDenied(_("Your role may not sign off milestones."))
    plan = plan_get_for_user(user=request.user, plan_id=plan_id)
    form = SignOffForm(request.POST)
    if form.is_valid():
        try:
            signoff_give(milestone=milestone, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if not request.htmx:
                messages.success(request, _("Sign-off recorded."))
                return redirect(f"/plans/{plan.pk}/signoff/#milestone-{milestone.pk}")
            plan = plan_get_for_user(user=request.user, plan_id=plan_id)
            return _panel(request, plan)
    return _panel(request, plan, form=form, form_milestone=milestone.pk, status=400)

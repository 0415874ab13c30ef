"""A plan's RACI roles and its matrix (people by milestones and tasks)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from patchplan.teams.roles import Action
from patchplan.teams.selectors import check_team_action, get_for_user, user_can
from plans.forms.tasks import PlanRoleForm
from plans.models import PlanRole
from plans.selectors.plans import plan_get_for_user
from plans.selectors.tasks import raci_matrix
from plans.services import raci as services


@login_required
def raci_page(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = plan_get_for_user(user=request.user, plan_id=plan_id)
    can_edit = user_can(user=request.user, team_id=plan.team_id, action=Action.EDIT_PLAN)
    form = PlanRoleForm(request.POST or None, plan=plan)
    if request.method == "POST":
        check_team_action(user=request.user, team_id=plan.team_id, action=Action.EDIT_PLAN)
        if form.is_valid():
            try:
                services.planrole_assign(
                    plan=plan,
                    user=form.cleaned_data["user"],
                    raci=form.cleaned_data["raci"],
                    by=request.user,
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("Role given."))
                return redirect("plan_raci", plan_id=plan.pk)
    context = raci_matrix(plan=plan)
    context.update({"plan": plan, "form": form, "can_edit": can_edit})
    return render(request, "plans/raci.html", context, status=400 if form.is_bound else 200)


@login_required
@require_POST
def planrole_remove(request: HttpRequest, planrole_id: int) -> HttpResponse:
    role = get_for_user(
        PlanRole.objects.select_related("plan"),
        user=request.user,
        action=Action.EDIT_PLAN,
        team_field="plan__team",
        pk=planrole_id,
    )
    try:
        services.planrole_remove(role=role, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Role removed."))
    return redirect("plan_raci", plan_id=role.plan_id)

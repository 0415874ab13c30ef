"""The post-implementation review and the plan's report (print and Markdown)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from patchplan.teams.roles import Action
from patchplan.teams.selectors import get_for_user, user_can
from plans.forms.log import LessonsForm
from plans.selectors.plans import plan_get_for_user
from plans.selectors.report import plan_report, plan_review
from plans.services.review import (
    followup_accept_risk,
    plan_create_follow_up,
    plan_lessons_update,
)
from servers.models import Server


def _review(request, plan, *, form=None, status=200) -> HttpResponse:
    return render(
        request,
        "plans/review.html",
        {
            "plan": plan,
            "review": plan_review(plan=plan),
            "form": form
            or LessonsForm(
                initial={"lessons_learned": plan.lessons_learned, "version": plan.version}
            ),
            "can_edit": user_can(user=request.user, team_id=plan.team_id, action=Action.EDIT_PLAN),
            "can_accept_risk": user_can(
                user=request.user, team_id=plan.team_id, action=Action.SIGN_OFF
            ),
        },
        status=status,
    )


@login_required
@require_POST
def follow_up_create(request: HttpRequest, plan_id: int) -> HttpResponse:
    """One click: a follow-up plan for the servers this plan did not verify."""
    plan = plan_get_for_user(user=request.user, plan_id=plan_id, action=Action.EDIT_PLAN)
    try:
        new = plan_create_follow_up(plan=plan, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("plan_review", plan_id=plan.pk)
    messages.success(request, _("Follow-up plan created with the servers not verified."))
    return redirect("plan_detail", plan_id=new.pk)


@login_required
@require_POST
def follow_up_accept_risk(request: HttpRequest, plan_id: int, server_id: int) -> HttpResponse:
    """An approver accepts the risk of a server the plan did not verify, with a reason."""
    plan = plan_get_for_user(user=request.user, plan_id=plan_id, action=Action.SIGN_OFF)
    server = get_for_user(Server.objects.all(), user=request.user, pk=server_id)
    try:
        followup_accept_risk(
            plan=plan, server=server, reason=request.POST.get("reason", ""), by=request.user
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Risk accepted for %(h)s.") % {"h": server.hostname})
    return redirect("plan_review", plan_id=plan.pk)


@login_required
@require_safe
def review_page(request: HttpRequest, plan_id: int) -> HttpResponse:
    """Planned vs actual downtime, failures, overrides, lessons learned."""
    plan = plan_get_for_user(user=request.user, plan_id=plan_id)
    return _review(request, plan)


@login_required
@require_POST
def lessons_update(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = plan_get_for_user(user=request.user, plan_id=plan_id, action=Action.EDIT_PLAN)
    form = LessonsForm(request.POST)
    if form.is_valid():
        try:
            plan_lessons_update(
                plan=plan,
                lessons_learned=form.cleaned_data["lessons_learned"],
                version=form.cleaned_data["version"],
                by=request.user,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Lessons learned saved."))
            return redirect("plan_review", plan_id=plan.pk)
    return _review(request, plan, form=form, status=400)


@login_required
@require_safe
def report_page(request: HttpRequest, plan_id: int) -> HttpResponse:
    """The whole plan as one page, made to be printed or saved as PDF."""
    plan = plan_get_for_user(user=request.user, plan_id=plan_id)
    context = plan_report(plan=plan)
    context["generated_at"] = timezone.now()
    return render(request, "plans/report.html", context)


@login_required
@require_safe
def report_markdown(request: HttpRequest, plan_id: int) -> HttpResponse:
    """The same report as a Markdown download."""
    plan = plan_get_for_user(user=request.user, plan_id=plan_id)
    context = plan_report(plan=plan)
    context["generated_at"] = timezone.now()
    text = render_to_string("plans/report.md", context, request=request)
    response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
    name = slugify(plan.title)[:60] or "plan"
    response["Content-Disposition"] = f'attachment; filename="plan-{plan.pk}-{name}.md"'
    return response

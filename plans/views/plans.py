from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from plans.selectors import plans as selectors


@login_required
@require_safe
def plan_list(request: HttpRequest) -> HttpResponse:
    if request.team is None:
        raise Http404("You are not in a team yet.")
    plans = (
        selectors.plans_for_team(user=request.user, team=request.team)
        .select_related("owner")
        .annotate(server_count=Count("servers", distinct=True))
        .order_by("-created_at")
    )
    page = Paginator(plans, 50).get_page(request.GET.get("page"))
    return render(request, "plans/plan_list.html", {"page": page})


@login_required
@require_safe
def plan_detail(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = selectors.plan_get_for_user(user=request.user, plan_id=plan_id)
    return render(
        request,
        "plans/plan_detail.html",
        {
            "plan": plan,
            "milestones": plan.milestones.all(),
            "windows": plan.windows.select_related("milestone").prefetch_related("servers"),
            "tasks": plan.tasks.select_related("assignee", "milestone"),
        },
    )

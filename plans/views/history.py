"""The plan's history: every audited change, filterable."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from plans.selectors.plans import plan_get_for_user
from plans.selectors.report import HistoryFilters, history_page


@login_required
@require_safe
def history(request: HttpRequest, plan_id: int) -> HttpResponse:
    """Field, old value, new value, who and when; filter by kind of object, person, text."""
    plan = plan_get_for_user(user=request.user, plan_id=plan_id)
    filters = HistoryFilters.from_query(request.GET)
    context = history_page(plan=plan, filters=filters, page=request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context.update(plan=plan, query=query.urlencode())
    return render(request, "plans/history.html", context)

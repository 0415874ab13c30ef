"""Self-sufficient pieces of the plan page: timeline, windows, tasks.

Each tag loads its own data with a fixed number of queries, so the plan
page that includes them needs to pass nothing but the plan."""

from __future__ import annotations

from django import template
from django.utils import timezone

from patchplan.jinja2 import jinja
from plans.models import MaintenanceWindow, Milestone
from plans.selectors.plans import milestone_rows
from plans.selectors.tasks import TaskFilters, tasks_card
from plans.selectors.windows import windows_card
from plans.timeline import build_timeline

register = template.Library()


def _shared(context, plan) -> dict:
    """What the plan page has read already for this plan (plans.selectors.plans.plan_page
    puts `schedule` in the context: its milestones), so the pieces don't read the same
    rows again; empty when a piece is rendered on its own."""
    shared = context.get("schedule")
    if shared and shared.get("plan_id") == plan.pk:
        return shared
    return {}


@register.simple_tag(takes_context=True)
def plan_timeline(context, plan) -> str:
    """The timeline picture (templates/jinja2/plans/timeline.jinja: a loop of shapes):
    2 queries (milestones, windows), 1 on the plan page."""
    shared = _shared(context, plan)
    if "milestones" in shared:
        milestones = shared["milestones"]
    else:
        milestones = list(Milestone.objects.filter(plan_id=plan.pk).order_by("position", "pk"))
    windows = list(
        MaintenanceWindow.objects.filter(plan_id=plan.pk, cancelled_at=None).only(
            "starts_at", "ends_at", "title", "cancelled_at"
        )
    )
    return jinja(
        context,
        "plans/timeline.jinja",
        plan=plan,
        milestones=milestones,
        windows=windows,
        tl=build_timeline(milestones=milestones, windows=windows),
        zone=timezone.get_current_timezone_name(),
    )


@register.simple_tag(takes_context=True)
def plan_windows(context, plan) -> str:
    """The windows card with each window's warnings (templates/jinja2/plans/
    windows_card.jinja): 6 queries; the plan page loads it after itself."""
    data = windows_card(plan=plan, user=context["request"].user)
    return jinja(
        context, "plans/windows_card.jinja", zone=timezone.get_current_timezone_name(), **data
    )


@register.simple_tag(takes_context=True)
def plan_tasks(context, plan) -> str:
    """The tasks card (templates/jinja2/plans/tasks_card.jinja; first page, filtered by the
    page's GET parameters): 2 queries."""
    shared = _shared(context, plan)
    request = context["request"]
    data = tasks_card(
        plan=plan,
        user=request.user,
        milestones=shared.get("milestones"),
        filters=TaskFilters.from_query(request.GET),
    )
    return jinja(context, "plans/tasks_card.jinja", **data)


@register.simple_tag(takes_context=True)
def milestone_items(context, milestones, can_edit) -> str:
    """The milestones card's list (templates/jinja2/plans/milestone_items.jinja) from
    plan_milestones(): no query. Every caller of the card passes only `milestones`."""
    return jinja(
        context,
        "plans/milestone_items.jinja",
        milestones=milestone_rows(milestones),
        can_edit=can_edit,
    )

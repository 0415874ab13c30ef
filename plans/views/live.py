"""What open plan pages (and run mode) poll: which sections and pieces changed, who
is here (plans.live); and the pieces the poll refreshes that have no page of their
own."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from patchplan.teams.roles import Action
from patchplan.teams.selectors import user_can
from plans import live
from plans.forms.plans import MilestoneAddForm, MilestonesImportForm
from plans.selectors import plans as selectors


@login_required
@require_safe
def plan_live(request: HttpRequest, plan_id: int) -> HttpResponse:
    """The open plan page's (and run mode's) poll: 204 when nothing changed since `rev`
    and the people here are still those of `here`; otherwise the counter, each
    section's and piece's counter when it moved (the page refreshes those that differ
    from what it shows; `lost`: all of them) and who else is here, editing what; 503
    while the shared cache is unreachable. Besides every request's session, user and
    team, one query (the access check) and cache reads."""
    plan = selectors.plan_access_for_user(user=request.user, plan_id=plan_id)
    since = request.GET.get("rev", "")
    since = int(since) if since.isdecimal() and len(since) < 12 else -1
    try:
        live.here(plan_id=plan.pk, user=request.user, editing=request.GET.get("editing", ""))
        people = live.present(plan_id=plan.pk, exclude_user_id=request.user.pk)
        rev, sections, lost = live.changes_since(plan_id=plan.pk, since=since)
    except live.CACHE_ERRORS:
        # The shared cache is down (a Redis restart): the page keeps its counter and
        # asks again; when the cache is back its lost counters reload everything.
        response = HttpResponse(status=503)
        response["Retry-After"] = "2"
        return response
    tag = live.presence_tag(people)
    if sections is None and tag == request.GET.get("here", ""):
        return HttpResponse(status=204)
    return JsonResponse(
        {"rev": rev, "sections": sections, "lost": lost, "here": people, "here_tag": tag}
    )


# The plan page's pieces that refresh through the poll and have no view of their own
# (activity, readiness and the run board have theirs).
_PART_TEMPLATES = {
    live.MILESTONES: "plans/partials/_milestones.html",
    live.WINDOWS: "plans/partials/_windows.html",
    live.TIMELINE: "plans/partials/_timeline.html",
    live.TASKS: "plans/partials/_tasks.html",
}


@login_required
@require_safe
def plan_live_part(request: HttpRequest, plan_id: int, part: str) -> HttpResponse:
    """One piece of the plan page as the page shows it, for the poll's refresh."""
    template = _PART_TEMPLATES.get(part)
    if template is None:
        raise Http404("No such part.")
    plan = selectors.plan_get_for_user(user=request.user, plan_id=plan_id)
    context = {"plan": plan}
    if part == live.MILESTONES:
        context.update(
            milestones=selectors.plan_milestones(plan=plan),
            milestone_add_form=MilestoneAddForm(),
            milestones_import_form=MilestonesImportForm(),
            can_edit=user_can(user=request.user, team_id=plan.team_id, action=Action.EDIT_PLAN),
        )
    return render(request, template, context)

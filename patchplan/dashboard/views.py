from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from patchplan.teams.roles import Action
from patchplan.teams.selectors import check_team_action

from . import calendar as team_calendar
from . import selectors


@login_required
@require_safe
def dashboard(request: HttpRequest) -> HttpResponse:
    context = selectors.dashboard_for_user(user=request.user, team=request.team)
    return render(request, "core/dashboard.html", context)


@login_required
@require_safe
def dashboard_activity(request: HttpRequest) -> HttpResponse:
    """The dashboard's activity card, loaded (and refreshed) by htmx so the
    dashboard itself stays within its query budget: 3 queries."""
    if request.team is not None:
        check_team_action(user=request.user, team_id=request.team.pk, action=Action.VIEW)
    activity = selectors.recent_activity(user=request.user, team=request.team)
    return render(request, "core/partials/_dashboard_activity.html", {"activity": activity})


@login_required
@require_safe
def calendar(request: HttpRequest) -> HttpResponse:
    """Month, week or list of the current team's windows and milestones (GET filters)."""
    team = request.team
    if team is None:
        return render(request, "core/calendar.html", {"team": None})
    check_team_action(user=request.user, team_id=team.pk, action=Action.VIEW)
    context = team_calendar.calendar_page(
        user=request.user,
        team=team,
        params=request.GET,
        today=timezone.localdate(),
        tz=timezone.get_current_timezone(),
    )
    return render(
        request, "core/calendar.html", context, status=400 if context["filters"].errors else 200
    )

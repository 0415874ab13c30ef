"""The server list's bulk "add to plan": a plans view the servers pages post to,
so servers never import plans (issue 18, layers that only point down)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from patchplan.teams.roles import Action
from plans.selectors import plans as selectors
from plans.services import plans as services
from servers.models import Server


@login_required
@require_POST
def plan_add_servers(request: HttpRequest) -> HttpResponse:
    """The selected servers of the server list into a chosen plan's scope, then
    back to the same page of the list."""
    team = request.team
    if team is None:
        raise Http404("You are not in a team yet.")
    back = request.POST.get("next", "")
    if not back.startswith("/servers/"):
        back = reverse("server_list")
    raw_ids = request.POST.getlist("ids")
    if not raw_ids or not all(i.isdigit() for i in raw_ids):
        messages.error(request, _("Select servers and an action."))
        return redirect(back)
    ids = {int(i) for i in raw_ids}
    servers = list(Server.objects.filter(team=team, pk__in=ids))
    if len(servers) != len(ids):
        # Someone else's id (or a deleted one): the whole request is refused.
        raise Http404("No such server.")
    try:
        plan_id = request.POST.get("plan", "")
        if not plan_id.isdigit():
            raise ValidationError(_("Choose a plan."))
        plan = selectors.plan_get_for_user(
            user=request.user, plan_id=int(plan_id), action=Action.EDIT_PLAN
        )
        if plan.team_id != team.pk:
            raise Http404("No such plan.")
        added = services.plan_scope_add(plan=plan, servers=servers, by=request.user)
        messages.success(
            request,
            ngettext("Added %(n)s server to %(plan)s.", "Added %(n)s servers to %(plan)s.", added)
            % {"n": added, "plan": plan.title},
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect(back)

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from . import selectors


@login_required
@require_safe
def server_list(request: HttpRequest) -> HttpResponse:
    if request.team is None:
        raise Http404("You are not in a team yet.")
    servers = selectors.servers_for_team(user=request.user, team=request.team).select_related(
        "owner"
    )
    page = Paginator(servers, 50).get_page(request.GET.get("page"))
    return render(request, "servers/server_list.html", {"page": page})


@login_required
@require_safe
def server_detail(request: HttpRequest, server_id: int) -> HttpResponse:
    server = selectors.server_get_for_user(user=request.user, server_id=server_id)
    return render(request, "servers/server_detail.html", {"server": server})

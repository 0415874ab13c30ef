"""Server pages: thin views over the selectors and services."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST, require_safe

from patchplan.core.csv_export import csv_response
from patchplan.teams.roles import Action
from patchplan.teams.selectors import check_team_action, user_can

from . import csv_import, selectors, services
from .choices import Criticality, Environment, SnapshotSource
from .forms import BulkForm, CsvImportForm, FleetSearchForm, InventoryForm, ServerForm, TokenForm
from .inventory import snapshot_diff
from .models import Server
from .parsers import DPKG_QUERY_COMMAND

LIST_PAGE_SIZE = 50
PACKAGE_PAGE_SIZE = 50
FLEET_PAGE_SIZE = 100


def _team(request: HttpRequest, action: str = Action.VIEW):
    if request.team is None:
        raise Http404("You are not in a team yet.")
    check_team_action(user=request.user, team_id=request.team.pk, action=action)
    return request.team


def _apply_errors(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


# --- list and bulk actions ----------------------------------------------------------


@login_required
@require_safe
def server_list(request: HttpRequest) -> HttpResponse:
    team = _team(request)
    filters = selectors.ServerFilters.from_query(request.GET)
    servers = selectors.servers_filtered(
        user=request.user, team=team, filters=filters, tags_to_attr="tag_list"
    )
    page = Paginator(servers, LIST_PAGE_SIZE).get_page(request.GET.get("page"))
    params = {k: v for k, v in request.GET.items() if k != "page" and v}
    can_tag = user_can(user=request.user, team_id=team.pk, action=Action.MANAGE_SERVERS)
    can_plan = user_can(user=request.user, team_id=team.pk, action=Action.EDIT_PLAN)
    sort_links = {}
    for key in ("hostname", "criticality", "packages", "security", "inventory"):
        current = filters.sort
        target = f"-{key}" if current == key else key
        sort_links[key] = "?" + urlencode({**params, "sort": target})
    return render(
        request,
        "servers/server_list.html",
        {
            "page": page,
            "filters": filters,
            "query": urlencode(params),
            "sort_links": sort_links,
            "tags": list(selectors.team_tags(team=team).values_list("name", flat=True)),
            "environments": Environment.choices,
            "criticalities": Criticality.choices,
            # Each label translated once, not once a row.
            "labels": {
                "environment": {value: str(label) for value, label in Environment.choices},
                "criticality": {value: str(label) for value, label in Criticality.choices},
            },
            "can_tag": can_tag,
            "can_plan": can_plan,
            "can_manage": can_tag,
            "show_select": can_tag or can_plan,
            "next_url": request.get_full_path(),
        },
    )


@login_required
@require_POST
def server_bulk(request: HttpRequest) -> HttpResponse:
    team = _team(request)
    form = BulkForm(request.POST)
    back = request.POST.get("next", "")
    if not back.startswith("/servers/"):
        back = reverse("server_list")
    raw_ids = request.POST.getlist("ids")
    if not form.is_valid() or not raw_ids or not all(i.isdigit() for i in raw_ids):
        messages.error(request, _("Select servers and an action."))
        return redirect(back)
    ids = {int(i) for i in raw_ids}
    servers = list(Server.objects.filter(team=team, pk__in=ids))
    if len(servers) != len(ids):
        # Someone else's id (or a deleted one): the whole request is refused.
        raise Http404("No such server.")
    # "Add to plan" is the plans app's (plans.views.server_bulk): the list's
    # form posts it there, so servers never import plans.
    try:
        check_team_action(user=request.user, team_id=team.pk, action=Action.MANAGE_SERVERS)
        services.servers_tag(
            team=team, servers=servers, tag_names=form.cleaned_data["tags"], by=request.user
        )
        messages.success(
            request,
            ngettext("Tagged %(n)s server.", "Tagged %(n)s servers.", len(servers))
            % {"n": len(servers)},
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect(back)


# --- create, edit, delete -------------------------------------------------------------


@login_required
def server_create(request: HttpRequest) -> HttpResponse:
    team = _team(request, Action.MANAGE_SERVERS)
    form = ServerForm(request.POST or None, team=team)
    if request.method == "POST" and form.is_valid():
        try:
            server = services.server_create(team=team, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, _("Server %(h)s added.") % {"h": server.hostname})
            return redirect("server_detail", server_id=server.pk)
    return render(
        request,
        "servers/server_form.html",
        {"form": form},
        status=400 if request.method == "POST" else 200,
    )


def _server_form(server: Server, data=None, tags=None) -> ServerForm:
    tags = server.tags.all() if tags is None else tags
    return ServerForm(
        data,
        team=server.team,
        initial={
            "hostname": server.hostname,
            "fqdn": server.fqdn,
            "ip_address": server.ip_address,
            "environment": server.environment,
            "criticality": server.criticality,
            "tags": ", ".join(t.name for t in tags),
            "os_name": server.os_name,
            "os_version": server.os_version,
            "release": server.release,
            "owner": server.owner_id,
            "notes": server.notes,
        },
        prefix="edit",
    )


@login_required
@require_POST
def server_edit(request: HttpRequest, server_id: int) -> HttpResponse:
    server = selectors.server_get_for_user(
        user=request.user, server_id=server_id, action=Action.MANAGE_SERVERS
    )
    form = _server_form(server, request.POST)
    if form.is_valid():
        try:
            services.server_update(server=server, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, _("Server saved."))
            return redirect("server_detail", server_id=server.pk)
    server.refresh_from_db()
    return _render_detail(request, server, edit_form=form, status=400)


@login_required
@require_POST
def server_delete(request: HttpRequest, server_id: int) -> HttpResponse:
    server = selectors.server_get_for_user(
        user=request.user, server_id=server_id, action=Action.MANAGE_SERVERS
    )
    hostname = server.hostname
    services.server_delete(server=server, by=request.user)
    messages.success(request, _("Server %(h)s deleted.") % {"h": hostname})
    return redirect("server_list")


# --- server page ---------------------------------------------------------------------


def push_commands(server: Server) -> dict[str, str]:
    """The copy-paste one-liners that push this server's listings to PatchPlan."""
    url = f"{settings.SITE_URL}{reverse('api_inventory_push', args=[server.hostname])}"
    curl = (
        f'curl -sS --fail-with-body -H "Authorization: Bearer $PATCHPLAN_TOKEN" '
        f'-H "Content-Type: text/plain" --data-binary @- {url}'
    )
    return {
        "packages": DPKG_QUERY_COMMAND + " | " + curl,
        "updates": "apt list --upgradable 2>/dev/null | " + curl,
        "rpm": "rpm -qa | " + curl,
    }


def _render_detail(
    request: HttpRequest,
    server: Server,
    *,
    import_form: InventoryForm | None = None,
    edit_form: ServerForm | None = None,
    status: int = 200,
) -> HttpResponse:
    q = request.GET.get("q", "").strip()[:100]
    packages = Paginator(selectors.server_packages(server=server, q=q), PACKAGE_PAGE_SIZE)
    package_page = packages.get_page(request.GET.get("page"))
    context = {
        "server": server,
        "package_page": package_page,
        "page": package_page,
        "q": q,
        "query": urlencode({"q": q}) if q else "",
    }
    if request.htmx and request.GET.get("part") == "packages":
        return render(request, "servers/partials/_packages.html", context)
    team_id = server.team_id
    snapshots = list(selectors.server_snapshots(server=server)[:50])
    context.update(
        {
            "tags": list(server.tags.all()),
            "pending": list(selectors.server_pending(server=server)[:500]),
            "snapshots": snapshots,
            "package_snapshots": [s for s in snapshots if s.kind == "packages"],
            "plans": list(server.plans.only("pk", "title", "status").order_by("title")),
            "can_import": user_can(
                user=request.user, team_id=team_id, action=Action.IMPORT_INVENTORY
            ),
            "can_manage": user_can(
                user=request.user, team_id=team_id, action=Action.MANAGE_SERVERS
            ),
            "import_form": import_form or InventoryForm(),
            "edit_form": edit_form,
            "push": push_commands(server),
        }
    )
    # The edit form is rendered only when asked for (?edit=1): crispy fields
    # would otherwise be half the cost of every view of the page.
    if context["can_manage"] and edit_form is None and request.GET.get("edit") == "1":
        context["edit_form"] = _server_form(server, tags=context["tags"])
    return render(request, "servers/server_detail.html", context, status=status)


@login_required
@require_safe
def server_detail(request: HttpRequest, server_id: int) -> HttpResponse:
    server = selectors.server_get_for_user(user=request.user, server_id=server_id)
    return _render_detail(request, server)


@login_required
@require_POST
def server_import(request: HttpRequest, server_id: int) -> HttpResponse:
    server = selectors.server_get_for_user(
        user=request.user, server_id=server_id, action=Action.IMPORT_INVENTORY
    )
    form = InventoryForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data.get("file")
        data = upload.read() if upload else form.cleaned_data["text"]
        try:
            result = services.inventory_import(
                server=server,
                data=data,
                format=form.cleaned_data.get("format") or None,
                source=SnapshotSource.UPLOAD if upload else SnapshotSource.PASTE,
                by=request.user,
            )
        except services.InventoryRejected as error:
            form.add_error("file" if upload else "text", error.messages[0])
        else:
            if result.created:
                messages.success(request, _("Inventory imported: %(s)s.") % {"s": result.summary()})
            else:
                messages.info(
                    request,
                    _("Same listing as the latest snapshot; nothing new stored (%(s)s).")
                    % {"s": result.summary()},
                )
            return redirect("server_detail", server_id=server.pk)
    return _render_detail(request, server, import_form=form, status=400)


@login_required
@require_safe
def server_diff(request: HttpRequest, server_id: int) -> HttpResponse:
    server = selectors.server_get_for_user(user=request.user, server_id=server_id)
    snapshots = list(
        selectors.server_snapshots(server=server).exclude(format="apt-upgradable")[:200]
    )
    by_id = {s.pk: s for s in snapshots}

    def pick(name: str, default):
        value = request.GET.get(name, "")
        return by_id.get(int(value)) if value.isdecimal() else default

    new = pick("b", snapshots[0] if snapshots else None)
    old = pick("a", snapshots[1] if len(snapshots) > 1 else None)
    changes = []
    if old is not None and new is not None:
        if old.taken_at > new.taken_at:
            old, new = new, old
        # Only the two blobs compared are loaded.
        blobs = dict(server.snapshots.filter(pk__in=[old.pk, new.pk]).values_list("pk", "data"))
        old.data, new.data = blobs[old.pk], blobs[new.pk]
        changes = snapshot_diff(old, new)
    counts = {}
    for change in changes:
        counts[change.kind] = counts.get(change.kind, 0) + 1
    return render(
        request,
        "servers/server_diff.html",
        {
            "server": server,
            "snapshots": snapshots,
            "old": old,
            "new": new,
            "changes": changes,
            "counts": counts,
        },
    )


# --- fleet ---------------------------------------------------------------------------


@login_required
@require_safe
def fleet_search(request: HttpRequest) -> HttpResponse:
    team = _team(request)
    form = FleetSearchForm(request.GET or None)
    hits = []
    searched = False
    if form.is_valid() and form.cleaned_data["name"]:
        searched = True
        hits = selectors.fleet_package_search(
            user=request.user,
            team=team,
            name=form.cleaned_data["name"],
            below=form.cleaned_data["below"],
            environment=form.cleaned_data["environment"],
        )
        if request.GET.get("export") == "csv":
            return csv_response(
                f"fleet-{form.cleaned_data['name']}.csv",
                ["hostname", "environment", "version", "architecture", "candidate", "security"],
                (
                    [
                        hit.hostname,
                        hit.environment,
                        hit.version,
                        hit.architecture,
                        hit.candidate,
                        "yes" if hit.is_security else "",
                    ]
                    for hit in hits
                ),
            )
    params = {k: v for k, v in request.GET.items() if k in ("name", "below", "environment") and v}
    # The page shows 100 rows at a time (the CSV has them all).
    page = Paginator(hits, FLEET_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "servers/fleet_search.html",
        {
            "form": form,
            "hits": hits,
            "page": page,
            "query": urlencode(params),
            "searched": searched,
            "export_url": "?" + urlencode({**params, "export": "csv"}),
            # The answer can become a plan's scope (issue 17).
            "fleet_params": params,
            "can_plan": user_can(user=request.user, team_id=team.pk, action=Action.EDIT_PLAN),
        },
    )


@login_required
@require_safe
def fleet_updates(request: HttpRequest) -> HttpResponse:
    team = _team(request)
    overview = selectors.fleet_pending_overview(user=request.user, team=team)
    return render(request, "servers/fleet_updates.html", overview)


# --- CSV import of servers ---------------------------------------------------------


@login_required
def server_csv_import(request: HttpRequest) -> HttpResponse:
    team = _team(request, Action.MANAGE_SERVERS)
    form = CsvImportForm(request.POST or None, request.FILES or None)
    rows = None
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data["data"]
        try:
            if request.POST.get("step") == "import":
                created, rows = csv_import.servers_csv_import(
                    team=team,
                    data=data,
                    only_valid=form.cleaned_data["only_valid"],
                    by=request.user,
                )
                messages.success(
                    request,
                    ngettext("Imported %(n)s server.", "Imported %(n)s servers.", created)
                    % {"n": created},
                )
                return redirect("server_list")
            rows = csv_import.servers_csv_check(team=team, data=data)
            text = data if isinstance(data, str) else data.decode("utf-8-sig")
            form = CsvImportForm(initial={"content": text})
        except ValidationError as error:
            form.add_error(None, error)
            status = 400
            if request.POST.get("step") == "import":
                try:
                    rows = csv_import.servers_csv_check(team=team, data=data)
                except ValidationError:
                    rows = None
    elif request.method == "POST":
        status = 400
    return render(
        request,
        "servers/server_csv_import.html",
        {
            "form": form,
            "rows": rows,
            "bad": sum(1 for r in rows if not r.ok) if rows else 0,
            "good": sum(1 for r in rows if r.ok) if rows else 0,
            "columns": csv_import.COLUMNS,
        },
        status=status,
    )


# --- inventory tokens ----------------------------------------------------------------


@login_required
def token_list(request: HttpRequest) -> HttpResponse:
    team = _team(request)
    can_manage = user_can(user=request.user, team_id=team.pk, action=Action.MANAGE_TEAM)
    form = TokenForm(request.POST or None)
    raw = None
    status = 200
    if request.method == "POST":
        check_team_action(user=request.user, team_id=team.pk, action=Action.MANAGE_TEAM)
        if form.is_valid():
            token, raw = services.token_create(team=team, by=request.user, **form.cleaned_data)
            form = TokenForm()
        else:
            status = 400
    return render(
        request,
        "servers/token_list.html",
        {
            "team": team,
            "tokens": list(selectors.tokens_for_team(team=team)) if can_manage else [],
            "form": form,
            "raw": raw,
            "can_manage": can_manage,
            "site_url": settings.SITE_URL,
        },
        status=status,
    )


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = selectors.token_get_for_user(
        user=request.user, token_id=token_id, action=Action.MANAGE_TEAM
    )
    services.token_revoke(token=token, by=request.user)
    messages.success(request, _("Token %(name)s revoked.") % {"name": token.name})
    return redirect("team_api_tokens")

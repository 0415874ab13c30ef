"""Vulnerability pages: thin views over the selectors and services."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from patchplan.core.csv_export import csv_response
from patchplan.teams.roles import Action
from patchplan.teams.selectors import check_team_action, user_can
from servers.choices import Environment
from servers.selectors import server_get_for_user

from . import selectors, services
from .choices import Severity
from .feeds import FeedError
from .forms import FeedUploadForm, RemediationPolicyForm
from .models import RemediationPolicy

PAGE_SIZE = 50
SERVER_SECTION_LIMIT = 100


def _team(request: HttpRequest, action: str = Action.VIEW):
    if request.team is None:
        raise Http404("You are not in a team yet.")
    check_team_action(user=request.user, team_id=request.team.pk, action=action)
    return request.team


@login_required
@require_safe
def vulnerability_list(request: HttpRequest) -> HttpResponse:
    team = _team(request)
    filters = selectors.VulnerabilityFilters.from_query(request.GET)
    rows = selectors.team_vulnerabilities(team=team, filters=filters)
    if request.GET.get("format") == "csv":
        return csv_response(
            "vulnerabilities.csv",
            [
                "id",
                "severity",
                "cvss",
                "known_exploited",
                "package",
                "servers",
                "production",
                "critical_servers",
                "fix_available_on",
                "in_plan",
                "first_seen",
            ],
            (
                [
                    r["ident"],
                    r["severity"],
                    r["cvss_score"] or "",
                    "yes" if r["known_exploited"] else "no",
                    r["first_package"],
                    r["servers"],
                    r["production"],
                    r["critical_servers"],
                    r["fixable"],
                    "yes" if r["planned"] else "no",
                    r["first_seen"].isoformat(),
                ]
                for r in rows.iterator()
            ),
        )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = {k: v for k, v in filters.__dict__.items() if v}
    return render(
        request,
        "advisories/vulnerability_list.html",
        {
            "page": page,
            "filters": filters,
            "query": urlencode(query),
            "severities": Severity.choices,
            "environments": Environment.choices,
            "sources": selectors.source_states(),
            "fleet_run": selectors.latest_fleet_run(),
            "can_plan": user_can(user=request.user, team_id=team.pk, action=Action.EDIT_PLAN),
        },
    )


@login_required
@require_safe
def vulnerability_detail(request: HttpRequest, ident: str) -> HttpResponse:
    team = _team(request)
    vulnerability = selectors.vulnerability_get(ident=ident)
    matches = list(
        selectors.vulnerability_team_matches(team=team, vulnerability=vulnerability)[:500]
    )
    return render(
        request,
        "advisories/vulnerability_detail.html",
        {
            "vuln": vulnerability,
            "matches": matches,
            "resolved": selectors.vulnerability_resolved_count(
                team=team, vulnerability=vulnerability
            ),
            "plans": list(selectors.plans_covering(team=team, ident=vulnerability.ident)),
            "releases": list(selectors.vulnerability_releases(vulnerability=vulnerability)[:200]),
            "can_plan": user_can(user=request.user, team_id=team.pk, action=Action.EDIT_PLAN),
        },
    )


@login_required
@require_POST
def vulnerability_plan_fix(request: HttpRequest, ident: str) -> HttpResponse:
    team = _team(request, Action.EDIT_PLAN)
    vulnerability = selectors.vulnerability_get(ident=ident)
    try:
        plan = services.plan_the_fix(team=team, vulnerabilities=[vulnerability], by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("vulnerability_detail", ident=vulnerability.ident)
    return _planned(request, plan)


@login_required
@require_POST
def vulnerability_selection_plan_fix(request: HttpRequest) -> HttpResponse:
    """ "Plan the fix" for the CVEs ticked on the list: one plan covering them all.
    A bad selection goes back to the list (its filters kept) with the reason."""
    team = _team(request, Action.EDIT_PLAN)
    idents = [i.strip() for i in request.POST.getlist("ident") if i.strip()]
    filters = selectors.VulnerabilityFilters.from_query(QueryDict(request.POST.get("query", "")))
    if request.POST.get("server"):
        # From a server page: back there (a server of this team, else 404).
        server = server_get_for_user(user=request.user, server_id=_int(request.POST["server"]))
        if server.team_id != team.pk:
            raise Http404("No such server.")
        back = reverse("server_detail", args=[server.pk])
    else:
        query = urlencode({k: v for k, v in filters.__dict__.items() if v})
        back = reverse("vulnerability_list") + (f"?{query}" if query else "")
    # One more than allowed is enough for the service to refuse too many.
    idents = list(dict.fromkeys(idents))[: services.MAX_SELECTION + 1]
    found = selectors.vulnerabilities_by_ident(idents=idents)
    unknown = sorted(set(idents) - {v.ident for v in found})
    try:
        if unknown:
            raise ValidationError(
                _("Unknown vulnerability: %(ids)s.") % {"ids": ", ".join(unknown[:10])}
            )
        plan = services.plan_the_fix(team=team, vulnerabilities=found, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(back)
    return _planned(request, plan)


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise Http404("No such server.") from None


def _planned(request: HttpRequest, plan) -> HttpResponse:
    messages.success(
        request,
        _("Plan created with %(n)d servers in scope; review it and send it for review.")
        % {"n": plan.servers.count()},
    )
    return redirect("plan_detail", plan_id=plan.pk)


@login_required
@require_safe
def server_vulnerabilities(request: HttpRequest, server_id: int) -> HttpResponse:
    """The open-CVE section of the server page (loaded into it with htmx)."""
    server = server_get_for_user(user=request.user, server_id=server_id)
    matched, total = selectors.server_source_coverage(server=server)
    matches = list(selectors.server_open_matches(server=server)[: SERVER_SECTION_LIMIT + 1])
    return render(
        request,
        "advisories/partials/_server_vulnerabilities.html",
        {
            "server": server,
            "matches": matches[:SERVER_SECTION_LIMIT],
            "more": len(matches) > SERVER_SECTION_LIMIT,
            "matched": matched,
            "total": total,
            "release": server.effective_release,
            "can_plan": user_can(
                user=request.user, team_id=server.team_id, action=Action.EDIT_PLAN
            ),
        },
    )


@login_required
@require_safe
def remediation_card(request: HttpRequest) -> HttpResponse:
    """The dashboard's remediation card (loaded with htmx, outside the dashboard's
    own query budget): open CVEs against the team's targets."""
    team = _team(request)
    return render(
        request,
        "advisories/partials/_posture.html",
        {"posture": selectors.remediation_posture(team=team), "compact": True},
    )


def _require_staff(request: HttpRequest) -> None:
    # Advisory data is global (every team reads it): only site staff replace it.
    if not request.user.is_staff:
        raise PermissionDenied(_("Only site administrators manage advisory feeds."))


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def advisory_sources(request: HttpRequest) -> HttpResponse:
    """Feed states (last refresh, last error) for everyone; upload for staff."""
    form = None
    status = 200
    if request.user.is_staff:
        form = FeedUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        _require_staff(request)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                stats = services.advisories_import(
                    source=form.cleaned_data["source"],
                    location=f"upload:{upload.name}"[:500],
                    stream=upload.file,
                )
            except FeedError as error:
                form.add_error("file", str(error))
            else:
                messages.success(request, stats.summary())
                return redirect("advisory_sources")
        status = 400
    return render(
        request,
        "advisories/sources.html",
        {
            "sources": selectors.source_states(),
            "fleet_run": selectors.latest_fleet_run(),
            "form": form,
            "settings_sources": services.source_settings(),
            "refresh_on": settings.CELERY_ADVISORY_REFRESH,
            "refresh_hours": settings.CELERY_ADVISORY_REFRESH_HOURS,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def remediation_targets_edit(request: HttpRequest) -> HttpResponse:
    team = _team(request, Action.MANAGE_TEAM if request.method == "POST" else Action.VIEW)
    policy = RemediationPolicy.objects.filter(team_id=team.pk).first() or RemediationPolicy(
        team=team
    )
    form = RemediationPolicyForm(request.POST or None, instance=policy)
    if request.method == "POST" and form.is_valid():
        try:
            services.remediation_policy_set(team=team, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field, errors)
        else:
            messages.success(request, _("Remediation targets saved."))
            return redirect("remediation_targets")
    return render(
        request,
        "advisories/remediation_targets.html",
        {
            "form": form,
            "can_edit": user_can(user=request.user, team_id=team.pk, action=Action.MANAGE_TEAM),
            "posture": selectors.remediation_posture(team=team),
        },
        status=400 if request.method == "POST" else 200,
    )

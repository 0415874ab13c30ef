"""Report pages: each one a chart, the table behind it, a CSV export of the same
rows and a date range. Read-only; the current team, VIEW action."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from patchplan.advisories.selectors import remediation_posture, remediation_trend
from patchplan.core.csv_export import csv_response

from . import charts, selectors
from .forms import PostureFilterForm, ReportFilterForm


def _period(form) -> selectors.Period | None:
    if not form.is_valid():
        return None
    return selectors.period(form.cleaned_data["start"], form.cleaned_data["end"])


def _iso(value) -> str:
    return "" if value is None else timezone.localtime(value).isoformat(timespec="minutes")


def _invalid(request: HttpRequest, template: str, form, team) -> HttpResponse:
    return render(request, template, {"form": form, "team": team, "invalid": True}, status=400)


@login_required
@require_safe
def report_index(request: HttpRequest) -> HttpResponse:
    team = selectors.report_team(user=request.user, team=request.team)
    return render(request, "reports/index.html", {"team": team})


@login_required
@require_safe
def posture(request: HttpRequest) -> HttpResponse:
    team = selectors.report_team(user=request.user, team=request.team)
    form = PostureFilterForm(request.GET or {})
    if not form.is_valid():
        return _invalid(request, "reports/posture.html", form, team)
    p = _period(form)
    as_csv = request.GET.get("format") == "csv"
    data = selectors.fleet_posture(
        team=team,
        p=p,
        stale_days=form.cleaned_data["stale_days"],
        # The export has every row; the page shows the first TABLE_LIMIT.
        limit=None if as_csv else selectors.TABLE_LIMIT,
    )
    table = request.GET.get("table", "")
    if as_csv:
        if table == "aging":
            return csv_response(
                "security-aging.csv",
                ["hostname", "environment", "criticality", "pending_security", "since", "days"],
                (
                    (
                        s.hostname,
                        s.environment,
                        s.criticality,
                        s.pending_security,
                        _iso(s.since),
                        s.age_days,
                    )
                    for s in data.aging
                ),
            )
        if table == "stale":
            return csv_response(
                "stale-inventory.csv",
                ["hostname", "environment", "last_inventory_at", "days"],
                (
                    (s.hostname, s.environment, _iso(s.last_inventory_at), s.age_days)
                    for s in data.stale
                ),
            )
        if table == "trend":
            return csv_response(
                "security-trend.csv",
                ["date", "pending_security_updates"],
                ((d.isoformat(), v) for d, v in data.trend),
            )
        return csv_response(
            "security-posture.csv",
            ["environment", "criticality", "servers", "with_security_updates", "security_updates"],
            (
                (c.environment, c.criticality, c.servers, c.with_security, c.security_updates)
                for c in data.cells
            ),
        )
    return render(
        request,
        "reports/posture.html",
        {
            "team": team,
            "form": form,
            "period": p,
            "data": data,
            "charts": charts.posture_charts(data),
            "query": request.GET.urlencode(),
            # Open CVEs against the team's remediation targets (advisories).
            "posture": remediation_posture(team=team),
            "cve_trend": remediation_trend(team=team),
        },
    )


@login_required
@require_safe
def plans(request: HttpRequest) -> HttpResponse:
    team = selectors.report_team(user=request.user, team=request.team)
    form = ReportFilterForm(request.GET or {})
    if not form.is_valid():
        return _invalid(request, "reports/plans.html", form, team)
    p = _period(form)
    data = selectors.plans_report(team=team, p=p)
    table = request.GET.get("table", "")
    if request.GET.get("format") == "csv":
        if table == "completed":
            return csv_response(
                "plans-completed.csv",
                ["plan", "kind", "created_at", "completed_at", "days"],
                (
                    (c.title, c.kind, _iso(c.created_at), _iso(c.completed_at), c.days)
                    for c in data.completed
                ),
            )
        if table == "leads":
            return csv_response(
                "signoff-lead-times.csv",
                ["plan", "milestone", "requested_at", "signed_off_at", "hours"],
                (
                    (
                        lead.plan_title,
                        lead.name,
                        _iso(lead.requested_at),
                        _iso(lead.signed_off_at),
                        lead.hours,
                    )
                    for lead in data.leads
                ),
            )
        return csv_response(
            "plans-by-status.csv",
            ["status", "kind", "plans"],
            ((s, k, n) for (s, k), n in sorted(data.by_status_kind.items())),
        )
    return render(
        request,
        "reports/plans.html",
        {
            "team": team,
            "form": form,
            "period": p,
            "data": data,
            "charts": charts.plans_charts(data),
            "query": request.GET.urlencode(),
        },
    )


@login_required
@require_safe
def downtime(request: HttpRequest) -> HttpResponse:
    team = selectors.report_team(user=request.user, team=request.team)
    form = ReportFilterForm(request.GET or {})
    if not form.is_valid():
        return _invalid(request, "reports/downtime.html", form, team)
    p = _period(form)
    data = selectors.downtime_report(team=team, p=p)
    if request.GET.get("format") == "csv":
        return csv_response(
            "downtime.csv",
            [
                "plan",
                "window",
                "starts_at",
                "ends_at",
                "actual_starts_at",
                "actual_ends_at",
                "planned_minutes",
                "actual_minutes",
                "overrun_minutes",
                "expected_downtime_minutes",
                "actual_downtime_minutes",
            ],
            (
                (
                    w.plan_title,
                    w.title,
                    _iso(w.starts_at),
                    _iso(w.ends_at),
                    _iso(w.actual_starts_at),
                    _iso(w.actual_ends_at),
                    w.planned,
                    w.actual,
                    w.overrun,
                    w.expected_downtime,
                    w.actual_downtime,
                )
                for w in data.windows
            ),
        )
    return render(
        request,
        "reports/downtime.html",
        {
            "team": team,
            "form": form,
            "period": p,
            "data": data,
            "charts": charts.downtime_charts(data),
            "table_rows": data.windows[-100:],
            "query": request.GET.urlencode(),
        },
    )

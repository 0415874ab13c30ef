"""The plan list: filters, search, whitelisted sort, pagination, the default
order (security plans with critical risk first), and its query budget."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from plans.choices import PlanKind, PlanStatus, Risk
from plans.models import Plan, PlanReference
from tests import factories

pytestmark = pytest.mark.django_db


def _titles(response) -> list[str]:
    return [p.title for p in response.context["page"]]


@pytest.fixture
def plans(team, planner, admin):
    P = factories.PlanFactory
    out = {
        "routine": P(team=team, owner=planner, title="Routine May", kind=PlanKind.ROUTINE_CYCLE,
                     risk=Risk.CRITICAL),
        "sec-low": P(team=team, owner=planner, title="Sudo fix", kind=PlanKind.SECURITY_PATCH,
                     risk=Risk.LOW, status=PlanStatus.APPROVED),
        "sec-crit": P(team=team, owner=admin, title="OpenSSL fix", kind=PlanKind.SECURITY_PATCH,
                      risk=Risk.CRITICAL, objective="Heartbleed again"),
        "pg": P(team=team, owner=admin, title="PostgreSQL 16", kind=PlanKind.SOFTWARE_UPGRADE,
                risk=Risk.HIGH, status=PlanStatus.IN_PROGRESS),
    }  # fmt: skip
    PlanReference.objects.create(plan=out["sec-low"], kind="cve", identifier="CVE-2023-22809")
    return out


def test_default_order_puts_critical_security_plans_first(client_for, planner, plans, outsider):
    response = client_for(planner).get("/plans/")
    titles = _titles(response)
    assert titles[0] == "OpenSSL fix"
    # then by risk: critical routine, high, low
    assert titles[1:] == ["Routine May", "PostgreSQL 16", "Sudo fix"]
    assert client_for(outsider).get("/plans/").context["page"].paginator.count == 0


@pytest.mark.parametrize(
    "query,expected",
    [
        ({"status": "approved"}, {"Sudo fix"}),
        ({"kind": "security_patch"}, {"Sudo fix", "OpenSSL fix"}),
        ({"risk": "critical"}, {"Routine May", "OpenSSL fix"}),
        ({"q": "postgres"}, {"PostgreSQL 16"}),
        ({"q": "heartbleed"}, {"OpenSSL fix"}),
        ({"q": "CVE-2023-22809"}, {"Sudo fix"}),
        ({"status": "bogus"}, {"Routine May", "Sudo fix", "OpenSSL fix", "PostgreSQL 16"}),
    ],
)
def test_filters_and_search(client_for, planner, plans, query, expected):
    assert set(_titles(client_for(planner).get("/plans/", query))) == expected


def test_owner_filter(client_for, planner, admin, plans):
    response = client_for(planner).get("/plans/", {"owner": admin.pk})
    assert set(_titles(response)) == {"OpenSSL fix", "PostgreSQL 16"}
    # The filter offers the team's people, the chosen one selected.
    page = response.content.decode()
    assert f'<option value="{admin.pk}" selected>{admin.display_name}</option>' in page
    assert f'<option value="{planner.pk}">{planner.display_name}</option>' in page


def test_window_this_week_filter(client_for, planner, plans):
    now = timezone.now()
    factories.WindowFactory(plan=plans["pg"], starts_at=now, ends_at=now + dt.timedelta(hours=1))
    factories.WindowFactory(
        plan=plans["routine"],
        starts_at=now + dt.timedelta(days=20),
        ends_at=now + dt.timedelta(days=20, hours=1),
    )
    factories.WindowFactory(
        plan=plans["sec-low"],
        starts_at=now,
        ends_at=now + dt.timedelta(hours=1),
        cancelled_at=now,
    )
    assert _titles(client_for(planner).get("/plans/", {"week": "1"})) == ["PostgreSQL 16"]


@pytest.mark.parametrize(
    "sort,first",
    [
        ("title", "OpenSSL fix"),
        ("-title", "Sudo fix"),
        ("-risk", "OpenSSL fix"),
        ("risk", "Sudo fix"),
        ("status", "OpenSSL fix"),
        ("-status", "PostgreSQL 16"),
        ("created", "Routine May"),
        ("-created", "PostgreSQL 16"),
        ("drop table", "OpenSSL fix"),
    ],
)
def test_sort_is_whitelisted(client_for, planner, plans, sort, first):
    assert _titles(client_for(planner).get("/plans/", {"sort": sort}))[0] == first


def test_pagination_is_50_and_keeps_filters(client_for, planner, team):
    Plan.objects.bulk_create(
        Plan(team=team, owner=planner, title=f"P{i:03d}", kind=PlanKind.ROUTINE_CYCLE)
        for i in range(120)
    )
    response = client_for(planner).get("/plans/", {"kind": "routine_cycle", "page": 3})
    assert len(response.context["page"]) == 20
    assert "kind=routine_cycle&amp;page=2" in response.content.decode()


def _make_plans(team, owner, n):
    Plan.objects.bulk_create(
        Plan(team=team, owner=owner, title=f"Bulk {i}", risk=Risk.values[i % 4]) for i in range(n)
    )


def test_list_queries_do_not_grow(client_for, planner, team, django_assert_max_num_queries):
    client = client_for(planner)
    client.get("/plans/")  # warm the session
    # session, user, memberships, owners for the filter, count, the page, its server counts.
    for n in (5, 120):
        _make_plans(team, planner, n)
        with django_assert_max_num_queries(7):
            assert client.get("/plans/").status_code == 200


def test_list_shows_each_plans_server_count(client_for, planner, team, plans):
    plans["pg"].servers.add(*[factories.ServerFactory(team=team) for _ in range(3)])
    rows = {p.title: p.server_count for p in client_for(planner).get("/plans/").context["page"]}
    assert rows["PostgreSQL 16"] == 3 and rows["Sudo fix"] == 0

"""Reports: figures against values worked out by hand on a small fixture, the
CSV exports, the date filter, access, and query budgets at two sizes.

The fixture (team zone Europe/Berlin, the viewer's zone too), `today` = D:
- web-1 production/critical: update listings D-40 (0 security), D-30 (2), D-10 (3);
  3 pending now, inventory 1 day old -> waiting since D-30, 30 days.
  (Listings and inventories are at 12:00 Berlin on their day; ages are calendar
  days in the team's zone, so they hold at any hour of D.)
- db-1 production/high: listing D-20 (1); 1 pending, inventory 20 days old (stale).
- stg-1 staging/medium: listings D-50 (4), D-5 (0); clean, inventory 2 days old.
- dev-1 development/low: never inventoried (stale).
Fleet total over D-60..D: 0 until D-50, 4, (D-40: +0), D-30: 6, D-20: 7, D-10: 8, D-5: 4.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from patchplan.reports import selectors
from patchplan.reports.charts import axis_top, bar_chart, line_chart, nice_ceiling
from plans.choices import ExecutionStatus, PlanKind, PlanStatus
from plans.models import (
    Milestone,
    Plan,
    PlanStatusChange,
    ServerExecution,
    WindowServer,
)
from servers.choices import Criticality, Environment
from servers.models import InventorySnapshot, Server
from tests import factories

BERLIN = ZoneInfo("Europe/Berlin")


def _today():
    return timezone.now().astimezone(BERLIN).date()


def at(days_ago: int, hour: int = 12, minute: int = 0) -> datetime:
    """A local (Berlin) time `days_ago` days before today."""
    return datetime.combine(_today() - timedelta(days=days_ago), time(hour, minute), tzinfo=BERLIN)


def snapshot(server, days_ago: int, security: int) -> InventorySnapshot:
    return snapshot_at(server, at(days_ago), security)


def snapshot_at(server, taken_at: datetime, security: int) -> InventorySnapshot:
    return InventorySnapshot.objects.create(
        server=server,
        taken_at=taken_at,
        format="apt-upgradable",
        source="upload",
        content_hash=f"{server.pk}-{taken_at.isoformat()}",
        data="",
        security_count=security,
        pending_count=security,
    )


def server(team, hostname, env, crit, *, pending: int, inventory_days: int | None):
    return factories.ServerFactory(
        team=team,
        hostname=hostname,
        environment=env,
        criticality=crit,
        pending_security=pending,
        pending_updates=pending,
        last_inventory_at=None if inventory_days is None else at(inventory_days),
    )


@pytest.fixture
def fleet(team):
    web = server(
        team, "web-1", Environment.PRODUCTION, Criticality.CRITICAL, pending=3, inventory_days=1
    )
    db = server(
        team, "db-1", Environment.PRODUCTION, Criticality.HIGH, pending=1, inventory_days=20
    )
    stg = server(
        team, "stg-1", Environment.STAGING, Criticality.MEDIUM, pending=0, inventory_days=2
    )
    dev = server(
        team, "dev-1", Environment.DEVELOPMENT, Criticality.LOW, pending=0, inventory_days=None
    )
    snapshot(web, 40, 0)
    snapshot(web, 30, 2)
    snapshot(web, 10, 3)
    snapshot(db, 20, 1)
    snapshot(stg, 50, 4)
    snapshot(stg, 5, 0)
    # A package listing (not an update listing) must not count.
    InventorySnapshot.objects.create(
        server=web,
        taken_at=at(3),
        format="dpkg-query",
        source="upload",
        content_hash="p",
        data="",
        security_count=99,
    )
    return {"web": web, "db": db, "stg": stg, "dev": dev}


def test_posture_figures_match_the_hand_computed_ones(team, fleet):
    p = selectors.period(_today() - timedelta(days=60), _today(), BERLIN)
    data = selectors.fleet_posture(team=team, p=p, stale_days=7)
    cells = {(c.environment, c.criticality): c for c in data.cells}
    assert (
        cells["production", "critical"].servers,
        cells["production", "critical"].with_security,
        cells["production", "critical"].security_updates,
    ) == (1, 1, 3)
    assert (
        cells["production", "high"].with_security,
        cells["production", "high"].security_updates,
    ) == (1, 1)
    assert cells["staging", "medium"].with_security == 0
    assert (data.servers_total, data.with_security_total) == (4, 2)
    # Waiting longest: web-1 since its first dirty listing after the clean one.
    assert [(s.hostname, s.age_days) for s in data.aging] == [("web-1", 30), ("db-1", 20)]
    assert data.aging_total == 2
    assert [s.hostname for s in data.stale] == ["dev-1", "db-1"]  # never, then oldest
    assert data.stale_total == 2
    trend = dict(data.trend)
    assert trend[_today() - timedelta(days=60)] == 0
    assert trend[_today() - timedelta(days=50)] == 4
    assert trend[_today() - timedelta(days=35)] == 4
    assert trend[_today() - timedelta(days=30)] == 6
    assert trend[_today() - timedelta(days=20)] == 7
    assert trend[_today() - timedelta(days=10)] == 8
    assert trend[_today() - timedelta(days=5)] == 4
    assert data.trend[-1] == (_today(), 4)  # the fleet's pending_security sum now
    assert len(data.trend) == 61


def test_posture_trend_starts_from_the_listings_before_the_period(team, fleet):
    # From D-25: web-1 had 2 (D-30), stg-1 4 (D-50), db-1 nothing yet.
    p = selectors.period(_today() - timedelta(days=25), _today(), BERLIN)
    trend = dict(selectors.fleet_posture(team=team, p=p).trend)
    assert trend[_today() - timedelta(days=25)] == 6
    assert trend[_today() - timedelta(days=20)] == 7
    assert trend[_today()] == 4


def test_stale_threshold_is_a_parameter(client_for, admin, fleet):
    body = client_for(admin).get(reverse("report_posture") + "?stale_days=30").content.decode()
    assert 'data-testid="stale-total">1<' in body
    body = client_for(admin).get(reverse("report_posture") + "?stale_days=7").content.decode()
    assert 'data-testid="stale-total">2<' in body


@pytest.mark.parametrize(
    ("now", "since", "days"),
    [
        # Seen yesterday evening: 1 day this morning, though only 2 hours passed.
        ("2027-01-05T00:30+01:00", "2027-01-04T22:30+01:00", 1),
        # Seen this morning: 0 days this evening, though 12 hours passed.
        ("2027-01-05T23:30+01:00", "2027-01-05T11:30+01:00", 0),
        # Across the spring DST change (a 23-hour day) and the year's end.
        ("2027-03-29T00:30+02:00", "2027-03-27T23:30+01:00", 2),
        ("2027-01-01T00:30+01:00", "2026-12-31T23:30+01:00", 1),
    ],
)
def test_age_counts_calendar_days_in_the_team_zone(team, now, since, days):
    now, since = datetime.fromisoformat(now), datetime.fromisoformat(since)
    server = factories.ServerFactory(team=team, pending_security=1, last_inventory_at=since)
    snapshot_at(server, since, security=1)
    with time_machine.travel(now, tick=False):
        p = selectors.period(now.date() - timedelta(days=7), now.date(), BERLIN)
        data = selectors.fleet_posture(team=team, p=p, stale_days=days)
    assert [s.age_days for s in data.aging] == [days]
    # Stale means older than `stale_days` calendar days: not yet at exactly that age.
    assert data.stale == []
    data = selectors.fleet_posture(team=team, p=p, now=now, stale_days=max(days - 1, 0))
    assert [s.age_days for s in data.stale] == ([days] if days else [])


def test_posture_page_shows_chart_table_and_csv(client_for, admin, fleet):
    client = client_for(admin)
    response = client.get(reverse("report_posture"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "<svg" in body and '<title id="by-env-title">' in body and "<desc" in body
    assert 'data-testid="with-security">2<' in body
    assert "web-1" in body and "dev-1" in body
    csv_response = client.get(reverse("report_posture") + "?format=csv&table=aging")
    assert csv_response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(csv_response.content.decode())))
    assert rows[0][0] == "hostname"
    assert [(r[0], r[5]) for r in rows[1:]] == [("web-1", "30"), ("db-1", "20")]
    matrix = list(
        csv.reader(
            io.StringIO(client.get(reverse("report_posture") + "?format=csv").content.decode())
        )
    )
    assert ["production", "critical", "1", "1", "3"] in matrix


# --- Plans -------------------------------------------------------------------


@pytest.fixture
def plan_history(team, planner):
    now = timezone.now()
    a = factories.PlanFactory(
        team=team,
        owner=planner,
        title="Alpha",
        status=PlanStatus.COMPLETED,
        kind=PlanKind.SECURITY_PATCH,
    )
    b = factories.PlanFactory(
        team=team,
        owner=planner,
        title="Bravo",
        status=PlanStatus.DRAFT,
        kind=PlanKind.SOFTWARE_UPGRADE,
    )
    c = factories.PlanFactory(
        team=team,
        owner=planner,
        title="Charlie",
        status=PlanStatus.COMPLETED,
        kind=PlanKind.OS_UPGRADE,
    )
    factories.PlanFactory(
        team=team, owner=planner, title="Template", is_template=True, status=PlanStatus.COMPLETED
    )
    Plan.objects.filter(pk=a.pk).update(
        created_at=now - timedelta(days=100), completed_at=now - timedelta(days=70)
    )
    Plan.objects.filter(pk=b.pk).update(created_at=now - timedelta(days=20))
    Plan.objects.filter(pk=c.pk).update(
        created_at=now - timedelta(days=400), completed_at=now - timedelta(days=10)
    )
    # Alpha sent for review at D-95; assessment signed 5 days later (120 h), testing
    # 30 h after that. Charlie's assessment: no review recorded -> from its creation.
    PlanStatusChange.objects.create(
        plan=a, from_status="draft", to_status="in_review", at=now - timedelta(days=95)
    )
    Milestone.objects.create(
        plan=a, name="assessment", position=0, signed_off_at=now - timedelta(days=90)
    )
    Milestone.objects.create(
        plan=a,
        name="testing",
        position=1,
        signed_off_at=now - timedelta(days=90) + timedelta(hours=30),
    )
    Milestone.objects.create(plan=a, name="deployment", position=2)
    Milestone.objects.create(
        plan=c, name="assessment", position=0, signed_off_at=now - timedelta(days=12)
    )
    return {"a": a, "b": b, "c": c}


def test_plans_report_figures_match_the_hand_computed_ones(team, plan_history):
    p = selectors.period(_today() - timedelta(days=180), _today(), BERLIN)
    data = selectors.plans_report(team=team, p=p)
    assert data.by_status_kind == {
        ("completed", "security_patch"): 1,
        ("draft", "software_upgrade"): 1,
    }
    assert data.total == 2
    assert [(c.title, c.days) for c in data.completed] == [("Alpha", 30.0), ("Charlie", 390.0)]
    assert data.median_days_to_complete == 210.0
    leads = {(lead.plan_title, lead.name): lead.hours for lead in data.leads}
    assert leads == {
        ("Alpha", "assessment"): 120.0,
        ("Alpha", "testing"): 30.0,
        ("Charlie", "assessment"): 388 * 24.0,
    }
    summary = {s.name: (s.count, s.median_hours, s.max_hours) for s in data.lead_summary()}
    assert summary == {"assessment": (2, (120 + 9312) / 2, 9312.0), "testing": (1, 30.0, 30.0)}


def test_plans_report_period_excludes_older_sign_offs(team, plan_history):
    p = selectors.period(_today() - timedelta(days=30), _today(), BERLIN)
    data = selectors.plans_report(team=team, p=p)
    assert [lead.plan_title for lead in data.leads] == ["Charlie"]
    assert [c.title for c in data.completed] == ["Charlie"]
    assert data.by_status_kind == {("draft", "software_upgrade"): 1}


def test_plans_report_page_and_csv(client_for, planner, plan_history):
    client = client_for(planner)
    body = client.get(reverse("report_workflow")).content.decode()
    assert 'data-testid="plans-total">2<' in body
    assert 'data-testid="completed-count">2<' in body
    assert body.count('<figure class="report-chart') == 3
    rows = list(
        csv.reader(
            io.StringIO(
                client.get(reverse("report_workflow") + "?format=csv&table=leads").content.decode()
            )
        )
    )
    assert rows[0] == ["plan", "milestone", "requested_at", "signed_off_at", "hours"]
    assert {(r[0], r[1], r[4]) for r in rows[1:]} == {
        ("Alpha", "assessment", "120.0"),
        ("Alpha", "testing", "30.0"),
        ("Charlie", "assessment", "9312.0"),
    }


# --- Downtime ----------------------------------------------------------------


@pytest.fixture
def windows(team, planner, other_team, outsider):
    plan = factories.PlanFactory(team=team, owner=planner, title="Kernel")
    hosts = [factories.ServerFactory(team=team) for _ in range(2)]
    # Across midnight: planned 22:00-00:00 (120 min), ran 22:05-00:35 (150): +30.
    w1 = factories.WindowFactory(
        plan=plan,
        title="Overrun",
        starts_at=at(30, 22),
        ends_at=at(29, 0),
        actual_starts_at=at(30, 22, 5),
        actual_ends_at=at(29, 0, 35),
    )
    WindowServer.objects.bulk_create(
        WindowServer(window=w1, server=h, expected_downtime_minutes=15) for h in hosts
    )
    for h, minutes in zip(hosts, (20, 25), strict=True):
        ServerExecution.objects.create(
            plan=plan,
            window=w1,
            server=h,
            downtime_minutes=minutes,
            status=ExecutionStatus.VERIFIED,
        )
    # Planned 60, took 50.
    factories.WindowFactory(
        plan=plan,
        title="Quick",
        starts_at=at(10, 1),
        ends_at=at(10, 2),
        actual_starts_at=at(10, 1),
        actual_ends_at=at(10, 1, 50),
    )
    # Not run yet; cancelled; another team's overrun.
    factories.WindowFactory(plan=plan, title="Later", starts_at=at(-3, 1), ends_at=at(-3, 2))
    factories.WindowFactory(
        plan=plan,
        title="Called off",
        starts_at=at(5, 1),
        ends_at=at(5, 2),
        cancelled_at=timezone.now(),
        actual_starts_at=at(5, 1),
        actual_ends_at=at(5, 9),
    )
    other = factories.PlanFactory(team=other_team, owner=outsider, title="Red plan")
    factories.WindowFactory(
        plan=other,
        title="Red window",
        starts_at=at(7, 1),
        ends_at=at(7, 2),
        actual_starts_at=at(7, 1),
        actual_ends_at=at(7, 6),
    )
    return w1


def test_downtime_figures_match_the_hand_computed_ones(team, windows):
    p = selectors.period(_today() - timedelta(days=60), _today() + timedelta(days=10), BERLIN)
    data = selectors.downtime_report(team=team, p=p)
    by_title = {w.title: w for w in data.windows}
    assert set(by_title) == {"Overrun", "Quick", "Later"}
    overrun = by_title["Overrun"]
    assert (overrun.planned, overrun.actual, overrun.overrun) == (120, 150, 30)
    assert (overrun.expected_downtime, overrun.actual_downtime) == (30, 45)
    assert (by_title["Quick"].planned, by_title["Quick"].actual, by_title["Quick"].overrun) == (
        60,
        50,
        0,
    )
    assert by_title["Later"].actual is None
    assert len(data.recorded) == 2
    assert data.overrun_count == 1
    assert data.overrun_rate == 50.0
    assert [w.title for w in data.worst] == ["Overrun"]
    assert (data.planned_total, data.actual_total) == (180, 200)


def test_downtime_page_and_csv(client_for, planner, windows):
    planner.time_zone = "America/New_York"
    planner.save()
    client = client_for(planner)
    body = client.get(reverse("report_downtime")).content.decode()
    assert 'data-testid="overrun-rate">50.0%<' in body
    assert "Overrun" in body and "Red window" not in body
    assert "<svg" in body and 'id="windows-desc"' in body
    # The times beside each window's link name the zone they are in.
    assert body.count("Planned (America/New_York)") == 2
    rows = list(
        csv.reader(
            io.StringIO(client.get(reverse("report_downtime") + "?format=csv").content.decode())
        )
    )
    header, data = rows[0], rows[1:]
    assert header[6:9] == ["planned_minutes", "actual_minutes", "overrun_minutes"]
    assert [(r[1], r[6], r[7], r[8]) for r in data] == [
        ("Overrun", "120", "150", "30"),
        ("Quick", "60", "50", "0"),
    ]


def test_csv_cells_cannot_become_formulas(client_for, planner, team):
    plan = factories.PlanFactory(team=team, owner=planner, title='=HYPERLINK("x")')
    factories.WindowFactory(plan=plan, starts_at=at(3, 1), ends_at=at(3, 2))
    text = client_for(planner).get(reverse("report_downtime") + "?format=csv").content.decode()
    assert "'=HYPERLINK" in text


# --- Date filter and access --------------------------------------------------


@pytest.mark.parametrize("name", ["report_posture", "report_workflow", "report_downtime"])
@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("start=2026-02-30", "start", "Enter a valid date."),
        ("start=2026-03-10&end=2026-03-01", "end", "on or after the start date"),
        ("start=2010-01-01&end=2026-01-01", "start", "at most three years"),
    ],
)
def test_bad_dates_get_a_message_by_the_field(client_for, viewer, name, query, field, message):
    response = client_for(viewer).get(reverse(name) + "?" + query)
    assert response.status_code == 400
    body = response.content.decode()
    assert f'id="id_{field}-error"' in body
    error = body.split(f'id="id_{field}-error">')[1].split("<")[0]
    assert message in error
    assert "report-chart" not in body


def test_stale_days_must_be_a_positive_number(client_for, viewer):
    response = client_for(viewer).get(reverse("report_posture") + "?stale_days=-3")
    assert response.status_code == 400
    assert 'id="id_stale_days-error"' in response.content.decode()


def test_date_range_filters_the_downtime_report(client_for, planner, windows):
    start = (_today() - timedelta(days=15)).isoformat()
    body = (
        client_for(planner)
        .get(reverse("report_downtime") + f"?start={start}&end={_today().isoformat()}")
        .content.decode()
    )
    assert "Quick" in body and "Overrun" not in body


@pytest.mark.parametrize(
    "name", ["reports_index", "report_posture", "report_workflow", "report_downtime"]
)
def test_every_member_role_may_read_reports(client_for, viewer, name):
    assert client_for(viewer).get(reverse(name)).status_code == 200


@pytest.mark.parametrize("name", ["report_posture", "report_workflow", "report_downtime"])
def test_outsider_gets_nothing_of_another_team(
    client_for, outsider, fleet, plan_history, windows, name
):
    client = client_for(outsider)
    for suffix in ("", "?format=csv", "?format=csv&table=aging", "?format=csv&table=leads"):
        text = client.get(reverse(name) + suffix).content.decode()
        for secret in ("web-1", "db-1", "Alpha", "Charlie", "Overrun", "Kernel"):
            assert secret not in text
    # Their own team's window is theirs to see.
    if name == "report_downtime":
        assert "Red window" in client.get(reverse(name)).content.decode()


def test_user_without_a_team_gets_404(client_for, db):
    loner = factories.UserFactory(username="loner")
    assert client_for(loner).get(reverse("report_posture")).status_code == 404


def test_anonymous_is_sent_to_log_in(client, db):
    response = client.get(reverse("report_downtime"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_reports_refuse_post(client_for, admin):
    assert client_for(admin).post(reverse("report_posture")).status_code == 405


# --- Query budgets -----------------------------------------------------------


def _grow(team, owner, n: int) -> None:
    """n more servers with listings, plans with signed milestones, windows."""
    servers = Server.objects.bulk_create(
        Server(
            team=team,
            hostname=f"bulk-{i}",
            pending_security=i % 3,
            last_inventory_at=timezone.now() - timedelta(days=i % 20),
        )
        for i in range(n)
    )
    InventorySnapshot.objects.bulk_create(
        InventorySnapshot(
            server=s,
            taken_at=at(d),
            format="apt-upgradable",
            source="upload",
            content_hash=f"{s.pk}-{d}",
            data="",
            security_count=(s.pk + d) % 4,
        )
        for s in servers
        for d in (40, 20, 3)
    )
    for i in range(n):
        plan = factories.PlanFactory(
            team=team,
            owner=owner,
            status=PlanStatus.COMPLETED,
            completed_at=timezone.now() - timedelta(days=i % 30),
        )
        Milestone.objects.create(
            plan=plan,
            name="assessment",
            position=0,
            signed_off_at=timezone.now() - timedelta(days=i % 30),
        )
        w = factories.WindowFactory(
            plan=plan,
            starts_at=at(i % 30 + 1, 1),
            ends_at=at(i % 30 + 1, 3),
            actual_starts_at=at(i % 30 + 1, 1),
            actual_ends_at=at(i % 30 + 1, 4),
        )
        WindowServer.objects.create(window=w, server=servers[i], expected_downtime_minutes=5)


@pytest.mark.parametrize("size", [1, 40])
@pytest.mark.parametrize(
    ("name", "budget"),
    [
        # session, user, memberships; matrix, inventory signature, aging rows, aging
        # count, stale rows, stale count, trend (a cold cache: see the test below);
        # remediation targets, open CVEs and time to remediate, their trend (advisories)
        ("report_posture", 14),
        # session, user, memberships; by status/kind, completed, sign-off leads
        ("report_workflow", 6),
        # session, user, memberships; windows with their downtime sums
        ("report_downtime", 4),
    ],
)
def test_reports_use_a_fixed_number_of_queries(
    client_for, admin, team, size, name, budget, django_assert_max_num_queries
):
    _grow(team, admin, size)
    client = client_for(admin)
    with django_assert_max_num_queries(budget):
        response = client.get(reverse(name))
    assert response.status_code == 200


# --- Charts ------------------------------------------------------------------


def test_nice_ceiling_picks_round_axis_tops():
    assert [axis_top(v) for v in (4, 403, 0.4, 5, 1400)] == [
        (4, 1),
        (600, 200),
        (0.4, 0.1),
        (6, 2),
        (1500, 500),
    ]
    assert [nice_ceiling(v) for v in (0, 0.4, 1, 3, 7, 12, 49, 51, 180)] == [
        1,
        0.5,
        1,
        5,
        10,
        20,
        50,
        100,
        200,
    ]


def test_stacked_bars_are_scaled_to_the_axis():
    chart = bar_chart(
        title="t",
        desc="d",
        categories=["a", "b"],
        series=[("x", [2, 4]), ("y", [3, 1])],
        y_label="n",
        stacked=True,
    )
    # The highest stack is 5: the axis goes to 6 in steps of 2; stack a (2 + 3) is 5/6 high.
    assert [t.label for t in chart.ticks] == ["0", "2", "4", "6"]
    plot = chart.plot_bottom - chart.plot_top
    a_x, a_y = chart.rects[0], chart.rects[1]
    assert a_x.height + a_y.height == pytest.approx(plot * 5 / 6)
    assert a_y.y == pytest.approx(chart.plot_bottom - plot * 5 / 6)
    assert a_y.inside and a_y.text_colour == "#fff"
    assert [name for name, _c in chart.legend] == ["x", "y"]


def test_empty_chart_says_so():
    assert bar_chart(title="t", desc="d", categories=[], series=[], y_label="n").empty
    assert line_chart(title="t", desc="d", points=[], y_label="n").empty
    chart = line_chart(title="t", desc="d", points=[("1 Jan", 0), ("2 Jan", 4)], y_label="n")
    assert not chart.empty and chart.points.count(",") == 2


def test_period_covers_local_days_in_utc():
    p = selectors.period(datetime(2026, 3, 29).date(), datetime(2026, 3, 29).date(), BERLIN)
    # The day clocks go forward in Berlin is 23 hours long.
    assert p.start_at == datetime(2026, 3, 28, 23, tzinfo=UTC)
    assert p.end_at == datetime(2026, 3, 29, 22, tzinfo=UTC)


@pytest.mark.parametrize("size", [1, 40])
def test_posture_with_a_warm_cache_skips_the_heavy_queries(
    client_for, admin, team, size, django_assert_max_num_queries
):
    _grow(team, admin, size)
    client = client_for(admin)
    client.get(reverse("report_posture"))
    # session, user, memberships; matrix, inventory signature, aging count, stale rows,
    # stale count: the aging rows and the trend come from the cache; remediation
    # targets, open CVEs and time to remediate, their trend (advisories).
    with django_assert_max_num_queries(11):
        client.get(reverse("report_posture"))


def test_cached_posture_follows_a_new_listing_and_a_deleted_server(team, fleet):
    p = selectors.period(_today() - timedelta(days=60), _today(), BERLIN)
    assert selectors.fleet_posture(team=team, p=p).trend[-1][1] == 4
    snapshot(fleet["stg"], 1, 6)
    Server.objects.filter(pk=fleet["stg"].pk).update(pending_security=6)
    data = selectors.fleet_posture(team=team, p=p)
    assert data.trend[-1][1] == 10
    assert "stg-1" in [s.hostname for s in data.aging]
    fleet["web"].delete()
    data = selectors.fleet_posture(team=team, p=p)
    assert data.trend[-1][1] == 7
    assert "web-1" not in [s.hostname for s in data.aging]

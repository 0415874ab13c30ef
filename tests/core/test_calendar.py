"""The calendar: month, week and list views in the viewer's zone, a window across
midnight, off-peak bands converted from the team's zone (DST weeks included),
freezes, conflicts, filters, the feed link, access and query budgets.

The team's zone is Europe/Berlin (tests/factories.py). Clocks went forward in
Berlin on Sunday 29 March 2026 (CET +1 -> CEST +2)."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from patchplan.dashboard.calendar import CalendarFilters, build_days, load_calendar, view_range
from patchplan.notifications.services import calendar_token_reset
from plans.choices import Raci
from plans.models import PlanRole, Task, WindowServer
from servers.choices import Environment
from tests import factories

# "Now" is frozen for each test (at PATCHPLAN_TEST_CLOCK or the real instant):
# data placed relative to it and the code under test see the same instant.
pytestmark = pytest.mark.usefixtures("frozen_now")

BERLIN = ZoneInfo("Europe/Berlin")
UTC = ZoneInfo("UTC")


def berlin(y, m, d, hh=0, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=BERLIN)


@pytest.fixture
def plan(team, planner):
    return factories.PlanFactory(team=team, owner=planner, title="Kernel patch")


@pytest.fixture
def night_window(plan):
    """23:00 to 01:00 Berlin: crosses midnight."""
    return factories.WindowFactory(
        plan=plan,
        title="Night run",
        starts_at=berlin(2026, 3, 10, 23),
        ends_at=berlin(2026, 3, 11, 1),
    )


def get(client, **params):
    return client.get(reverse("calendar"), params)


def cell(body: str, day: str) -> str:
    """The HTML of one month cell or week column (by its data-date)."""
    start = body.index(f'data-date="{day}"')
    end = body.find("data-date=", start + 20)
    return body[start : end if end != -1 else len(body)]


def styles(html: str) -> list[tuple[float, float]]:
    return [
        (float(t), float(h))
        for t, h in re.findall(r'style="top: ([\d.]+)%; height: ([\d.]+)%"', html)
    ]


# --- Month, week, list --------------------------------------------------------


def test_month_view_shows_a_window_across_midnight_on_both_days(client_for, viewer, night_window):
    body = get(client_for(viewer), date="2026-03-15").content.decode()
    assert "Calendar: March 2026" in body
    assert f'data-pk="{night_window.pk}"' in cell(body, "2026-03-10")
    assert f'data-pk="{night_window.pk}"' in cell(body, "2026-03-11")
    assert f'data-pk="{night_window.pk}"' not in cell(body, "2026-03-12")
    # Starts at 23:00 on the first day, runs on past midnight; ends at 01:00 on the second.
    assert "23:00–…" in cell(body, "2026-03-10")
    assert "…–01:00" in cell(body, "2026-03-11")
    # Click through to the window.
    assert reverse("window_detail", args=[night_window.pk]) in body


def test_week_view_places_the_two_pieces_of_a_night_window(client_for, viewer, night_window):
    body = get(client_for(viewer), view="week", date="2026-03-11").content.decode()
    assert "week of 9 Mar 2026" in body
    first, second = cell(body, "2026-03-10"), cell(body, "2026-03-11")
    assert styles(first) == [(95.833, 4.167)]  # 23:00-24:00
    assert styles(second) == [(0.0, 4.167)]  # 00:00-01:00


def test_times_are_shown_in_the_viewers_zone(client_for, viewer, night_window):
    viewer.time_zone = "UTC"
    viewer.save(update_fields=["time_zone"])
    body = get(client_for(viewer), view="week", date="2026-03-11").content.decode()
    # 23:00-01:00 Berlin (CET) is 22:00-00:00 UTC: all on the first day.
    assert styles(cell(body, "2026-03-10")) == [(91.667, 8.333)]
    assert styles(cell(body, "2026-03-11")) == []
    assert "times in UTC" in body


def test_list_view_lists_windows_and_milestones_of_the_month(
    client_for, viewer, plan, night_window
):
    factories.MilestoneFactory(plan=plan, name="deployment", due_on=date(2026, 3, 20))
    factories.MilestoneFactory(plan=plan, name="review", due_on=date(2026, 4, 2))
    body = get(client_for(viewer), view="list", date="2026-03-01").content.decode()
    assert 'data-testid="calendar-list"' in body
    assert "Night run" in body and "Milestone deployment" in body
    assert "Milestone review" not in body  # April


def test_milestones_show_on_their_due_day(client_for, viewer, plan):
    m = factories.MilestoneFactory(plan=plan, name="testing", due_on=date(2026, 3, 18))
    body = get(client_for(viewer), date="2026-03-18").content.decode()
    assert f'data-kind="milestone" data-pk="{m.pk}"' in cell(body, "2026-03-18")
    assert f"#milestone-{m.pk}" in body


def test_prev_and_next_move_by_the_view_step():
    f = CalendarFilters(view="month", anchor=date(2026, 1, 31))
    from patchplan.dashboard.calendar import step

    assert step("month", f.anchor, -1) == date(2025, 12, 1)
    assert step("month", f.anchor, +1) == date(2026, 2, 1)
    assert step("week", date(2026, 3, 11), +1) == date(2026, 3, 18)
    assert view_range("month", date(2026, 3, 15)) == (date(2026, 2, 23), date(2026, 4, 5))
    assert view_range("week", date(2026, 3, 11)) == (date(2026, 3, 9), date(2026, 3, 15))


def test_navigation_links_keep_the_filters(client_for, viewer, plan):
    body = get(client_for(viewer), view="week", date="2026-03-11", plan=plan.pk).content.decode()
    assert f"?view=week&amp;date=2026-03-04&amp;plan={plan.pk}" in body
    assert f"?view=week&amp;date=2026-03-18&amp;plan={plan.pk}" in body


# --- Off-peak shading and freezes --------------------------------------------


def test_day_links_name_each_parameter_once_and_keep_the_filters(client_for, viewer, plan):
    from html import unescape
    from urllib.parse import parse_qs, urlsplit

    body = get(client_for(viewer), view="month", date="2026-03-15", plan=plan.pk).content.decode()
    hrefs = re.findall(r'class="cal-day-num[^"]*" href="([^"]+)"', body)
    assert len(hrefs) >= 28
    for href in hrefs:
        params = parse_qs(urlsplit(unescape(href)).query)
        assert all(len(values) == 1 for values in params.values()), href
        assert params["view"] == ["week"] and params["plan"] == [str(plan.pk)]
    assert "date=2026-03-11" in cell(body, "2026-03-11")


def test_off_peak_bands_are_converted_to_the_viewers_zone(client_for, viewer, team):
    # Monday 22:00 to 04:00 Berlin = Monday 21:00 to Tuesday 03:00 UTC in winter.
    factories.OffPeakFactory(team=team, weekday=0, starts_at=time(22), ends_at=time(4))
    viewer.time_zone = "UTC"
    viewer.save(update_fields=["time_zone"])
    body = get(client_for(viewer), view="week", date="2026-01-14").content.decode()
    assert styles(cell(body, "2026-01-12")) == [(87.5, 12.5)]
    assert styles(cell(body, "2026-01-13")) == [(0.0, 12.5)]
    assert styles(cell(body, "2026-01-14")) == []


def test_off_peak_bands_follow_the_dst_change(team, viewer):
    # Sunday 00:00-08:00 Berlin. On 29 March 2026 the clocks go forward at 02:00:
    # 00:00 CET = Sat 23:00 UTC, 08:00 CEST = 06:00 UTC. A week earlier 08:00 CET = 07:00 UTC.
    factories.OffPeakFactory(team=team, weekday=6, starts_at=time(0), ends_at=time(8))
    f = CalendarFilters(view="week", anchor=date(2026, 3, 25))

    def bands(first, last):
        data = load_calendar(team=team, f=f, first=first, last=last, tz=UTC)
        days = build_days(data, first=first, last=last, tz=UTC, today=date(2026, 1, 1))
        return {d.day: [(b.top, b.height) for b in d.bands] for d in days}

    dst_week = bands(date(2026, 3, 23), date(2026, 3, 29))
    assert dst_week[date(2026, 3, 28)] == [(95.833, 4.167)]  # Sat 23:00-24:00 UTC
    assert dst_week[date(2026, 3, 29)] == [(0.0, 25.0)]  # Sun 00:00-06:00 UTC
    week_before = bands(date(2026, 3, 16), date(2026, 3, 22))
    assert week_before[date(2026, 3, 22)] == [(0.0, 29.167)]  # Sun 00:00-07:00 UTC


def test_dst_day_is_marked_and_wall_clock_positions_hold(client_for, viewer, plan):
    # Viewer in Berlin: 29 March has 23 hours; a 03:00-05:00 window sits at 03:00.
    factories.WindowFactory(
        plan=plan, starts_at=berlin(2026, 3, 29, 3), ends_at=berlin(2026, 3, 29, 5)
    )
    body = get(client_for(viewer), view="week", date="2026-03-29").content.decode()
    assert "23 h" in body
    assert styles(cell(body, "2026-03-29")) == [(12.5, 8.333)]


def test_freeze_days_are_shaded_and_windows_in_them_marked(client_for, viewer, team, plan):
    factories.FreezeFactory(
        team=team, starts_on=date(2026, 3, 12), ends_on=date(2026, 3, 13), reason="Quarter close"
    )
    w = factories.WindowFactory(
        plan=plan, title="Frozen", starts_at=berlin(2026, 3, 12, 2), ends_at=berlin(2026, 3, 12, 3)
    )
    body = get(client_for(viewer), date="2026-03-01").content.decode()
    for day in ("2026-03-12", "2026-03-13"):
        assert (
            "cal-freeze"
            in body[
                body.rindex("<td", 0, body.index(f'data-date="{day}"')) : body.index(
                    f'data-date="{day}"'
                )
            ]
        )
    assert "Freeze: Quarter close" in cell(body, "2026-03-12")
    assert (
        "cal-freeze"
        not in body[
            body.rindex("<td", 0, body.index('data-date="2026-03-14"')) : body.index(
                'data-date="2026-03-14"'
            )
        ]
    )
    frozen = cell(body, "2026-03-12")
    assert f'data-pk="{w.pk}"' in frozen and "conflict" in frozen
    assert "Inside the freeze period" in frozen


def test_overlapping_windows_on_a_server_are_marked_as_conflicts(client_for, viewer, team, plan):
    host = factories.ServerFactory(team=team)
    other_plan = factories.PlanFactory(team=team, owner=plan.owner, title="Other")
    a = factories.WindowFactory(
        plan=plan, title="A", starts_at=berlin(2026, 3, 4, 1), ends_at=berlin(2026, 3, 4, 3)
    )
    b = factories.WindowFactory(
        plan=other_plan, title="B", starts_at=berlin(2026, 3, 4, 2), ends_at=berlin(2026, 3, 4, 4)
    )
    c = factories.WindowFactory(
        plan=plan, title="C", starts_at=berlin(2026, 3, 5, 2), ends_at=berlin(2026, 3, 5, 4)
    )
    for w in (a, b, c):
        WindowServer.objects.create(window=w, server=host)
    # Filtered to one plan: B is hidden, but A's overlap with it is still a conflict.
    body = get(client_for(viewer), view="list", date="2026-03-01", plan=plan.pk).content.decode()
    row_a = body[
        body.index(f'data-pk="{a.pk}"') : body.index("</tr>", body.index(f'data-pk="{a.pk}"'))
    ]
    row_c = body[
        body.index(f'data-pk="{c.pk}"') : body.index("</tr>", body.index(f'data-pk="{c.pk}"'))
    ]
    assert "Overlaps" in row_a
    assert "Overlaps" not in row_c
    assert f'data-pk="{b.pk}"' not in body
    assert "1 window with a conflict" in body


def test_cancelled_windows_are_not_shown(client_for, viewer, plan):
    from django.utils import timezone

    w = factories.WindowFactory(
        plan=plan,
        starts_at=berlin(2026, 3, 4, 1),
        ends_at=berlin(2026, 3, 4, 3),
        cancelled_at=timezone.now(),
    )
    body = get(client_for(viewer), date="2026-03-04").content.decode()
    assert f'data-pk="{w.pk}"' not in body


# --- Filters -----------------------------------------------------------------


@pytest.fixture
def two_windows(team, plan, engineer, planner):
    prod = factories.ServerFactory(
        team=team, hostname="web-prd", environment=Environment.PRODUCTION
    )
    stg = factories.ServerFactory(team=team, hostname="web-stg", environment=Environment.STAGING)
    other_plan = factories.PlanFactory(team=team, owner=planner, title="Other plan")
    m = factories.MilestoneFactory(plan=other_plan, name="deployment", position=0)
    w_prod = factories.WindowFactory(
        plan=plan, title="Prod run", starts_at=berlin(2026, 3, 4, 1), ends_at=berlin(2026, 3, 4, 3)
    )
    w_stg = factories.WindowFactory(
        plan=other_plan,
        milestone=m,
        title="Staging run",
        starts_at=berlin(2026, 3, 6, 1),
        ends_at=berlin(2026, 3, 6, 3),
    )
    WindowServer.objects.create(window=w_prod, server=prod)
    WindowServer.objects.create(window=w_stg, server=stg)
    Task.objects.create(plan=other_plan, milestone=m, title="Patch", assignee=engineer)
    return w_prod, w_stg


@pytest.mark.parametrize(
    ("params", "shown"),
    [
        ({}, {"Prod run", "Staging run"}),
        ({"environment": "production"}, {"Prod run"}),
        ({"environment": "staging"}, {"Staging run"}),
        ({"server": "web-stg"}, {"Staging run"}),
        ({"plan": "PLAN"}, {"Prod run"}),
        ({"person": "ENGINEER"}, {"Staging run"}),  # a task in its milestone
        ({"person": "VIEWER"}, set()),
    ],
)
def test_filters(client_for, viewer, engineer, plan, two_windows, params, shown):
    params = {
        k: {"PLAN": plan.pk, "ENGINEER": engineer.pk, "VIEWER": viewer.pk}.get(v, v)
        for k, v in params.items()
    }
    body = get(client_for(viewer), view="list", date="2026-03-01", **params).content.decode()
    assert {t for t in ("Prod run", "Staging run") if f">{t}</a>" in body} == shown


def test_person_filter_includes_plan_roles(client_for, viewer, plan, two_windows):
    PlanRole.objects.create(plan=plan, user=viewer, raci=Raci.INFORMED)
    body = get(
        client_for(viewer), view="list", date="2026-03-01", person=viewer.pk
    ).content.decode()
    assert ">Prod run</a>" in body and ">Staging run</a>" not in body


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"date": "2026-02-31"}, "date", "Enter a date as YYYY-MM-DD."),
        ({"plan": "abc"}, "plan", "Pick a plan from the list."),
        ({"environment": "moon"}, "environment", "Pick an environment from the list."),
        ({"server": "nope"}, "server", "No server named “nope” in this team."),
        ({"person": "999999"}, "person", "No such person in this team."),
    ],
)
def test_bad_filters_get_a_message_by_the_field(
    client_for, viewer, night_window, params, field, message
):
    response = get(client_for(viewer), **params)
    assert response.status_code == 400
    body = response.content.decode()
    assert message in body
    assert f'data-pk="{night_window.pk}"' not in body


# --- Feed, access, print, queries -------------------------------------------


def test_the_calendar_feed_url_is_offered(client_for, viewer):
    body = get(client_for(viewer)).content.decode()
    assert reverse("notification_preferences") in body  # no feed yet: where to get one
    calendar_token_reset(user=viewer)
    body = get(client_for(viewer)).content.decode()
    # Feed URLs are shown once when made; the page says there is one.
    assert "Your calendar feed is active" in body
    assert "/notifications/feed/" not in body


def test_outsider_gets_nothing_of_another_team(client_for, outsider, plan, night_window):
    client = client_for(outsider)
    for view in ("month", "week", "list"):
        body = get(client, view=view, date="2026-03-10").content.decode()
        assert "Night run" not in body and "Kernel patch" not in body
    # Naming the other team's plan is refused, not shown.
    response = get(client, view="list", date="2026-03-01", plan=plan.pk)
    assert response.status_code == 400
    assert "Night run" not in response.content.decode()


def test_user_without_team_sees_a_hint(client_for, db):
    loner = factories.UserFactory(username="loner")
    response = get(client_for(loner))
    assert response.status_code == 200 and "not in a team" in response.content.decode()


def test_calendar_is_print_friendly(client_for, viewer):
    body = get(client_for(viewer)).content.decode()
    assert "css/calendar.css" in body
    assert 'data-testid="calendar-filters" novalidate' in body
    assert body.count("d-print-none") >= 3


def _fill(team, plan, n: int) -> None:
    hosts = [factories.ServerFactory(team=team) for _ in range(3)]
    for i in range(n):
        m = factories.MilestoneFactory(
            plan=plan, name=f"m{i}", position=i, due_on=date(2026, 3, 1 + i % 28)
        )
        w = factories.WindowFactory(
            plan=plan,
            milestone=m,
            starts_at=berlin(2026, 3, 1 + i % 28, 22),
            ends_at=berlin(2026, 3, 2 + i % 28, 2),
        )
        WindowServer.objects.bulk_create(WindowServer(window=w, server=h) for h in hosts)
    factories.OffPeakFactory(team=team, weekday=0, starts_at=time(22), ends_at=time(4))
    factories.FreezeFactory(team=team, starts_on=date(2026, 3, 12), ends_on=date(2026, 3, 13))


@pytest.mark.parametrize("size", [2, 40])
@pytest.mark.parametrize("view", ["month", "week", "list"])
def test_calendar_uses_a_fixed_number_of_queries(
    client_for, viewer, team, plan, size, view, django_assert_max_num_queries
):
    _fill(team, plan, size)
    client = client_for(viewer)
    # session, user, memberships; plans and people for the filters; windows, window
    # servers, off-peak, freezes, milestones; personal and team feed tokens.
    with django_assert_max_num_queries(12):
        response = get(client, view=view, date="2026-03-10", environment="production")
    assert response.status_code == 200
    with django_assert_max_num_queries(12):
        get(client, view=view, date="2026-03-10")

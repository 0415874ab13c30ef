"""Suggest a window: free off-peak slots avoiding freezes and other windows."""

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from plans.checks import Freeze, OffPeak
from plans.models import WindowServer
from plans.suggest import free_slots, subtract, suggest_windows
from tests import factories

BERLIN = ZoneInfo("Europe/Berlin")
NIGHTS = [OffPeak(d, time(22), time(4)) for d in range(7)]


def berlin(y, mo, d, h, mi=0):
    return datetime(y, mo, d, h, mi, tzinfo=BERLIN)


def test_subtract_cuts_busy_time_out_of_free_time():
    a, b, c, d = (datetime(2026, 1, 1, h, tzinfo=UTC) for h in (0, 2, 3, 6))
    assert subtract([(a, d)], [(b, c)]) == [(a, b), (c, d)]


def test_free_slots_are_the_next_nights_in_the_teams_zone():
    slots = free_slots(
        off_peak=NIGHTS,
        freezes=[],
        busy=[],
        tz=BERLIN,
        length=timedelta(hours=2),
        after=berlin(2026, 3, 2, 12),
        count=3,
    )
    assert [s.astimezone(BERLIN) for s, _e in slots] == [
        berlin(2026, 3, 2, 22),
        berlin(2026, 3, 3, 22),
        berlin(2026, 3, 4, 22),
    ]
    assert all(e - s == timedelta(hours=2) for s, e in slots)


def test_free_slots_avoid_freezes_and_busy_windows():
    busy = [(berlin(2026, 3, 2, 21), berlin(2026, 3, 3, 3))]  # leaves 03:00-04:00: too short
    freezes = [Freeze(date(2026, 3, 3), date(2026, 3, 4), "Release")]
    slots = free_slots(
        off_peak=NIGHTS,
        freezes=freezes,
        busy=busy,
        tz=BERLIN,
        length=timedelta(hours=2),
        after=berlin(2026, 3, 2, 12),
        count=1,
    )
    # The night of the 3rd and 4th fall in the freeze (until midnight after the 4th);
    # the 5th 00:00-04:00 is the first free stretch.
    assert slots[0][0].astimezone(BERLIN) == berlin(2026, 3, 5, 0)


def test_free_slots_start_after_now_rounded_to_a_quarter_hour():
    slots = free_slots(
        off_peak=NIGHTS,
        freezes=[],
        busy=[],
        tz=BERLIN,
        length=timedelta(hours=1),
        after=berlin(2026, 3, 2, 23, 7),
        count=1,
    )
    assert slots[0][0].astimezone(BERLIN) == berlin(2026, 3, 2, 23, 15)


def test_no_off_peak_hours_means_no_suggestion():
    assert (
        free_slots(
            off_peak=[],
            freezes=[],
            busy=[],
            tz=BERLIN,
            length=timedelta(hours=1),
            after=berlin(2026, 3, 2, 0),
        )
        == []
    )


@pytest.fixture
def plan(team, planner):
    for d in range(7):
        factories.OffPeakFactory(team=team, weekday=d, starts_at=time(22), ends_at=time(4))
    server = factories.ServerFactory(team=team, hostname="web-01")
    plan = factories.PlanFactory(team=team, owner=planner)
    plan.servers.add(server)
    return plan


def test_suggest_windows_skips_other_plans_windows_on_the_chosen_servers(plan, team, planner):
    server = plan.servers.get()
    other = factories.PlanFactory(team=team, owner=planner)
    busy = factories.WindowFactory(
        plan=other, starts_at=berlin(2026, 3, 2, 22), ends_at=berlin(2026, 3, 3, 4)
    )
    WindowServer.objects.create(window=busy, server=server)
    slots = suggest_windows(
        plan=plan,
        servers=[server],
        length=timedelta(hours=2),
        after=berlin(2026, 3, 2, 12),
        count=1,
    )
    assert slots[0][0].astimezone(BERLIN) == berlin(2026, 3, 3, 22)
    # Without the server chosen, that night is free.
    free = suggest_windows(
        plan=plan, servers=[], length=timedelta(hours=2), after=berlin(2026, 3, 2, 12), count=1
    )
    assert free[0][0].astimezone(BERLIN) == berlin(2026, 3, 2, 22)


def test_suggest_button_answers_with_slots_to_fill_the_form(client_for, plan, planner):
    server = plan.servers.get()
    response = client_for(planner).get(
        reverse("window_suggest", args=[plan.pk]),
        {"length": 90, "servers": [server.pk]},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.count("data-fill-window") == 5 and "data-starts=" in body


def test_suggest_refuses_another_teams_server(client_for, plan, planner, other_team):
    theirs = factories.ServerFactory(team=other_team, hostname="x")
    response = client_for(planner).get(
        reverse("window_suggest", args=[plan.pk]), {"length": 90, "servers": [theirs.pk]}
    )
    assert response.status_code == 400 and "data-fill-window" not in response.content.decode()


def test_free_slots_measure_real_hours_across_the_dst_change():
    # Sat 28 Mar 2026 22:00 to Sun 04:00 Berlin is six hours on the clock but five real
    # ones (clocks jump 02:00 -> 03:00); in October's change the same slot lasts seven.
    saturday_night = [OffPeak(5, time(22), time(4))]
    spring = free_slots(
        off_peak=saturday_night,
        freezes=[],
        busy=[],
        tz=BERLIN,
        length=timedelta(hours=5, minutes=30),
        after=berlin(2026, 3, 28, 12),
        count=1,
    )
    assert spring[0][0].astimezone(BERLIN) == berlin(2026, 4, 4, 22)
    autumn = free_slots(
        off_peak=saturday_night,
        freezes=[],
        busy=[],
        tz=BERLIN,
        length=timedelta(hours=6, minutes=30),
        after=berlin(2026, 10, 24, 12),
        count=1,
    )
    assert autumn[0][0].astimezone(BERLIN) == berlin(2026, 10, 24, 22)


def test_suggest_starts_after_the_given_time_not_now(client_for, plan, planner):
    # Now is Mon 2 Mar 2026 noon (Berlin); the staging window ends Thu 5 Mar 12:00, so
    # the first slot asked for after it is that night, not tonight.
    server = plan.servers.get()
    with time_machine.travel(berlin(2026, 3, 2, 12), tick=False):
        response = client_for(planner).get(
            reverse("window_suggest", args=[plan.pk]),
            {"length": 90, "servers": [server.pk], "after": "2026-03-05T12:00"},
            HTTP_HX_REQUEST="true",
        )
        now = client_for(planner).get(
            reverse("window_suggest", args=[plan.pk]),
            {"length": 90, "servers": [server.pk]},
            HTTP_HX_REQUEST="true",
        )
    assert response.status_code == 200
    starts = re.findall(r'data-starts="([^"]+)"', response.content.decode())
    assert starts[0] == "2026-03-05T22:00"
    assert re.findall(r'data-starts="([^"]+)"', now.content.decode())[0] == "2026-03-02T22:00"


def test_suggest_with_a_start_after_in_the_past_starts_from_now(client_for, plan, planner):
    server = plan.servers.get()
    with time_machine.travel(berlin(2026, 3, 2, 12), tick=False):
        response = client_for(planner).get(
            reverse("window_suggest", args=[plan.pk]),
            {"length": 90, "servers": [server.pk], "after": "2026-02-01T00:00"},
            HTTP_HX_REQUEST="true",
        )
    starts = re.findall(r'data-starts="([^"]+)"', response.content.decode())
    assert starts[0] == "2026-03-02T22:00"

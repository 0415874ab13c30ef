"""The timeline picture: geometry, and the SVG on the plan page."""

from datetime import date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from plans.timeline import LEFT, WIDTH, build_timeline
from tests import factories
from tests.pages import page_html

BERLIN = ZoneInfo("Europe/Berlin")


def ms(name, start, due):
    return SimpleNamespace(name=name, starts_on=start, due_on=due)


def win(start, end, title="", cancelled=None):
    return SimpleNamespace(starts_at=start, ends_at=end, title=title, cancelled_at=cancelled)


def test_bars_follow_dates_in_order_and_today_is_inside():
    tl = build_timeline(
        milestones=[
            ms("assessment", date(2023, 10, 1), date(2023, 10, 4)),
            ms("testing", date(2023, 10, 5), date(2023, 10, 9)),
        ],
        windows=[
            win(
                datetime(2023, 10, 7, 23, tzinfo=BERLIN),
                datetime(2023, 10, 8, 1, tzinfo=BERLIN),
                "Staging",
            )
        ],
        today=date(2023, 10, 6),
        tz=BERLIN,
    )
    a, t = tl.bars
    assert LEFT <= a.x < a.x + a.width <= t.x < WIDTH
    assert a.dates == "1 Oct–4 Oct"
    assert tl.bars[1].x < tl.today_x < tl.bars[1].x + tl.bars[1].width
    [mark] = tl.marks
    assert (
        t.x < mark.x < t.x + t.width and "Staging" in mark.title and "Europe/Berlin" in mark.title
    )


def test_cancelled_windows_are_not_drawn_and_no_dates_means_empty():
    tl = build_timeline(
        milestones=[],
        windows=[
            win(
                datetime(2023, 10, 7, tzinfo=BERLIN),
                datetime(2023, 10, 8, tzinfo=BERLIN),
                cancelled=1,
            )
        ],
        today=date(2023, 10, 6),
        tz=BERLIN,
    )
    assert tl.empty


def test_a_milestone_with_only_a_due_date_is_a_short_bar():
    tl = build_timeline(
        milestones=[ms("review", None, date(2023, 10, 9))],
        windows=[],
        today=date(2023, 10, 1),
        tz=BERLIN,
    )
    assert tl.bars[0].dates == "due 9 Oct" and tl.bars[0].width > 0


def test_plan_page_draws_the_timeline_with_labels(client_for, team, planner):
    plan = factories.PlanFactory(team=team, owner=planner, title="OpenSSL")
    factories.MilestoneFactory(
        plan=plan, name="testing", starts_on=date(2030, 1, 1), due_on=date(2030, 1, 5)
    )
    factories.WindowFactory(
        plan=plan,
        starts_at=datetime(2030, 1, 3, 23, tzinfo=BERLIN),
        ends_at=datetime(2030, 1, 4, 1, tzinfo=BERLIN),
    )
    body = page_html(client_for(planner), reverse("plan_detail", args=[plan.pk]))
    assert "<svg" in body and "testing" in body and ">W1<" in body and "Windows" in body


def test_phases_with_only_due_dates_run_from_the_previous_due_date():
    # The guide's YAML gives one date a phase.
    tl = build_timeline(
        milestones=[
            ms("assessment", None, date(2023, 10, 1)),
            ms("testing", None, date(2023, 10, 5)),
        ],
        windows=[],
        today=date(2023, 10, 3),
        tz=BERLIN,
    )
    assessment, testing = tl.bars
    assert testing.x == pytest.approx(assessment.x + assessment.width)
    assert testing.width > assessment.width


def test_today_far_from_the_plan_is_named_instead_of_squashing_the_axis():
    tl = build_timeline(
        milestones=[ms("testing", date(2023, 10, 1), date(2023, 10, 5))],
        windows=[],
        today=date(2026, 11, 28),
        tz=BERLIN,
    )
    assert tl.today_x is None and "after this timeline" in tl.today_note
    assert tl.bars[0].width > 100

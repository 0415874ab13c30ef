"""Window checks: each has a case that triggers it and one that doesn't."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction

from plans.checks import (
    Freeze,
    OffPeak,
    WindowFacts,
    check_freezes,
    check_length,
    check_milestone_due,
    check_off_peak,
    check_overlaps,
    check_staging_first,
    describe_off_peak,
    load_check_context,
    off_peak_intervals,
    plan_window_problems,
    window_problems,
)
from plans.models import MaintenanceWindow, WindowServer
from plans.selectors.windows import windows_of_plan
from servers.choices import Environment
from tests import factories

BERLIN = ZoneInfo("Europe/Berlin")
PROD, STG = Environment.PRODUCTION, Environment.STAGING
# Saturday 22:00 to 04:00 (past midnight), Berlin time.
SAT_NIGHT = [OffPeak(5, time(22), time(4))]


def berlin(y, mo, d, h, mi=0):
    return datetime(y, mo, d, h, mi, tzinfo=BERLIN)


def facts(starts, ends, servers=None, wid=1, label=""):
    return WindowFacts(wid, 1, starts, ends, servers or {}, label)


# --- end before start / zero length ---------------------------------------


def test_length_check_refuses_end_before_start_and_zero_length():
    start = berlin(2026, 3, 7, 23)
    assert check_length(start, start).code == "bad_length"
    assert check_length(start, start - timedelta(minutes=1)).code == "bad_length"


def test_length_check_accepts_a_window_that_ends_after_it_starts():
    start = berlin(2026, 3, 7, 23)
    assert check_length(start, start + timedelta(minutes=1)) is None


@pytest.mark.django_db
def test_database_refuses_a_window_that_ends_before_it_starts(team, planner):
    plan = factories.PlanFactory(team=team, owner=planner)
    start = berlin(2026, 3, 7, 23)
    with pytest.raises(IntegrityError), transaction.atomic():
        MaintenanceWindow.objects.create(plan=plan, starts_at=start, ends_at=start)


# --- off-peak --------------------------------------------------------------


def test_off_peak_check_accepts_a_window_inside_a_slot_past_midnight():
    # Sat 7 Mar 2026 23:00 to Sun 8 Mar 02:00 Berlin: inside Sat 22:00-04:00.
    w = facts(berlin(2026, 3, 7, 23), berlin(2026, 3, 8, 2))
    assert check_off_peak(w, SAT_NIGHT, BERLIN) is None


def test_off_peak_check_flags_a_window_running_past_the_slot_end():
    w = facts(berlin(2026, 3, 7, 23), berlin(2026, 3, 8, 5))
    problem = check_off_peak(w, SAT_NIGHT, BERLIN)
    assert problem.code == "outside_off_peak"
    assert "Europe/Berlin" in problem.message


def test_off_peak_check_flags_a_weekday_afternoon():
    w = facts(berlin(2026, 3, 4, 14), berlin(2026, 3, 4, 15))
    assert check_off_peak(w, SAT_NIGHT, BERLIN).code == "outside_off_peak"


def test_off_peak_is_read_in_the_teams_zone_not_utc():
    # 22:30-23:30 UTC on Saturday is 23:30-00:30 Berlin: inside. In UTC terms the
    # same slot would be 21:00-03:00 UTC, so a naive UTC reading would also pass;
    # 21:30 UTC (22:30 Berlin) passes too, but 20:30 UTC (21:30 Berlin) must not.
    inside = facts(
        datetime(2026, 3, 7, 22, 30, tzinfo=UTC), datetime(2026, 3, 7, 23, 30, tzinfo=UTC)
    )
    outside = facts(
        datetime(2026, 3, 7, 20, 30, tzinfo=UTC), datetime(2026, 3, 7, 21, 30, tzinfo=UTC)
    )
    assert check_off_peak(inside, SAT_NIGHT, BERLIN) is None
    assert check_off_peak(outside, SAT_NIGHT, BERLIN) is not None


def test_off_peak_slot_over_the_spring_dst_change_is_six_hours_of_wall_time_but_five_real():
    # 28/29 Mar 2026: clocks go 02:00 -> 03:00 in Berlin. Sat 22:00 CET to Sun 04:00 CEST
    # is 21:00 to 02:00 UTC: five real hours.
    [(start, end)] = [
        i
        for i in off_peak_intervals(
            SAT_NIGHT, BERLIN, berlin(2026, 3, 28, 12), berlin(2026, 3, 29, 12)
        )
        if i[0].date() == date(2026, 3, 28)
    ]
    assert start == datetime(2026, 3, 28, 21, tzinfo=UTC)
    assert end == datetime(2026, 3, 29, 2, tzinfo=UTC)
    # A window until 03:30 local (01:30 UTC) is inside; until 04:30 CEST (02:30 UTC) is not.
    ok = facts(berlin(2026, 3, 28, 23), datetime(2026, 3, 29, 1, 30, tzinfo=UTC))
    late = facts(berlin(2026, 3, 28, 23), datetime(2026, 3, 29, 2, 30, tzinfo=UTC))
    assert check_off_peak(ok, SAT_NIGHT, BERLIN) is None
    assert check_off_peak(late, SAT_NIGHT, BERLIN) is not None


def test_off_peak_slot_over_the_autumn_dst_change_lasts_seven_real_hours():
    # 24/25 Oct 2026: clocks go 03:00 -> 02:00. Sat 22:00 CEST (20:00 UTC) to Sun 04:00 CET
    # (03:00 UTC): a window of six real hours from 21:00 UTC fits.
    w = facts(datetime(2026, 10, 24, 21, tzinfo=UTC), datetime(2026, 10, 25, 3, tzinfo=UTC))
    assert check_off_peak(w, SAT_NIGHT, BERLIN) is None
    too_long = facts(
        datetime(2026, 10, 24, 21, tzinfo=UTC), datetime(2026, 10, 25, 3, 1, tzinfo=UTC)
    )
    assert check_off_peak(too_long, SAT_NIGHT, BERLIN) is not None


def test_adjacent_off_peak_slots_join_into_one():
    # Fri 22:00-00:00 and Sat 00:00-06:00: a window across midnight is inside.
    periods = [OffPeak(4, time(22), time(0)), OffPeak(5, time(0), time(6))]
    w = facts(berlin(2026, 3, 6, 23), berlin(2026, 3, 7, 3))
    assert check_off_peak(w, periods, BERLIN) is None


def test_no_off_peak_hours_set_means_no_off_peak_warning():
    w = facts(berlin(2026, 3, 4, 14), berlin(2026, 3, 4, 15))
    assert check_off_peak(w, [], BERLIN) is None


# --- freezes ---------------------------------------------------------------

FREEZE = [Freeze(date(2026, 12, 20), date(2026, 12, 27), "Holiday sales")]


def test_freeze_check_flags_a_window_on_the_last_day_inclusive():
    w = facts(berlin(2026, 12, 27, 23), berlin(2026, 12, 27, 23, 30))
    [problem] = check_freezes(w, FREEZE, BERLIN)
    assert problem.code == "in_freeze"
    assert "Holiday sales" in problem.message


def test_freeze_check_uses_the_teams_midnight():
    # 23:30 UTC on the 19th is 00:30 on the 20th in Berlin: inside the freeze.
    w = facts(
        datetime(2026, 12, 19, 23, 30, tzinfo=UTC), datetime(2026, 12, 19, 23, 45, tzinfo=UTC)
    )
    assert check_freezes(w, FREEZE, BERLIN)


def test_freeze_check_accepts_a_window_the_day_after():
    w = facts(berlin(2026, 12, 28, 0), berlin(2026, 12, 28, 3))
    assert check_freezes(w, FREEZE, BERLIN) == []


# --- overlaps --------------------------------------------------------------


def test_overlap_check_flags_another_window_on_the_same_server_at_the_same_time():
    w = facts(berlin(2026, 3, 7, 23), berlin(2026, 3, 8, 1), {10: PROD}, wid=1)
    other = facts(berlin(2026, 3, 8, 0), berlin(2026, 3, 8, 2), {10: PROD, 11: PROD}, 2, "Other")
    [problem] = check_overlaps(w, [w, other])
    assert problem.code == "overlap"
    assert "Other" in problem.message


def test_overlap_check_ignores_other_servers_and_back_to_back_windows():
    w = facts(berlin(2026, 3, 7, 23), berlin(2026, 3, 8, 1), {10: PROD}, wid=1)
    other_server = facts(berlin(2026, 3, 7, 23), berlin(2026, 3, 8, 1), {11: PROD}, wid=2)
    after = facts(berlin(2026, 3, 8, 1), berlin(2026, 3, 8, 2), {10: PROD}, wid=3)
    assert check_overlaps(w, [w, other_server, after]) == []


# --- staging before production ---------------------------------------------


def test_staging_check_flags_production_before_the_staging_window_ends():
    staging = facts(berlin(2026, 3, 7, 23), berlin(2026, 3, 8, 1), {1: STG}, wid=1)
    prod = facts(berlin(2026, 3, 8, 0), berlin(2026, 3, 8, 2), {2: PROD}, wid=2)
    assert check_staging_first(prod, [staging, prod]).code == "production_before_staging"


def test_staging_check_flags_production_without_any_staging_window():
    prod = facts(berlin(2026, 3, 8, 0), berlin(2026, 3, 8, 2), {2: PROD}, wid=2)
    assert check_staging_first(prod, [prod]).code == "production_before_staging"


def test_staging_check_accepts_production_after_the_staging_window():
    staging = facts(berlin(2026, 3, 7, 23), berlin(2026, 3, 8, 1), {1: STG}, wid=1)
    prod = facts(berlin(2026, 3, 14, 23), berlin(2026, 3, 15, 1), {2: PROD}, wid=2)
    assert check_staging_first(prod, [staging, prod]) is None
    assert check_staging_first(staging, [staging, prod]) is None


# --- the selector and entry points ------------------------------------------


def _window(plan, starts, ends, servers, **kwargs):
    window = factories.WindowFactory(plan=plan, starts_at=starts, ends_at=ends, **kwargs)
    for s in servers:
        WindowServer.objects.create(window=window, server=s, expected_downtime_minutes=5)
    return window


@pytest.fixture
def scheduled(team, planner):
    team.time_zone = "Europe/Berlin"
    team.save()
    factories.OffPeakFactory(team=team, weekday=5, starts_at=time(22), ends_at=time(4))
    stg = factories.ServerFactory(team=team, hostname="web-stg", environment=STG)
    prd = factories.ServerFactory(team=team, hostname="web-prd", environment=PROD)
    plan = factories.PlanFactory(team=team, owner=planner)
    plan.servers.add(stg, prd)
    test_window = _window(plan, berlin(2026, 3, 7, 23), berlin(2026, 3, 8, 1), [stg])
    prod_window = _window(plan, berlin(2026, 3, 14, 23), berlin(2026, 3, 15, 1), [prd])
    return plan, test_window, prod_window, stg, prd


def test_a_well_planned_pair_of_windows_has_no_problems(scheduled):
    plan, test_window, prod_window, *_ = scheduled
    assert plan_window_problems(plan) == {test_window.pk: [], prod_window.pk: []}


def test_window_problems_finds_an_overlap_with_another_plans_window(scheduled, team, planner):
    plan, _t, prod_window, _stg, prd = scheduled
    other = factories.PlanFactory(team=team, owner=planner, title="Kernel update")
    other.servers.add(prd)
    _window(other, berlin(2026, 3, 15, 0), berlin(2026, 3, 15, 2), [prd])
    codes = [p.code for p in window_problems(prod_window)]
    assert codes == ["overlap"]
    assert "Kernel update" in window_problems(prod_window)[0].message


def test_cancelled_windows_neither_overlap_nor_count_as_staging(scheduled, team, planner):
    plan, test_window, prod_window, _stg, prd = scheduled
    other = factories.PlanFactory(team=team, owner=planner)
    _window(
        other,
        berlin(2026, 3, 15, 0),
        berlin(2026, 3, 15, 2),
        [prd],
        cancelled_at=berlin(2026, 3, 1, 0),
    )
    assert window_problems(prod_window) == []
    MaintenanceWindow.objects.filter(pk=test_window.pk).update(cancelled_at=berlin(2026, 3, 1, 0))
    assert [p.code for p in window_problems(prod_window)] == ["production_before_staging"]


def test_another_teams_window_on_a_same_named_server_is_not_an_overlap(
    scheduled, other_team, outsider
):
    plan, _t, prod_window, *_ = scheduled
    their_server = factories.ServerFactory(team=other_team, hostname="web-prd")
    their_plan = factories.PlanFactory(team=other_team, owner=outsider)
    _window(their_plan, berlin(2026, 3, 15, 0), berlin(2026, 3, 15, 2), [their_server])
    assert window_problems(prod_window) == []


def test_checks_load_in_a_constant_number_of_queries(
    scheduled, team, planner, django_assert_max_num_queries
):
    plan, *_, stg, prd = scheduled
    # Queries: plan windows, their servers, overlapping team windows, off-peak, freezes.
    with django_assert_max_num_queries(5):
        small = plan_window_problems(plan)
    for i in range(20):
        _window(plan, berlin(2026, 4, 4 + i, 23), berlin(2026, 4, 5 + i, 1), [stg, prd])
        factories.FreezeFactory(
            team=team, starts_on=date(2027, 1, i + 1), ends_on=date(2027, 1, i + 1)
        )
    with django_assert_max_num_queries(5):
        big = plan_window_problems(plan)
    assert len(small) == 2 and len(big) == 22


def test_load_check_context_uses_the_teams_zone(scheduled):
    plan, *_ = scheduled
    assert str(load_check_context(plan).tz) == "Europe/Berlin"


# --- issue 17: the off-peak hours said, the milestone's due date, staging wording ----


def test_outside_off_peak_warning_says_the_teams_off_peak_hours():
    weeknights = [OffPeak(d, time(22), time(5)) for d in range(5)] + [
        OffPeak(5, time(0), time(0)),
        OffPeak(6, time(0), time(0)),
    ]
    assert describe_off_peak(weeknights) == "Mon–Fri 22:00–05:00; Sat–Sun 00:00–24:00"
    w = facts(berlin(2026, 3, 4, 14), berlin(2026, 3, 4, 15))
    assert "(Sat 22:00–04:00)" in check_off_peak(w, SAT_NIGHT, BERLIN).message


def test_a_window_ending_after_its_milestones_due_date_is_flagged():
    due = date(2026, 3, 7)
    # Starts on the due day in the team's zone (the guide's night window): in time.
    ok = WindowFacts(1, 1, berlin(2026, 3, 7, 22, 30), berlin(2026, 3, 8, 0, 30), milestone_due=due)
    assert check_milestone_due(ok, BERLIN) is None
    late = WindowFacts(1, 1, berlin(2026, 3, 8, 0), berlin(2026, 3, 8, 1), milestone_due=due)
    problem = check_milestone_due(late, BERLIN)
    assert problem.code == "after_milestone_due" and "Sat 7 Mar 2026" in problem.message
    assert check_milestone_due(facts(late.starts_at, late.ends_at), BERLIN) is None


@pytest.mark.django_db
def test_window_problems_reads_the_milestones_due_date(scheduled):
    plan, _test_window, prod_window, *_ = scheduled
    milestone = plan.milestones.create(name="deployment", position=9, due_on=date(2026, 3, 13))
    prod_window.milestone = milestone
    prod_window.save(update_fields=["milestone"])
    assert [p.code for p in window_problems(prod_window)] == ["after_milestone_due"]


@pytest.mark.django_db
def test_the_staging_window_page_does_not_say_after_the_staging_test(
    scheduled, client_for, planner
):
    _plan, test_window, prod_window, *_ = scheduled
    staging_page = client_for(planner).get(f"/plans/windows/{test_window.pk}/").content.decode()
    prod_page = client_for(planner).get(f"/plans/windows/{prod_window.pk}/").content.decode()
    assert "OK: inside off-peak hours" in staging_page
    assert "after the staging test" not in staging_page
    assert "after the staging test" in prod_page


def test_the_windows_card_checks_the_windows_it_read_as_the_checks_would(
    scheduled, team, planner, django_assert_max_num_queries
):
    plan, test_window, prod_window, stg, prd = scheduled
    # Problems of every kind the page shows: an overlap with another plan, production
    # before staging once the staging window is cancelled, a milestone due before it.
    other = factories.PlanFactory(team=team, owner=planner, title="Kernel update")
    _window(other, berlin(2026, 3, 15, 0), berlin(2026, 3, 15, 2), [prd])
    MaintenanceWindow.objects.filter(pk=test_window.pk).update(cancelled_at=berlin(2026, 3, 1, 0))
    early = factories.MilestoneFactory(plan=plan, name="early", due_on=date(2026, 3, 10))
    MaintenanceWindow.objects.filter(pk=prod_window.pk).update(milestone=early)
    read = windows_of_plan(plan=plan)
    # With the windows given: team windows, off-peak, freezes.
    with django_assert_max_num_queries(3):
        given = plan_window_problems(plan, windows=read)
    assert given == plan_window_problems(plan)
    assert sorted(p.code for p in given[prod_window.pk]) == [
        "after_milestone_due",
        "overlap",
        "production_before_staging",
    ]
    assert test_window.pk not in given

"""Readiness checks: each fails in one test and passes in another; their cost is constant."""

from datetime import time, timedelta

import pytest
from django.utils import timezone

from plans.choices import ExecutionStatus
from plans.choices import TestResult as Result
from plans.models import ServerExecution
from plans.readiness import plan_gates, plan_readiness
from plans.services import evidence
from plans.services.evidence import backup_record_create
from plans.services.plans import plan_scope_add, plan_update
from tests import factories

from .run_helpers import make_plan, make_servers, make_window, milestone

pytestmark = pytest.mark.django_db


def check(plan, milestone_name: str, code: str):
    """A check of the milestone's gate, entry or exit."""
    gate = plan_gates(plan)[milestone(plan, milestone_name).pk]
    return next(c for c in gate.entry + gate.exit if c.code == code)


@pytest.fixture
def plan(team, owner):
    return make_plan(team, owner)


@pytest.fixture
def servers(team, plan, owner):
    return make_servers(team, plan, owner)


# --- assessment -----------------------------------------------------------------


def test_assessment_fails_without_servers_in_scope(plan):
    c = check(plan, "assessment", "scope")
    assert not c.passed
    assert "No servers" in c.reason


def test_assessment_passes_with_servers_in_scope(plan, servers):
    c = check(plan, "assessment", "scope")
    assert c.passed
    assert c.reason == f"{len(servers)} servers in scope."
    plan.servers.set(servers[:1])
    assert check(plan, "assessment", "scope").reason == "1 server in scope."


def test_a_fresh_listing_is_one_within_the_teams_own_limit(team, plan, servers, admin):
    """The freshness limit is the team's setting (not one number for every team):
    a 10-day-old listing is stale at the default 7 days, fresh once the team allows 14."""
    from patchplan.teams.services import team_update

    from .run_helpers import record_listings

    record_listings(servers, taken_at=timezone.now() - timedelta(days=10))
    c = check(plan, "assessment", "fresh_listings")
    assert not c.passed and "last 7 days" in c.reason
    team_update(
        team=team,
        name=team.name,
        time_zone=team.time_zone,
        four_eyes=team.four_eyes,
        listing_max_age_days=14,
        by=admin,
    )
    plan.refresh_from_db()
    c = check(plan, "assessment", "fresh_listings")
    assert c.passed and "last 14 days" in c.reason


# --- testing --------------------------------------------------------------------


def test_testing_fails_without_a_test_procedure(team, owner):
    plan = make_plan(team, owner, test_procedure="")
    c = check(plan, "testing", "test_procedure")
    assert not c.passed
    assert "empty" in c.reason


def test_testing_passes_with_a_test_procedure(plan):
    assert check(plan, "testing", "test_procedure").passed


def test_testing_fails_without_staging_servers(team, plan, owner):
    make_servers(team, plan, owner, staging=0)
    c = check(plan, "testing", "staging_servers")
    assert not c.passed
    assert "No staging server" in c.reason


def test_testing_passes_with_a_staging_server(plan, servers):
    c = check(plan, "testing", "staging_servers")
    assert c.passed
    assert "db-staging-1" in c.reason


# --- deployment -----------------------------------------------------------------


def test_deployment_fails_without_a_rollback_plan(team, owner):
    plan = make_plan(team, owner, rollback_plan="  ")
    assert not check(plan, "deployment", "rollback_plan").passed


def test_deployment_passes_with_a_rollback_plan(plan):
    assert check(plan, "deployment", "rollback_plan").passed


def test_deployment_fails_while_a_production_server_has_no_backup(team, plan, owner, servers):
    make_servers(team, plan, owner, production=1, staging=0, prefix="app")
    backup_record_create(plan=plan, server=servers[0], what="db", location="s3://b", by=owner)
    c = check(plan, "deployment", "backups")
    assert not c.passed
    assert "app-prod-1" in c.reason
    assert "db-prod-1" not in c.reason


def test_deployment_passes_with_a_backup_of_every_production_server(plan, owner, servers):
    backup_record_create(
        plan=plan,
        server=servers[0],
        what="database",
        location="/srv/backups",
        command="pg_dump dbname > db_backup.sql",
        by=owner,
    )
    assert check(plan, "deployment", "backups").passed


def test_deployment_fails_without_a_test_run_on_staging(plan, servers):
    c = check(plan, "testing", "staging_test")
    assert not c.passed
    assert "No test run" in c.reason


def test_deployment_fails_when_the_latest_staging_run_failed(plan, owner, servers):
    earlier = timezone.now() - timedelta(hours=2)
    evidence.testrun_create(plan=plan, result=Result.PASS, by=owner, run_at=earlier)
    evidence.testrun_create(plan=plan, result=Result.FAIL, by=owner)
    c = check(plan, "testing", "staging_test")
    assert not c.passed
    assert "failed" in c.reason


def test_deployment_fails_when_the_scope_changed_after_the_passing_run(team, plan, owner, servers):
    evidence.testrun_create(plan=plan, result=Result.PASS, by=owner)
    assert check(plan, "testing", "staging_test").passed
    plan_scope_add(plan=plan, servers=[factories.ServerFactory(team=team)], by=owner)
    plan.refresh_from_db()
    c = check(plan, "testing", "staging_test")
    assert not c.passed
    assert "scope changed" in c.reason


def test_deployment_passes_with_a_passing_staging_run_after_the_scope_change(plan, owner, servers):
    evidence.testrun_create(
        plan=plan, result=Result.FAIL, by=owner, run_at=timezone.now() - timedelta(1)
    )
    evidence.testrun_create(plan=plan, result=Result.PASS, by=owner, servers=[servers[1]])
    assert check(plan, "testing", "staging_test").passed


def test_a_production_test_run_does_not_count_for_staging(plan, owner, servers):
    evidence.testrun_create(plan=plan, result=Result.PASS, by=owner, environment="production")
    assert not check(plan, "testing", "staging_test").passed


def test_deployment_fails_when_a_window_is_outside_off_peak_hours(team, plan, owner, servers):
    # Off-peak is only Sunday 02:00-04:00; the window is whenever "now" is.
    factories.OffPeakFactory(team=team, weekday=6, starts_at=time(2), ends_at=time(4))
    make_window(plan, servers, owner, starts=timezone.now() + timedelta(days=1, minutes=7))
    c = check(plan, "deployment", "windows")
    assert not c.passed
    assert "off-peak" in c.reason


def test_deployment_fails_when_a_window_is_in_a_freeze(team, plan, owner, servers):
    starts = timezone.now() + timedelta(days=3)
    day = timezone.localtime(starts, team.tzinfo).date()
    factories.FreezeFactory(team=team, starts_on=day, ends_on=day, reason="Black Friday")
    make_window(plan, servers, owner, starts=starts)
    c = check(plan, "deployment", "windows")
    assert not c.passed
    assert "Black Friday" in c.reason


def test_deployment_fails_when_windows_overlap_on_a_server(team, plan, owner, servers):
    other = make_plan(team, owner, title="Kernel update")
    plan_scope_add(plan=other, servers=[servers[0]], by=owner)
    starts = timezone.now() + timedelta(days=2)
    make_window(plan, [servers[0]], owner, starts=starts)
    make_window(other, [servers[0]], owner, starts=starts + timedelta(hours=1))
    c = check(plan, "deployment", "windows")
    assert not c.passed
    assert "Overlaps" in c.reason


def test_deployment_passes_with_windows_free_of_problems(plan, owner, servers):
    starts = timezone.now() + timedelta(days=2)
    make_window(plan, [servers[1]], owner, starts=starts)
    make_window(plan, [servers[0]], owner, starts=starts + timedelta(hours=3))
    assert check(plan, "deployment", "windows").passed


# --- review ---------------------------------------------------------------------


def test_review_fails_while_a_server_is_not_in_a_final_state(plan, owner, servers):
    window = make_window(plan, servers, owner)
    ServerExecution.objects.create(
        plan=plan, window=window, server=servers[0], status=ExecutionStatus.IN_PROGRESS
    )
    c = check(plan, "deployment", "final_states")
    assert not c.passed
    assert "db-prod-1" in c.reason and "db-staging-1" in c.reason


def test_review_passes_when_every_server_is_verified_failed_or_rolled_back(plan, owner, servers):
    window = make_window(plan, servers, owner)
    ServerExecution.objects.create(
        plan=plan, window=window, server=servers[0], status=ExecutionStatus.ROLLED_BACK
    )
    ServerExecution.objects.create(
        plan=plan, window=window, server=servers[1], status=ExecutionStatus.VERIFIED
    )
    assert check(plan, "deployment", "final_states").passed


def test_a_milestone_of_another_name_has_no_checks(plan):
    m = factories.MilestoneFactory(plan=plan, name="Party", position=9)
    assert plan_readiness(plan)[m.pk] == []


def test_plan_update_keeps_checks_consistent(plan, owner):
    plan_update(plan=plan, by=owner, rollback_plan="")
    plan.refresh_from_db()
    assert not check(plan, "deployment", "rollback_plan").passed


@pytest.mark.parametrize("size", [1, 8])
def test_readiness_costs_the_same_queries_at_any_size(
    team, owner, size, django_assert_max_num_queries
):
    plan = make_plan(team, owner)
    servers = make_servers(team, plan, owner, production=size, staging=size)
    for s in servers[:size]:
        backup_record_create(plan=plan, server=s, what="db", location="nas", by=owner)
    for _ in range(size):
        evidence.testrun_create(plan=plan, result=Result.PASS, by=owner)
        window = make_window(plan, servers, owner, starts=timezone.now() + timedelta(days=_ + 1))
        ServerExecution.objects.create(
            plan=plan, window=window, server=servers[0], status=ExecutionStatus.IN_PROGRESS
        )
    plan = type(plan).objects.select_related("team").get(pk=plan.pk)
    # milestones, scope, go approvals, window times, follow-ups, backups, latest
    # staging run, executions, and the window checks' five (windows, their servers,
    # off-peak, freezes, team windows)
    with django_assert_max_num_queries(13):
        result = plan_readiness(plan)
    assert len(result) == 4


# --- checks a team adds from the catalogue: a second test run, the CAB's approval ---


def _add_checks(milestone_, by, *, entry=None, exit=None):
    """Give the milestone these checks, as the milestone form does (the service)."""
    from plans.readiness import gate_codes
    from plans.services.plans import milestone_update

    current_entry, current_exit = gate_codes(milestone_)
    milestone_update(
        milestone=milestone_,
        version=milestone_.version,
        by=by,
        name=milestone_.name,
        starts_on=milestone_.starts_on,
        due_on=milestone_.due_on,
        signoff_roles=milestone_.signoff_roles,
        signoff_count=milestone_.signoff_count,
        entry_checks=[*current_entry, *(entry or [])],
        exit_checks=[*current_exit, *(exit or [])],
    )
    milestone_.refresh_from_db()


@pytest.fixture
def earlier_scope(team, owner, frozen_now):
    """A plan whose scope was set three hours before the frozen "now"."""
    import time_machine

    with time_machine.travel(frozen_now - timedelta(hours=3), tick=False):
        plan = make_plan(team, owner)
        servers = make_servers(team, plan, owner)
    return plan, servers


def _fmt(at):
    from plans.readiness import _fmt as fmt

    return fmt(at)


def test_the_new_checks_are_in_the_catalogue_and_not_in_the_defaults():
    from plans.readiness import CATALOGUE, DEFAULT_GATES, catalogue_choices

    choices = dict(catalogue_choices())
    assert choices["second_staging_test"] == (
        "Two passing test runs on staging since the last scope change"
    )
    assert choices["cab_approval"] == "Change approved by the CAB since the last scope change"
    assert {"second_staging_test", "cab_approval"} <= set(CATALOGUE)
    defaults = {c for entry, exit_ in DEFAULT_GATES.values() for c in (*entry, *exit_)}
    assert not defaults & {"second_staging_test", "cab_approval"}


def test_a_second_test_run_fails_with_one_passing_run(earlier_scope, owner, frozen_now):
    plan, _servers = earlier_scope
    _add_checks(milestone(plan, "testing"), owner, exit=["second_staging_test"])
    assert check(plan, "testing", "second_staging_test").reason == (
        "No test run on staging is recorded."
    )
    evidence.testrun_create(
        plan=plan, result=Result.PASS, by=owner, run_at=frozen_now - timedelta(hours=1)
    )
    c = check(plan, "testing", "second_staging_test")
    assert not c.passed
    assert c.reason == (
        "1 passing test run on staging since the scope changed "
        f"({_fmt(plan.scope_changed_at)}): two are needed."
    )
    # The default check is satisfied by that one run, as before.
    assert check(plan, "testing", "staging_test").passed


def test_a_second_test_run_passes_with_two_passing_runs_since_the_scope_change(
    earlier_scope, owner, frozen_now
):
    plan, _servers = earlier_scope
    _add_checks(milestone(plan, "testing"), owner, exit=["second_staging_test"])
    first, second = frozen_now - timedelta(hours=2), frozen_now - timedelta(minutes=30)
    evidence.testrun_create(plan=plan, result=Result.PASS, by=owner, run_at=first)
    evidence.testrun_create(plan=plan, result=Result.PASS, by=owner, run_at=second)
    # A production run is not a staging run, whatever its result.
    evidence.testrun_create(plan=plan, result=Result.FAIL, by=owner, environment="production")
    c = check(plan, "testing", "second_staging_test")
    assert c.passed
    assert c.reason == (
        "2 passing test runs on staging since the scope changed "
        f"({_fmt(plan.scope_changed_at)}), the latest on {_fmt(second)}, "
        f"the one before on {_fmt(first)}."
    )


def test_a_second_test_run_fails_when_the_latest_run_failed(earlier_scope, owner, frozen_now):
    plan, _servers = earlier_scope
    _add_checks(milestone(plan, "testing"), owner, exit=["second_staging_test"])
    for hours in (2, 1):
        evidence.testrun_create(
            plan=plan, result=Result.PASS, by=owner, run_at=frozen_now - timedelta(hours=hours)
        )
    evidence.testrun_create(plan=plan, result=Result.FAIL, by=owner)
    c = check(plan, "testing", "second_staging_test")
    assert not c.passed
    assert c.reason == f"The latest test run on staging ({_fmt(frozen_now)}) failed."


def test_a_second_test_run_counts_only_runs_after_the_last_scope_change(
    team, earlier_scope, owner, frozen_now
):
    plan, _servers = earlier_scope
    _add_checks(milestone(plan, "testing"), owner, exit=["second_staging_test"])
    for hours in (2, 1):
        evidence.testrun_create(
            plan=plan, result=Result.PASS, by=owner, run_at=frozen_now - timedelta(hours=hours)
        )
    assert check(plan, "testing", "second_staging_test").passed
    plan_scope_add(plan=plan, servers=[factories.ServerFactory(team=team)], by=owner)
    plan.refresh_from_db()
    c = check(plan, "testing", "second_staging_test")
    assert not c.passed
    assert c.reason.startswith(
        f"0 passing test runs on staging since the scope changed ({_fmt(frozen_now)})"
    )
    evidence.testrun_create(plan=plan, result=Result.PASS, by=owner)
    assert check(plan, "testing", "second_staging_test").reason.startswith("1 passing test run ")
    evidence.testrun_create(plan=plan, result=Result.PASS, by=owner)
    assert check(plan, "testing", "second_staging_test").passed


def _approve_change(plan, by, at, change_id="CHG0031337"):
    return evidence.change_approval_create(
        plan=plan, change_id=change_id, approved_by="CAB of 1 Dec", approved_at=at, by=by
    )


def test_the_cab_approval_fails_until_a_change_approval_is_recorded(
    earlier_scope, owner, frozen_now
):
    plan, _servers = earlier_scope
    _add_checks(milestone(plan, "deployment"), owner, entry=["cab_approval"])
    c = check(plan, "deployment", "cab_approval")
    assert not c.passed
    assert c.reason == "No change approval is recorded."
    assert not plan_gates(plan)[milestone(plan, "deployment").pk].may_start
    at = frozen_now - timedelta(hours=1)
    _approve_change(plan, owner, at)
    c = check(plan, "deployment", "cab_approval")
    assert c.passed
    assert c.reason == f"CHG0031337 approved on {_fmt(at)}."


def test_the_cab_approval_fails_once_the_scope_changes_after_it(
    team, earlier_scope, owner, frozen_now
):
    plan, _servers = earlier_scope
    _add_checks(milestone(plan, "deployment"), owner, entry=["cab_approval"])
    approved = frozen_now - timedelta(hours=1)
    _approve_change(plan, owner, approved)
    assert check(plan, "deployment", "cab_approval").passed
    plan_scope_add(plan=plan, servers=[factories.ServerFactory(team=team)], by=owner)
    plan.refresh_from_db()
    c = check(plan, "deployment", "cab_approval")
    assert not c.passed
    assert c.reason == (
        f"The scope changed ({_fmt(frozen_now)}) after CHG0031337 was approved ({_fmt(approved)})."
    )
    # The change approved again for the new scope: the latest approval counts.
    _approve_change(plan, owner, frozen_now, change_id="CHG0031338")
    c = check(plan, "deployment", "cab_approval")
    assert c.passed and "CHG0031338" in c.reason


def test_an_approval_dated_before_the_scope_change_does_not_count_however_late_it_is_recorded(
    earlier_scope, owner, frozen_now
):
    """What counts is when the change was approved, not when someone typed it in."""
    plan, _servers = earlier_scope
    _add_checks(milestone(plan, "deployment"), owner, entry=["cab_approval"])
    _approve_change(plan, owner, plan.scope_changed_at - timedelta(days=1))
    assert not check(plan, "deployment", "cab_approval").passed


@pytest.mark.parametrize("size", [1, 8])
def test_the_added_checks_cost_one_query_at_most_at_any_size(
    team, owner, size, django_assert_max_num_queries
):
    plan = make_plan(team, owner)
    make_servers(team, plan, owner, production=size, staging=size)
    _add_checks(milestone(plan, "testing"), owner, exit=["second_staging_test"])
    _add_checks(milestone(plan, "deployment"), owner, entry=["cab_approval"])
    for i in range(size):
        evidence.testrun_create(plan=plan, result=Result.PASS, by=owner)
        _approve_change(plan, owner, timezone.now(), change_id=f"CHG{i}")
    plan = type(plan).objects.select_related("team").get(pk=plan.pk)
    # the 13 of test_readiness_costs_the_same_queries_at_any_size (the staging runs'
    # results and times in the query that read the latest run), and the latest
    # change approval
    with django_assert_max_num_queries(14):
        gates = plan_gates(plan)
    deployment = gates[milestone(plan, "deployment").pk]
    assert next(c for c in deployment.entry if c.code == "cab_approval").passed

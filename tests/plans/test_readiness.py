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

"""Acceptance (issue 5): the guide's "Major Software Upgrade" example, a database
server upgrade, run through every phase by three people in their own browsers:
a planner, an engineer and an approver.

Backup with pg_dump recorded, a test on the staging replica, deployment in a
maintenance window (one server fails and is rolled back, one overruns its
downtime), one rejected sign-off, the gates at the moment of action (the engineer
can't start the production window before the go; the approver's emergency change
opens it and is on the report), the review (the plan can't complete while it is
open; it completes "with exceptions" and the follow-up plan opens with the
rolled-back server), and the printed report (screenshot looked at)."""

import re
import zoneinfo
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import expect

from plans.choices import PlanStatus
from plans.models import (
    ExecutionEvent,
    LogEntry,
    LogEntryRevision,
    Plan,
    ServerExecution,
    SignOff,
)
from plans.services.execution import execution_set_status, window_finish
from plans.services.plans import plan_create, plan_scope_add, plan_transition
from plans.services.windows import window_create
from servers.choices import Environment
from servers.inventory import inventory_import
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

DPKG_BEFORE = "postgresql-13\t13.14-0+deb11u1\nlibpq5\t13.14-0+deb11u1\nbash\t5.2.15-2\n"
DPKG_AFTER = (
    "postgresql-13\t13.14-0+deb11u1\npostgresql-15\t15.6-0+deb12u1\n"
    "libpq5\t15.6-0+deb12u1\nbash\t5.2.15-2\n"
)
TIMEOUT = 15_000

# The live server runs in this process and sees this clock, travelled and ticking: the
# flow runs at the same instant (15:00 in Berlin) whatever the hour CI starts it.
NOW = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=True):
        yield


def _panel(page, name):
    return page.locator(f'[data-testid="signoff-milestone"][data-milestone="{name}"]')


def _row(page, host):
    return page.locator(f'[data-testid="run-row"][data-host="{host}"]')


def _click_status(page, host, label):
    row = _row(page, host)
    row.get_by_role("button", name=f"{label}: {host}").click()


@pytest.fixture
def upgrade(team, planner, engineer, approver):
    """The plan as issue 4's pages leave it: written, scoped (without the staging
    replica yet), with a staging test window yesterday and tonight's production window."""
    prod1 = factories.ServerFactory(
        team=team, hostname="db-prod-1", environment=Environment.PRODUCTION
    )
    prod2 = factories.ServerFactory(
        team=team, hostname="db-prod-2", environment=Environment.PRODUCTION
    )
    staging = factories.ServerFactory(
        team=team, hostname="db-staging-1", environment=Environment.STAGING
    )
    for s in (prod1, prod2, staging):
        inventory_import(
            server=s,
            data=DPKG_BEFORE,
            source="upload",
            taken_at=timezone.now() - timedelta(days=3),
        )
    plan = plan_create(
        team=team,
        title="Major Software Upgrade: PostgreSQL 13 to 15",
        owner=planner,
        by=planner,
        kind="software_upgrade",
        risk="high",
        objective="Upgrade the database servers from PostgreSQL 13 to 15 (end of life).",
        success_criteria="All databases on 15.6; the application's checks pass.",
        backup_plan="`pg_dump dbname > db_backup.sql` on every production server.",
        test_procedure="Run pg_upgrade on the staging replica; run the integration suite.",
        rollback_plan="Stop 15, start 13 on the old data directory; restore the dump if needed.",
        packages=["postgresql-15"],
    )
    plan_scope_add(plan=plan, servers=[prod1, prod2], by=planner)
    now = timezone.now()
    staging_window = window_create(
        plan=plan,
        title="Staging rehearsal",
        starts_at=now - timedelta(days=1, hours=4),
        ends_at=now - timedelta(days=1, hours=2),
        by=planner,
    )
    production_window = window_create(
        plan=plan,
        title="Production upgrade",
        starts_at=now - timedelta(hours=3),
        ends_at=now - timedelta(hours=1),
        downtimes={prod1: 20, prod2: 20},
        by=planner,
    )
    return {
        "plan": plan,
        "prod1": prod1,
        "prod2": prod2,
        "staging": staging,
        "staging_window": staging_window,
        "window": production_window,
    }


def test_major_software_upgrade_through_every_phase(
    browser, live_server, login, shot, team, planner, engineer, approver, upgrade
):
    plan = upgrade["plan"]
    base = f"{live_server.url}/plans/{plan.pk}"
    planner_page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    engineer_page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    approver_page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    for p in (planner_page, engineer_page, approver_page):
        p.set_default_timeout(TIMEOUT)
    login(planner_page, planner)
    login(engineer_page, engineer)
    login(approver_page, approver)

    # --- Assessment: the approver signs off from the plan page's panel ----------
    approver_page.goto(f"{base}/")
    assessment = _panel(approver_page, "assessment")
    expect(assessment.get_by_test_id("check-scope")).to_have_attribute("data-passed", "yes")
    assessment.get_by_label("Comment").fill("Scope and objective are right.")
    assessment.get_by_role("button", name="Approve").click()
    expect(_panel(approver_page, "assessment").get_by_test_id("signed-off")).to_be_visible()
    shot(approver_page, "upgrade-01-plan-page-assessment-signed")

    # --- Testing: no staging server in scope yet, so the approver rejects -------
    approver_page.goto(f"{base}/signoff/")
    testing = _panel(approver_page, "testing")
    expect(testing.get_by_test_id("check-staging_servers")).to_have_attribute("data-passed", "no")
    testing.get_by_label("Comment").fill("Add the staging replica and rehearse there first.")
    testing.get_by_role("button", name="Reject").click()
    expect(_panel(approver_page, "testing")).to_contain_text("round 2")
    expect(_panel(approver_page, "testing").get_by_test_id("signoff-row")).to_contain_text(
        "Rejected"
    )
    shot(approver_page, "upgrade-02-testing-rejected")

    # The planner puts the replica in scope and in the rehearsal window (issue 4's
    # scope and window pages do this; their services here).
    from plans.models import WindowServer

    plan_scope_add(plan=plan, servers=[upgrade["staging"]], by=planner)
    WindowServer.objects.create(
        window=upgrade["staging_window"], server=upgrade["staging"], expected_downtime_minutes=15
    )

    # --- Evidence: the engineer records the rehearsal and a backup ---------------
    engineer_page.goto(f"{base}/evidence/")
    form = engineer_page.get_by_test_id("testrun-form")
    form.get_by_label("Environment").select_option("staging")
    form.get_by_label("db-staging-1 (staging)").check()
    form.get_by_label("Pass").check()
    form.get_by_label("Notes").fill("pg_upgrade --link in 4 minutes; integration suite green.")
    form.get_by_role("button", name="Record test run").click()
    expect(engineer_page.get_by_text("Test run recorded.")).to_be_visible()

    form = engineer_page.get_by_test_id("backup-form")
    form.get_by_label("db-prod-1 (production)").check()
    form.get_by_label("What was backed up").fill("All databases of the cluster")
    form.get_by_label("Where it is stored").fill("backup-nas:/pg/db-prod-1/2026-11-28/")
    form.get_by_label("Command or tool").fill("pg_dump dbname > db_backup.sql")
    form.get_by_label("Verified by").select_option(label=engineer.display_name)
    form.get_by_label("A restore was tested").check()
    form.get_by_role("button", name="Record backup").click()
    expect(engineer_page.get_by_text("Backup recorded for 1 server.")).to_be_visible()
    expect(engineer_page.get_by_test_id("backups-table")).to_contain_text(
        "pg_dump dbname > db_backup.sql"
    )
    shot(engineer_page, "upgrade-03-evidence")

    # --- Testing again: the approver signs off round 2 -------------------------
    approver_page.goto(f"{base}/signoff/")
    testing = _panel(approver_page, "testing")
    expect(testing.get_by_test_id("check-staging_servers")).to_have_attribute("data-passed", "yes")
    testing.get_by_role("button", name="Approve").click()
    expect(_panel(approver_page, "testing").get_by_test_id("signed-off")).to_be_visible()

    # --- Deployment: db-prod-2 has no backup, so the go can't be given ----------
    deployment = _panel(approver_page, "deployment")
    expect(deployment.get_by_test_id("check-backups")).to_have_attribute("data-passed", "no")
    expect(deployment.get_by_test_id("check-backups")).to_contain_text("db-prod-2")
    expect(deployment.get_by_test_id("check-testing_signed_off")).to_have_attribute(
        "data-passed", "yes"
    )
    expect(deployment.get_by_test_id("may-not-start")).to_be_visible()
    expect(deployment.get_by_role("button", name="Give the go")).to_be_disabled()
    shot(approver_page, "upgrade-04-deployment-no-go")

    # The plan goes through review and approval (issue 4's workflow).
    plan_transition(plan=plan, to_status=PlanStatus.IN_REVIEW, by=planner)
    plan_transition(plan=plan, to_status=PlanStatus.APPROVED, by=approver)

    # --- The engineer can't start the production window before the go ----------
    run_url = f"{base}/windows/{upgrade['window'].pk}/run/"
    engineer_page.goto(run_url)
    blocked = engineer_page.get_by_test_id("gate-blocked")
    expect(blocked).to_contain_text("The go from the milestone's approvers")
    expect(blocked).to_contain_text("db-prod-2")
    expect(engineer_page.get_by_role("button", name="Start window now")).to_be_disabled()
    expect(engineer_page.get_by_test_id("override-form")).to_have_count(0)  # not an approver
    # A status click is refused at the row; the page stays whole.
    _click_status(engineer_page, "db-prod-1", "In progress")
    expect(_row(engineer_page, "db-prod-1").get_by_test_id("run-error")).to_contain_text(
        "may not start yet"
    )
    expect(_row(engineer_page, "db-prod-1").get_by_test_id("exec-status")).to_have_text("Pending")
    expect(engineer_page.get_by_role("navigation").first).to_be_visible()
    expect(engineer_page.get_by_test_id("window-times")).to_be_visible()
    shot(engineer_page, "upgrade-05-run-refused-before-the-go")
    assert not ExecutionEvent.objects.exists()
    assert Plan.objects.get(pk=plan.pk).status == PlanStatus.APPROVED

    # --- The approver orders an emergency change with a reason ------------------
    approver_page.goto(run_url)
    override = approver_page.get_by_test_id("override-form")
    override.get_by_label(re.compile("Emergency change")).fill(
        "db-prod-2 is a streaming replica of db-prod-1; it is rebuilt from it, not restored."
    )
    override.get_by_role("button", name="Record the emergency change").click()
    expect(approver_page.get_by_test_id("gate-overridden")).to_contain_text("streaming replica")

    # --- Execution: the engineer runs the window; the planner watches live -------
    planner_page.goto(run_url)
    engineer_page.goto(run_url)
    engineer_page.get_by_role("button", name="Start window now").click()
    expect(engineer_page.get_by_test_id("actual-start")).not_to_contain_text("not yet")
    assert Plan.objects.get(pk=plan.pk).status == PlanStatus.IN_PROGRESS

    _click_status(engineer_page, "db-prod-1", "In progress")
    expect(_row(engineer_page, "db-prod-1").get_by_test_id("exec-status")).to_have_text(
        "In progress"
    )
    _click_status(engineer_page, "db-prod-1", "Patched")
    expect(_row(engineer_page, "db-prod-1").get_by_test_id("exec-status")).to_have_text("Patched")
    # Verifying before the new listing is in is refused with the reason at the row.
    _click_status(engineer_page, "db-prod-1", "Verified")
    expect(_row(engineer_page, "db-prod-1").get_by_test_id("run-error")).to_contain_text(
        "doesn't show the plan's packages patched"
    )
    row = _row(engineer_page, "db-prod-1")
    row.locator("input[type=file]").set_input_files(
        files=[{"name": "dpkg.txt", "mimeType": "text/plain", "buffer": DPKG_AFTER.encode()}]
    )
    row.get_by_role("button", name="Upload").click()
    expect(_row(engineer_page, "db-prod-1").get_by_test_id("pkg-postgresql-15")).to_contain_text(
        "15.6-0+deb12u1"
    )
    _click_status(engineer_page, "db-prod-1", "Verified")
    expect(_row(engineer_page, "db-prod-1").get_by_test_id("exec-status")).to_have_text("Verified")

    # db-prod-2 fails and is rolled back.
    _click_status(engineer_page, "db-prod-2", "In progress")
    expect(_row(engineer_page, "db-prod-2").get_by_test_id("exec-status")).to_have_text(
        "In progress"
    )
    # Failed and rolled back need a reason, typed next to the button.
    _row(engineer_page, "db-prod-2").get_by_label("Why db-prod-2 is failed").fill(
        "pg_upgrade stopped: postgis 2.5 missing"
    )
    _click_status(engineer_page, "db-prod-2", "Failed")
    expect(_row(engineer_page, "db-prod-2").get_by_test_id("exec-status")).to_have_text("Failed")
    _row(engineer_page, "db-prod-2").get_by_label("Why db-prod-2 is rolled back").fill(
        "Back to 13 from the snapshot"
    )
    _click_status(engineer_page, "db-prod-2", "Rolled back")
    expect(_row(engineer_page, "db-prod-2").get_by_test_id("exec-status")).to_have_text(
        "Rolled back"
    )

    # Downtime as recorded: db-prod-1 overran its 20 minutes.
    for host, minutes in (("db-prod-1", "65"), ("db-prod-2", "12")):
        row = _row(engineer_page, host)
        row.get_by_label(f"Recorded downtime of {host} (minutes)").fill(minutes)
        with engineer_page.expect_response(lambda r: "/downtime/" in r.url):
            row.get_by_role("button", name="Save").click()
        expect(
            _row(engineer_page, host).get_by_label(f"Recorded downtime of {host} (minutes)")
        ).to_have_value(minutes)

    # The planner's page refreshes by itself (the plan's live poll moves the run board).
    expect(_row(planner_page, "db-prod-1").get_by_test_id("exec-status")).to_have_text(
        "Verified", timeout=2000
    )
    expect(_row(planner_page, "db-prod-2").get_by_test_id("exec-status")).to_have_text(
        "Rolled back"
    )
    expect(planner_page.get_by_test_id("run-events")).to_contain_text("Failed → Rolled back")
    shot(planner_page, "upgrade-06-run-mode-live")

    # The actual times: it started with the window and ran 45 minutes over.
    zone = zoneinfo.ZoneInfo(engineer.time_zone or team.time_zone)
    window = upgrade["window"]
    started = window.starts_at.astimezone(zone)
    ended = (window.ends_at + timedelta(minutes=45)).astimezone(zone)
    engineer_page.goto(run_url)
    engineer_page.get_by_text("Correct the actual times").click()
    times = engineer_page.get_by_test_id("times-form")
    times.get_by_label(re.compile("Actual start")).fill(started.strftime("%Y-%m-%dT%H:%M"))
    times.get_by_label(re.compile("Actual end")).fill(ended.strftime("%Y-%m-%dT%H:%M"))
    times.get_by_role("button", name="Save times").click()
    expect(engineer_page.get_by_test_id("actual-end")).not_to_contain_text("not yet")
    shot(engineer_page, "upgrade-07-run-mode-engineer")
    assert ExecutionEvent.objects.filter(execution__window=window).count() == 6
    # Every run-mode change is in the execution log, with who and why.
    logged = list(
        LogEntry.objects.filter(kind="status", window=window).values_list("author", "body")
    )
    assert len(logged) == 6 and {a for a, _b in logged} == {engineer.pk}
    assert (engineer.pk, "db-prod-2: Failed → Rolled back. Back to 13 from the snapshot") in logged

    # The replica rehearsal counts as verified, with the reason (done in its window).
    for status in ("in_progress", "patched"):
        execution_set_status(
            window=upgrade["staging_window"], server=upgrade["staging"], status=status, by=engineer
        )
    execution_set_status(
        window=upgrade["staging_window"],
        server=upgrade["staging"],
        status="verified",
        verification_note="Rehearsal only; the replica is rebuilt after production.",
        by=engineer,
    )
    window_finish(window=upgrade["staging_window"], by=engineer)

    # --- Deployment done: every server in a final state ----------------------------
    approver_page.goto(f"{base}/signoff/")
    deployment = _panel(approver_page, "deployment")
    expect(deployment.get_by_test_id("check-final_states")).to_have_attribute("data-passed", "yes")
    deployment.get_by_test_id("signoff-form").get_by_role("button", name="Approve").click()
    expect(_panel(approver_page, "deployment").get_by_test_id("signed-off")).to_be_visible()

    # --- Documentation: the execution log, with an edit that keeps history ------
    engineer_page.goto(f"{base}/log/")
    log = engineer_page.get_by_test_id("log-form")
    log.get_by_label("Kind").select_option("issue")
    log.get_by_label("Entry").fill("db-prod-2: pg_upgrade stopped: extension postgis 2.5 missing.")
    log.get_by_label("Server").select_option(label="db-prod-2")
    log.get_by_role("button", name="Add to log").click()
    expect(engineer_page.get_by_text("Log entry added.")).to_be_visible()
    engineer_page.get_by_test_id("log-entry").filter(has_text="extension postgis 2.5").get_by_role(
        "link", name="Edit / history"
    ).click()
    edit = engineer_page.get_by_test_id("log-edit-form")
    edit.get_by_label("Kind").select_option("resolution")
    edit.get_by_label("Entry").fill(
        "db-prod-2: pg_upgrade stopped (postgis 2.5 missing); rolled back to 13 from the "
        "snapshot, replica rebuilt."
    )
    edit.get_by_role("button", name="Save").click()
    expect(engineer_page.get_by_test_id("edited")).to_be_visible()
    shot(engineer_page, "upgrade-08-log")
    assert LogEntryRevision.objects.count() == 1

    # --- Review: lessons learned, then the last sign-off completes the plan -----
    planner_page.goto(f"{base}/review/")
    expect(
        planner_page.locator('[data-testid="review-server"][data-host="db-prod-1"]')
    ).to_have_attribute("data-overran", "yes")
    planner_page.get_by_label("Lessons learned").fill(
        "- Check extensions (postgis) on every server before pg_upgrade.\n"
        "- Plan 60 minutes of downtime per server, not 20."
    )
    planner_page.get_by_role("button", name="Save lessons learned").click()
    expect(planner_page.get_by_text("Lessons learned saved.")).to_be_visible()
    shot(planner_page, "upgrade-09-review")

    # The review is open: the plan is not complete, and no button completes it.
    planner_page.goto(f"{base}/")
    expect(planner_page.get_by_role("button", name=re.compile("[Cc]omplete"))).to_have_count(0)
    approver_page.goto(f"{base}/signoff/")
    review = _panel(approver_page, "review")
    expect(review.get_by_test_id("check-follow_ups")).to_have_attribute("data-passed", "no")
    expect(review.get_by_test_id("check-follow_ups")).to_contain_text("db-prod-2")
    review.get_by_role("button", name="Approve").click()
    expect(_panel(approver_page, "review").get_by_test_id("signoff-error")).to_contain_text(
        "A follow-up for every failed or rolled-back server"
    )
    assert Plan.objects.get(pk=plan.pk).status == PlanStatus.IN_PROGRESS

    # One click: the follow-up plan opens with the rolled-back server in scope.
    planner_page.goto(f"{base}/review/")
    planner_page.get_by_test_id("create-follow-up").click()
    expect(planner_page.get_by_text("Follow-up plan created")).to_be_visible()
    follow_up = Plan.objects.exclude(pk=plan.pk).get()
    planner_page.wait_for_url(re.compile(rf"/plans/{follow_up.pk}/$"))
    expect(planner_page.locator("h1")).to_contain_text("Follow-up: Major Software Upgrade")
    expect(planner_page.get_by_text("db-prod-2").first).to_be_visible()
    assert list(follow_up.servers.values_list("hostname", flat=True)) == ["db-prod-2"]
    assert follow_up.packages == ["postgresql-15"]
    shot(planner_page, "upgrade-10-follow-up-plan")

    approver_page.goto(f"{base}/signoff/")
    review = _panel(approver_page, "review")
    expect(review.get_by_test_id("check-final_states")).to_have_count(0)
    expect(review.get_by_test_id("check-follow_ups")).to_have_attribute("data-passed", "yes")
    review.get_by_label("Comment").fill("Done; db-prod-2 follows in a new plan.")
    review.get_by_role("button", name="Approve").click()
    expect(_panel(approver_page, "review").get_by_test_id("signed-off")).to_be_visible()
    assert Plan.objects.get(pk=plan.pk).status == PlanStatus.COMPLETED_EXC
    # The deployment's entry gate is history now: it started on the emergency change
    # (who, why), and no longer "may not start yet".
    deployment = _panel(approver_page, "deployment")
    expect(deployment.get_by_test_id("started-emergency")).to_be_visible()
    expect(deployment.get_by_test_id("may-not-start")).to_have_count(0)
    expect(deployment.get_by_test_id("emergency-note")).to_contain_text(approver.display_name)
    deployment.scroll_into_view_if_needed()
    shot(approver_page, "upgrade-10a-deployment-started-on-emergency")
    assert SignOff.objects.filter(milestone__plan=plan).count() == 5
    # The plan page says so, with the server that was not verified.
    planner_page.goto(f"{base}/")
    expect(planner_page.get_by_test_id("plan-status")).to_have_text("Completed with exceptions")
    shot(planner_page, "upgrade-10b-plan-completed-with-exceptions")
    assert ServerExecution.objects.filter(status="rolled_back").count() == 1

    # --- The history: every change, filterable (here: what the engineer did) ----
    planner_page.goto(f"{base}/history/")
    planner_page.get_by_label("Who").select_option(label=engineer.display_name)
    planner_page.get_by_role("button", name="Filter").click()
    history = planner_page.get_by_test_id("history-table")
    # Labels people read: the part and field by name, values as displayed.
    expect(history).to_contain_text("Server execution")
    expect(history).to_contain_text("Rolled back")
    expect(history).not_to_contain_text("rolled_back")
    expect(history).not_to_contain_text("serverexecution")
    expect(history).not_to_contain_text(approver.display_name)
    shot(planner_page, "upgrade-11-history")

    # --- The report, printed --------------------------------------------------
    planner_page.goto(f"{base}/report/")
    report = planner_page.get_by_test_id("report")
    expect(planner_page.get_by_test_id("report-status")).to_have_text("Completed with exceptions")
    expect(report).to_contain_text("pg_dump dbname > db_backup.sql")
    expect(report).to_contain_text("Rejected by")
    emergency = report.get_by_test_id("review-emergency")
    expect(emergency).to_contain_text("streaming replica")
    expect(emergency).to_contain_text(approver.display_name)
    expect(report.get_by_test_id("review-follow-ups")).to_contain_text("db-prod-2")
    expect(report.get_by_test_id("report-log")).to_contain_text(
        "db-prod-2: Failed → Rolled back. Back to 13 from the snapshot"
    )
    # ...and the window's own run-mode changes: the emergency change, start, listing.
    expect(report.get_by_test_id("report-log")).to_contain_text("Emergency change ordered")
    expect(report.get_by_test_id("report-log")).to_contain_text(
        "Window Production upgrade started."
    )
    expect(report.get_by_test_id("report-log")).to_contain_text(
        "db-prod-1: package listing uploaded"
    )
    window_row = report.locator('[data-testid="review-window"]').filter(has_text="Production")
    expect(window_row).to_have_attribute("data-overran", "yes")
    expect(window_row).to_contain_text("120 min")
    expect(window_row).to_contain_text("165 min")
    planner_page.emulate_media(media="print")
    expect(planner_page.get_by_test_id("plan-run-nav")).to_be_hidden()
    shot(planner_page, "upgrade-12-report-print")
    planner_page.emulate_media(media="screen")

    with planner_page.expect_download() as download:
        planner_page.get_by_test_id("report-md").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert "# Major Software Upgrade: PostgreSQL 13 to 15" in text
    assert "`pg_dump dbname > db_backup.sql`" in text
    assert "OVERRUN" in text
    assert "**Emergency change** on Production upgrade" in text and "streaming replica" in text
    assert "db-prod-2: Failed → Rolled back. Back to 13 from the snapshot" in text

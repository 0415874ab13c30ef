"""Acceptance (issue 14): import advisories, open Vulnerabilities, open the critical
CVE, "Plan the fix", run the plan with a post-patch listing, and see the CVE
closed on the server page and in the posture report. A real Celery worker
rematches the fleet after the feed upload. Screenshots: var/screenshots/advisory-*.png."""

import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from playwright.sync_api import expect

from patchplan.advisories.models import FleetMatchRun, Match
from plans.choices import PlanStatus
from plans.models import Plan
from plans.services.plans import plan_transition, plan_update
from plans.services.signoff import signoff_give
from plans.services.windows import window_create
from servers.choices import Criticality, Environment, SnapshotSource
from servers.inventory import inventory_import
from tests import factories
from tests.advisories.conftest import DATA, osv_zip
from tests.notifications.conftest import celery_queue, celery_worker, own_queue  # noqa: F401
from tests.plans.run_helpers import give_go, milestone

pytestmark = pytest.mark.django_db(transaction=True)
NOW = datetime(2026, 12, 3, 5, 0, tzinfo=UTC)
LISTING = (DATA / "debian12-dpkg-query-source.tsv").read_text()
# After patching, every binary of openssl (libssl3, libssl-dev, openssl) is at the fix.
PATCHED = LISTING.replace("3.0.19-1~deb12u2", "3.0.22-1~deb12u2")


@pytest.fixture
def clock():
    # The live server runs in this process: it sees the same travelled clock.
    with time_machine.travel(NOW, tick=True):
        yield


def _wait(condition, seconds=30.0):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def test_from_advisory_to_closed_cve(
    clock,
    page,
    live_server,
    login,
    shot,
    team,
    admin,
    planner,
    engineer,
    approver,
    celery_worker,  # noqa: F811
    tmp_path,
):
    url = live_server.url
    prd = factories.ServerFactory(
        team=team,
        hostname="web-prd-01",
        environment=Environment.PRODUCTION,
        criticality=Criticality.CRITICAL,
    )
    stg = factories.ServerFactory(team=team, hostname="web-stg-01", environment=Environment.STAGING)
    for server in (prd, stg):
        inventory_import(
            server=server,
            data=LISTING,
            source=SnapshotSource.UPLOAD,
            taken_at=NOW - timedelta(days=2),
        )
    admin.is_staff = True
    admin.save()

    # Import the feeds through the admin upload; the worker rematches the fleet.
    login(page, admin)
    page.goto(f"{url}/vulnerabilities/sources/")
    for source, path in [
        ("debian", DATA / "debian-tracker.json"),
        ("osv", osv_zip(tmp_path / "all.zip")),
        ("kev", DATA / "kev.json"),
    ]:
        page.get_by_label("Feed").select_option(source)
        page.get_by_label("File").set_input_files(str(path))
        page.get_by_role("button", name="Import").click()
        expect(page.locator(".alert-success")).to_contain_text(f"{source}:")
    # A broken file: refused at the field, the previous KEV data stays in use.
    page.get_by_label("Feed").select_option("kev")
    page.get_by_label("File").set_input_files(
        files=[
            {
                "name": "kev.json",
                "mimeType": "application/json",
                "buffer": (DATA / "kev.json").read_bytes()[:700],
            }
        ]
    )
    page.get_by_role("button", name="Import").click()
    expect(page.locator(".invalid-feedback, .text-danger").first).to_contain_text("not valid JSON")
    expect(page.get_by_test_id("source-error")).to_contain_text("not valid JSON")
    shot(page, "advisory-0-feed-error")
    _wait(lambda: FleetMatchRun.objects.filter(finished_at__isnull=False).count() >= 1)
    _wait(lambda: Match.objects.filter(server=prd, vulnerability__ident="CVE-2026-21001").exists())
    page.reload()
    shot(page, "advisory-1-feeds")
    # The team admin sets the remediation targets.
    page.goto(f"{url}/vulnerabilities/targets/")
    page.get_by_label("Critical (days)").fill("5")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Remediation targets saved.")).to_be_visible()
    expect(page.get_by_test_id("remediation-posture")).to_contain_text("5 d")
    shot(page, "advisory-1b-targets")
    page.context.clear_cookies()

    # The planner ranks, opens the critical CVE and plans the fix.
    login(page, planner)
    page.goto(f"{url}/vulnerabilities/")
    first = page.get_by_test_id("vulnerability-table").locator("tbody tr").first
    expect(first).to_contain_text("CVE-2026-21001")
    expect(first).to_contain_text("Known exploited")
    shot(page, "advisory-2-list")
    first.get_by_role("link", name="CVE-2026-21001").click()
    expect(page.get_by_test_id("affected-servers")).to_contain_text("web-prd-01")
    expect(page.get_by_test_id("affected-servers")).to_contain_text("3.0.22-1~deb12u2")
    shot(page, "advisory-3-cve")
    page.get_by_test_id("plan-fix").click()
    expect(page.locator("h1")).to_contain_text("Fix CVE-2026-21001")
    plan = Plan.objects.get()
    assert plan.package_targets["libssl3"] == "3.0.22-1~deb12u2"
    expect(page.get_by_text("OpenSSL: remote code execution in the TLS 1.3")).to_be_visible()
    shot(page, "advisory-4-plan")

    # Approved, scheduled and past its gates (issue 4's and issue 12's pages, done
    # here through the services): the listings of two days ago are the assessment's
    # fresh ones; then a passing staging run, testing signed off, the production
    # backup and the deployment's go.
    plan.refresh_from_db()
    plan_update(
        plan=plan,
        by=planner,
        rollback_plan="Reinstall 3.0.19-1~deb12u2 from the local mirror.",
    )
    plan_transition(plan=plan, to_status=PlanStatus.IN_REVIEW, by=planner)
    plan_transition(plan=plan, to_status=PlanStatus.APPROVED, by=approver)
    window = window_create(
        plan=plan,
        starts_at=NOW - timedelta(hours=1),
        ends_at=NOW + timedelta(hours=2),
        by=planner,
        title="Patch night",
        downtimes={prd: 10, stg: 10},
    )
    signoff_give(milestone=milestone(plan, "assessment"), by=approver, decision="approve")
    give_go(plan, [prd, stg], planner=planner, approver=approver, assessed=True)
    page.context.clear_cookies()

    # The engineer runs the window: patched, post-patch listing, verified.
    login(page, engineer)
    page.goto(f"{url}/plans/{plan.pk}/windows/{window.pk}/run/")
    page.get_by_role("button", name="Start window now").click()
    row = page.locator('[data-testid="run-row"][data-host="web-prd-01"]')
    row.get_by_role("button", name="In progress: web-prd-01").click()
    expect(row.get_by_test_id("exec-status")).to_have_text("In progress")
    row.get_by_role("button", name="Patched: web-prd-01").click()
    expect(row.get_by_test_id("exec-status")).to_have_text("Patched")
    row.locator("input[type=file]").set_input_files(
        files=[{"name": "dpkg.tsv", "mimeType": "text/plain", "buffer": PATCHED.encode()}]
    )
    row.get_by_role("button", name="Upload").click()
    expect(row.get_by_test_id("pkg-libssl3")).to_contain_text("3.0.22-1~deb12u2")
    row.get_by_role("button", name="Verified: web-prd-01").click()
    expect(row.get_by_test_id("exec-status")).to_have_text("Verified")
    shot(page, "advisory-5-run")

    # Closed on the server page (and still open on staging), and in the posture report.
    page.goto(f"{url}/servers/{prd.pk}/")
    section = page.get_by_test_id("server-vulnerabilities")
    expect(section).to_contain_text("832 of 832 packages matched to a source")
    expect(section).not_to_contain_text("CVE-2026-21001")
    shot(page, "advisory-6-server")
    page.goto(f"{url}/servers/{stg.pk}/")
    expect(page.get_by_test_id("server-vulnerabilities")).to_contain_text("CVE-2026-21001")
    page.goto(f"{url}/reports/posture/")
    expect(page.get_by_test_id("posture-open-critical")).to_have_text("1")
    expect(page.get_by_test_id("remediation-posture")).to_contain_text("0.0 d")
    shot(page, "advisory-7-posture")
    closed = Match.objects.get(server=prd, vulnerability__ident="CVE-2026-21001")
    assert closed.resolved_at is not None


def test_plan_the_fix_for_selected_cves(
    clock, page, live_server, login, shot, team, planner, tmp_path
):
    """From the list: an empty selection is refused on the page; two ticked CVEs
    become one plan covering both, staging first."""
    from patchplan.advisories.services import advisories_import

    url = live_server.url
    for source, path in [
        ("debian", DATA / "debian-tracker.json"),
        ("osv", osv_zip(tmp_path / "all.zip")),
        ("kev", DATA / "kev.json"),
    ]:
        advisories_import(source=source, location=str(path), rematch=False)
    for hostname, environment in [
        ("web-prd-01", Environment.PRODUCTION),
        ("web-stg-01", Environment.STAGING),
    ]:
        server = factories.ServerFactory(team=team, hostname=hostname, environment=environment)
        inventory_import(server=server, data=LISTING, source=SnapshotSource.UPLOAD)
    login(page, planner)
    page.goto(f"{url}/vulnerabilities/")
    page.get_by_test_id("plan-selected").click()
    expect(page.locator(".alert-danger, .alert-error").first).to_contain_text(
        "Select at least one vulnerability to plan its fix."
    )
    page.get_by_label("Select CVE-2026-21001").check()
    page.get_by_label("Select CVE-2023-45853").check()
    shot(page, "advisory-8-selection")
    page.get_by_test_id("plan-selected").click()
    expect(page.locator("h1")).to_contain_text("Fix CVE-2026-21001, CVE-2023-45853")
    shot(page, "advisory-9-selection-plan")
    plan = Plan.objects.get()
    assert plan.package_targets["zlib1g"] == "1:1.2.13.dfsg-1+deb12u1"
    assert plan.package_targets["libssl3"] == "3.0.22-1~deb12u2"
    assert plan.test_procedure.index("web-stg-01") < plan.test_procedure.index("web-prd-01")

    # The same from a server page's open CVEs.
    stg = Plan.objects.get().servers.get(hostname="web-stg-01")
    page.goto(f"{url}/servers/{stg.pk}/")
    section = page.get_by_test_id("server-vulnerabilities")
    section.get_by_label("Select CVE-2026-30100 (bash)").check()
    shot(page, "advisory-10-server-selection")
    section.get_by_test_id("server-plan-selected").click()
    expect(page.locator("h1")).to_contain_text("Fix CVE-2026-30100 (bash)")
    assert Plan.objects.count() == 2

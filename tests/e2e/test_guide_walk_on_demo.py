"""The guide's two real-world examples walked on `make run`'s demo data alone, as a
newcomer would, following the README's table (issue 17): a critical vulnerability in the
web tier (nginx and apache2 servers, staging first), and a major PostgreSQL upgrade tried
on a replica first. Screenshots: var/screenshots/walk-*.png.

The demo data is made relative to "now": the clock is set to a fixed instant (a Wednesday
morning in Berlin) before seeding, so what the pages say is the same at any hour."""

import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.core.management import call_command
from playwright.sync_api import expect

from patchplan.accounts.models import User
from patchplan.dashboard.management.commands.seed_demo import DEMO_PASSWORD
from plans.models import BackupRecord

pytestmark = pytest.mark.django_db(transaction=True)

# The guide's own timeline, dated 2023.
GUIDE_YAML = """milestones:
  - assessment: "2023-10-01"
  - testing: "2023-10-05"
  - deployment: "2023-10-10"
"""

# Wednesday 2 December 2026, 10:00 in Berlin (the demo team's zone).
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def demo(transactional_db):
    # The live server runs in this process: it sees the same travelled clock. Ticking, so
    # that the page's timers and the server's "now" move on as they would.
    with time_machine.travel(NOW, tick=True):
        call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115, PTH123
        yield {u.username: u for u in User.objects.filter(memberships__team__slug="demo")}


def _nav(page, name):
    # Wait for the new page: the click returns before the browser has left the old one.
    with page.expect_navigation():
        page.get_by_role("navigation", name="Main").get_by_role(
            "link", name=name, exact=True
        ).click()


def _fleet_search(page, package, below=""):
    page.get_by_label("Package").fill(package)
    page.get_by_label("Below version").fill(below)
    # A form GET: read the hits only once the answer has replaced the page.
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()


def _hosts(page):
    return page.get_by_test_id("fleet-table").locator("tbody tr td:first-child").all_inner_texts()


def _switch(page, login, user):
    page.context.clear_cookies()
    login(page, user, DEMO_PASSWORD)


def test_example_1_a_critical_vulnerability_in_the_web_tier(page, live_server, login, shot, demo):
    login(page, demo["planner"], DEMO_PASSWORD)
    # Staging ran last night: what is next is the production window.
    next_windows = page.get_by_test_id("next-windows")
    expect(next_windows).to_contain_text("Production web servers")
    expect(next_windows).not_to_contain_text("Staging first")
    shot(page, "walk-1-01-dashboard-planner")

    # 1. Assess: which web servers run nginx or apache2, which still have the old OpenSSL.
    _nav(page, "Servers")
    page.get_by_role("link", name="Fleet search").click()
    _fleet_search(page, "nginx")
    assert _hosts(page) == ["web-prd-01", "web-prd-06", "web-prd-11", "web-stg-26"]
    shot(page, "walk-1-02-fleet-nginx")
    _fleet_search(page, "apache2")
    assert _hosts(page) == ["web-prd-16", "web-prd-21"]
    _fleet_search(page, "openssl", "3.0.22-1~deb12u2")
    unpatched = _hosts(page)
    # The staging twin was patched in its window; web-prd-01 and -16 were already.
    assert {"web-prd-06", "web-prd-11", "web-prd-21"} <= set(unpatched)
    assert not {"web-stg-26", "web-prd-01", "web-prd-16"} & set(unpatched)
    shot(page, "walk-1-03-fleet-openssl")

    # 2-3. The plan: objective, references, scope, timeline; staging before production.
    _nav(page, "Plans")
    shot(page, "walk-1-04-plans")
    page.get_by_role("link", name="OpenSSL security patch (web tier)").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("OpenSSL security patch (web tier)")
    expect(page.get_by_role("link", name="CVE-2024-0727")).to_be_visible()
    run_links = page.get_by_test_id("run-links")
    expect(run_links).to_contain_text("Staging first: web-stg-26 (Tue 1 Dec, 01:00 Europe/Berlin)")
    expect(run_links).to_contain_text("Production web servers (Sun 6 Dec, 01:00 Europe/Berlin)")
    # Checks a newcomer reads: the staging test counts, the go still needs backups.
    expect(page.get_by_text("6 servers in scope.")).to_be_visible()
    expect(page.get_by_text(re.compile(r"Passed on staging on 1 Dec 2026, 01:5\d"))).to_be_visible()
    expect(
        page.get_by_text("No backup recorded for web-prd-11, web-prd-16, web-prd-21.")
    ).to_be_visible()
    shot(page, "walk-1-05-plan")

    # 5. Backups: one form for the three production servers left.
    page.get_by_role("link", name="Evidence").first.click()
    form = page.get_by_test_id("backup-form")
    for host in ("web-prd-11", "web-prd-16", "web-prd-21"):
        form.get_by_label(f"{host} (Production)").check()
    form.get_by_label("What was backed up").fill("VM snapshot and /etc/ssl")
    form.get_by_label("Where it is stored").fill("backup-nas:/snapshots/")
    expect(form.get_by_text("Europe/Berlin (your time zone)")).to_be_visible()
    shot(page, "walk-1-06-evidence-form")
    form.get_by_role("button", name="Record backup").click()
    expect(page.get_by_text("Backup recorded for 3 servers.")).to_be_visible()
    assert BackupRecord.objects.filter(plan__title__startswith="OpenSSL").count() == 5
    shot(page, "walk-1-07-evidence")

    # 6. Readiness: backups of every production server now; the go waits for testing.
    page.get_by_role("link", name="Readiness & sign-off").click()
    expect(page.get_by_text("Backups recorded for all 5 production servers.")).to_be_visible()
    shot(page, "walk-1-08-readiness")

    # The approver signs the testing phase off from the dashboard.
    _switch(page, login, demo["approver"])
    waiting = page.get_by_test_id("my-signoffs")
    expect(waiting).to_contain_text("OpenSSL security patch (web tier): testing")
    shot(page, "walk-1-09-dashboard-approver")
    waiting.get_by_role("link", name="OpenSSL security patch (web tier): testing").click()
    target = page.locator(":target")
    target.get_by_label("Comment").fill("Staging is patched and the smoke tests are green.")
    target.get_by_role("button", name="Approve").click()
    expect(
        page.get_by_text(re.compile(r"Signed off 2 Dec 2026, 10:\d\d Europe/Berlin"))
    ).to_be_visible()
    shot(page, "walk-1-10-testing-signed-off")

    # 7. The engineer opens run mode: staging is done, production waits for the go.
    _switch(page, login, demo["engineer"])
    _nav(page, "Plans")
    page.get_by_role("link", name="OpenSSL security patch (web tier)").click()
    page.get_by_test_id("run-links").get_by_role("link", name=re.compile("Staging first")).click()
    expect(page.get_by_test_id("run-progress")).to_have_text("1 of 1 done")
    expect(page.get_by_test_id("actual-start")).to_contain_text(
        "Tue 1 Dec 2026, 01:02 Europe/Berlin"
    )
    row = page.get_by_test_id("run-row")
    expect(row).to_contain_text("web-stg-26")
    expect(row.get_by_test_id("verification")).to_have_attribute("data-verified", "yes")
    page.get_by_text("Correct the actual times").click()
    expect(page.locator("#id_actual_starts_at")).to_have_value("2026-12-01T01:02")
    expect(page.locator("#id_actual_starts_at_helptext")).to_have_text(
        "Europe/Berlin (your time zone)"
    )
    shot(page, "walk-1-11-run-staging")
    page.go_back()
    page.get_by_test_id("run-links").get_by_role("link", name=re.compile("Production")).click()
    expect(page.get_by_test_id("gate-blocked")).to_be_visible()
    shot(page, "walk-1-12-run-production")

    # 8. Document: what happened on staging goes in the execution log.
    page.get_by_role("link", name="Execution log").first.click()
    expect(page.get_by_text("nginx needed a restart to load the new libssl3.")).to_be_visible()
    # Written during the staging window, and dated so.
    expect(page.get_by_text(re.compile(r"1 Dec 2026, 01:27 Europe/Berlin"))).to_be_visible()
    page.get_by_label("Entry").fill("Production: drain each host from the load balancer first.")
    page.get_by_label("Window").select_option(label="Production web servers")
    page.get_by_role("button", name="Add to log").click()
    expect(page.get_by_text("drain each host from the load balancer first")).to_be_visible()
    shot(page, "walk-1-13-execution-log")
    _nav(page, "Calendar")
    shot(page, "walk-1-14-calendar")


def test_example_2_a_major_database_upgrade_with_a_replica(page, live_server, login, shot, demo):
    login(page, demo["planner"], DEMO_PASSWORD)
    page.goto(f"{live_server.url}/servers/fleet/")
    _fleet_search(page, "postgresql-15")
    assert _hosts(page) == [
        *(f"db-prd-{n:02d}" for n in (2, 7, 12, 17, 22)),
        "db-stg-27",
    ]
    shot(page, "walk-2-01-fleet-postgresql")

    _nav(page, "Plans")
    page.get_by_role("link", name="PostgreSQL 15 to 16 upgrade").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("PostgreSQL 15 to 16 upgrade")
    # The staging replica is where pg_upgrade is tried first.
    scope = page.locator("#scope")
    expect(scope.locator("tr", has_text="db-stg-27")).to_contain_text("replica")
    expect(page.get_by_test_id("run-links")).to_contain_text("pg_upgrade on the staging replica")
    shot(page, "walk-2-02-plan")

    page.get_by_role("link", name="pg_upgrade on the staging replica").first.click()
    expect(page.get_by_text("db-stg-27")).to_be_visible()
    shot(page, "walk-2-03-staging-replica-window")

    # A second production window after the staging replica's: "suggest a window" starts
    # after the time typed, read in the zone the form names.
    page.go_back()
    page.get_by_role("link", name="Add window").click()
    expect(page.locator("#id_starts_at_helptext")).to_have_text("Europe/Berlin (your time zone)")
    expect(page.locator("#suggest-after_helptext")).to_have_text("Europe/Berlin (your time zone)")
    page.get_by_label("db-stg-27", exact=True).check()
    page.get_by_label("Start after").fill("2026-12-12T03:00")
    page.get_by_role("button", name="Suggest a window").click()
    first_slot = page.get_by_test_id("suggestions").locator("[data-fill-window]").first
    # Saturday 12 Dec: off-peak until 08:00, after the staging replica's window (01-03).
    expect(first_slot).to_have_attribute("data-starts", "2026-12-12T03:00")
    first_slot.click()
    expect(page.locator("#id_starts_at")).to_have_value("2026-12-12T03:00")
    shot(page, "walk-2-04-window-form-suggested")

    # The plan goes to review: the approver's sign-off comes next.
    page.go_back()
    page.get_by_role("button", name="Send for review").click()
    expect(page.get_by_text("Plan status: In review.")).to_be_visible()
    shot(page, "walk-2-05-in-review")
    _nav(page, "Calendar")
    page.get_by_role("link", name="Week", exact=True).click()
    shot(page, "walk-2-06-calendar-week")

    # The guide's own YAML (2023 dates): the import offers to shift them to start today.
    _nav(page, "Plans")
    page.get_by_role("link", name="Import YAML").click()
    expect(page.get_by_test_id("import-zone")).to_contain_text("team's zone, Europe/Berlin")
    page.get_by_label("Title").fill("Guide example")
    page.get_by_label("…or paste YAML").fill(GUIDE_YAML)
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_test_id("import-past-dates")).to_contain_text("1 Oct 2023")
    shot(page, "walk-2-07-import-past-dates")
    page.get_by_role("button", name=re.compile("Shift the dates")).click()
    expect(page.get_by_text("Plan imported.")).to_be_visible()
    # The guide's gaps kept (4 and 5 days), from today.
    milestones = page.locator("#milestones")
    for day in ("due 2 Dec 2026", "due 6 Dec 2026", "due 11 Dec 2026"):
        expect(milestones.get_by_text(day)).to_be_visible()

    # 8. Document: the downtime report names the zone of the times beside each window.
    _nav(page, "Reports")
    page.get_by_role("link", name="Downtime").first.click()
    expect(page.get_by_role("columnheader", name="Planned (Europe/Berlin)").first).to_be_visible()
    shot(page, "walk-2-08-downtime-report")

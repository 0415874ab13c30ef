"""Browser tests of issue 17's "finding your way": from the dashboard straight to a
milestone's Approve button, and from a fleet search to a plan with those servers in
scope (a new plan, and an existing one through the scope picker's package filter)."""

from datetime import date, timedelta

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from patchplan.accounts.models import User
from patchplan.dashboard.management.commands.seed_demo import DEMO_PASSWORD
from plans.models import Plan
from plans.services.plans import plan_create
from servers.choices import SnapshotSource
from servers.inventory import inventory_import
from tests import factories
from tests.servers.helpers import query_listing

pytestmark = pytest.mark.django_db(transaction=True)


def test_approver_goes_from_the_dashboard_to_a_visible_approve_button(
    page, live_server, login, shot
):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115, PTH123
    approver = User.objects.get(username="approver")
    login(page, approver, DEMO_PASSWORD)
    waiting = page.get_by_test_id("my-signoffs").get_by_test_id("signoff-link").first
    expect(waiting).to_be_visible()
    name = waiting.inner_text()
    waiting.click()
    # The milestone's own panel, rendered with the page: no lazy load to wait for.
    target = page.locator(":target")
    expect(target).to_have_attribute("data-testid", "signoff-milestone")
    assert target.get_attribute("data-milestone") in name
    approve = target.get_by_role("button", name="Approve")
    expect(approve).to_be_visible()
    expect(approve).to_be_in_viewport()
    shot(page, "finding-dashboard-to-approve")


def _listing(server, packages):
    inventory_import(server=server, data=query_listing(packages), source=SnapshotSource.COMMAND)


@pytest.fixture
def openssl_fleet(team):
    old = {"openssl": "3.0.11-1~deb12u2", "nginx": "1.22.1-9"}
    new = {"openssl": "3.0.15-1~deb12u1", "nginx": "1.22.1-9"}
    web1 = factories.ServerFactory(team=team, hostname="web-01")
    web2 = factories.ServerFactory(team=team, hostname="web-02")
    web3 = factories.ServerFactory(team=team, hostname="web-03")
    _listing(web1, old)
    _listing(web2, old)
    _listing(web3, new)
    return {"old": [web1, web2], "new": web3}


def test_a_fleet_search_becomes_a_new_plan_with_those_servers(
    page, live_server, login, shot, planner, openssl_fleet
):
    login(page, planner)
    page.goto(f"{live_server.url}/servers/fleet/")
    page.get_by_label("Package").fill("openssl")
    page.get_by_label("Below version").fill("3.0.15")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_test_id("fleet-table").locator("tbody tr")).to_have_count(2)
    shot(page, "finding-fleet-search-to-plan")
    page.get_by_role("link", name="New plan with these servers").click()
    expect(page.get_by_test_id("fleet-scope")).to_contain_text("2 servers")
    expect(page.get_by_test_id("fleet-scope")).to_contain_text("web-01, web-02")
    shot(page, "finding-new-plan-from-fleet")
    page.get_by_label("Title").fill("OpenSSL below 3.0.15")
    page.get_by_role("button", name="Create plan").click()
    expect(page.get_by_text("Plan created")).to_be_visible()
    plan = Plan.objects.get(title="OpenSSL below 3.0.15")
    assert sorted(s.hostname for s in plan.servers.all()) == ["web-01", "web-02"]


def test_a_fleet_search_adds_its_servers_to_an_existing_plan(
    page, live_server, login, shot, team, planner, openssl_fleet
):
    plan = plan_create(team=team, title="Monthly cycle", owner=planner, by=planner)
    login(page, planner)
    page.goto(f"{live_server.url}/servers/fleet/?name=openssl&below=3.0.15")
    picker = page.get_by_label("or add these servers to a plan")
    picker.focus()  # the team's open plans load when the picker is first used
    expect(picker.locator("option", has_text="Monthly cycle")).to_have_count(1)
    picker.select_option(label="Monthly cycle")
    page.get_by_role("button", name="Add to plan").click()
    expect(page.get_by_text("2 servers added to the scope.")).to_be_visible()
    # The scope picker shows the same search: package and version filter it.
    expect(page.get_by_label("Runs package")).to_have_value("openssl")
    expect(page.get_by_test_id("scope-found")).to_contain_text("2 found running openssl")
    shot(page, "finding-scope-picker-package-filter")
    assert sorted(s.hostname for s in plan.servers.all()) == ["web-01", "web-02"]

    # The picker's own package filter, without a version: every server running nginx.
    page.get_by_label("Below version").fill("")
    page.get_by_label("Runs package").fill("nginx")
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_test_id("scope-found")).to_contain_text("3 found running nginx")
    page.get_by_label("web-03").check()
    page.get_by_role("button", name="Add ticked servers").click()
    expect(page.get_by_text("1 server added to the scope.")).to_be_visible()
    assert plan.servers.count() == 3


GUIDE_YAML = """\
milestones:
  - assessment: "2023-10-01"
  - testing: "2023-10-05"
  - deployment: "2023-10-10"
"""


def test_guide_yaml_with_past_dates_is_shifted_to_start_today(
    page, live_server, login, shot, planner
):
    login(page, planner)
    page.goto(f"{live_server.url}/plans/import/")
    page.get_by_label("…or paste YAML").fill(GUIDE_YAML)
    page.get_by_label("Title").fill("The guide's example")
    page.get_by_role("button", name="Import").click()
    notice = page.get_by_test_id("import-past-dates")
    expect(notice).to_contain_text("1 Oct 2023")
    shot(page, "finding-import-past-dates")
    notice.get_by_role("button", name="Shift the dates to start today").click()
    expect(page.get_by_text("Plan imported.")).to_be_visible()
    plan = Plan.objects.get(title="The guide's example")
    dues = [m.due_on for m in plan.milestones.exclude(due_on=None).order_by("position")]
    # Moved as a whole (the guide's gaps of 4 and 5 days kept), away from 2023.
    assert dues[0] > date(2023, 10, 1)
    assert dues == [dues[0], dues[0] + timedelta(days=4), dues[0] + timedelta(days=9)]

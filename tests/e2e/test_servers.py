"""Browser tests of the server inventory: list filters, a snapshot diff, fleet search."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from plans.services.plans import plan_create
from servers.choices import SnapshotSource
from servers.inventory import inventory_import
from servers.models import Tag
from tests import factories
from tests.servers.helpers import QUERY, UPGRADABLE, query_listing, sample

pytestmark = pytest.mark.django_db(transaction=True)


def _load(server, data, days_ago=0):
    return inventory_import(
        server=server,
        data=data,
        source=SnapshotSource.COMMAND,
        taken_at=timezone.now() - timedelta(days=days_ago),
    )


@pytest.fixture
def fleet(team):
    web = factories.ServerFactory(team=team, hostname="web-01", criticality="critical")
    web2 = factories.ServerFactory(team=team, hostname="web-02")
    db = factories.ServerFactory(team=team, hostname="db-01", environment="staging")
    factories.ServerFactory(team=team, hostname="dev-01", environment="development")
    _load(web, sample(QUERY), days_ago=30)
    _load(web, sample(UPGRADABLE), days_ago=2)
    _load(web2, query_listing({"openssl": "3.0.15-1~deb12u1", "curl": "7.88.1-10+deb12u8"}))
    _load(db, query_listing({"openssl": "3.0.11-1~deb12u2", "postgresql-15": "15.8-0+deb12u1"}))
    frontend = Tag.objects.create(team=team, name="frontend")
    web.tags.add(frontend)
    web2.tags.add(frontend)
    return {"web": web, "db": db}


def test_server_list_filters_by_security_and_environment(
    page, live_server, login, shot, planner, fleet
):
    login(page, planner)
    page.get_by_role("link", name="Servers").click()
    table = page.get_by_test_id("server-table")
    expect(table).to_contain_text("dev-01")
    shot(page, "servers-list")
    page.get_by_label("Security pending").check()
    page.get_by_role("button", name="Filter").click()
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("web-01")
    expect(table).to_contain_text("security")
    page.get_by_role("link", name="Reset").click()
    page.get_by_label("Environment").select_option("staging")
    page.get_by_role("button", name="Filter").click()
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("db-01")
    page.get_by_role("link", name="Reset").click()
    page.get_by_label("Tag", exact=True).select_option("frontend")
    page.get_by_role("button", name="Filter").click()
    expect(table.locator("tbody tr")).to_have_count(2)
    shot(page, "servers-list-filtered")
    # Bulk: tag the two frontend servers.
    page.get_by_label("Select all").check()
    page.get_by_label("Tags", exact=True).fill("eu-west")
    page.get_by_role("button", name="Add tags").click()
    expect(page.get_by_text("Tagged 2 servers.")).to_be_visible()
    expect(table).to_contain_text("eu-west")


def test_server_list_adds_the_selected_servers_to_a_plan(
    page, live_server, login, shot, team, planner, fleet
):
    # The bulk bar's "Add to plan" posts to the plans app (plans.views.server_bulk);
    # its picker loads the team's open plans when first used.
    plan = plan_create(team=team, title="November cycle", owner=planner, by=planner)
    login(page, planner)
    page.goto(f"{live_server.url}/servers/")
    page.get_by_label("Select web-01").check()
    page.get_by_label("Select web-02").check()
    picker = page.get_by_test_id("bulk-plan")
    picker.focus()
    expect(picker.locator("option", has_text="November cycle")).to_have_count(1)
    picker.select_option(label="November cycle")
    shot(page, "servers-list-bulk-add-to-plan")
    page.get_by_role("button", name="Add to plan").click()
    expect(page.get_by_text("Added 2 servers to November cycle.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/servers/$"))
    assert sorted(s.hostname for s in plan.servers.all()) == ["web-01", "web-02"]


def test_server_page_imports_a_paste_and_shows_the_diff(
    page, live_server, login, shot, engineer, fleet
):
    login(page, engineer)
    page.goto(f"{live_server.url}/servers/{fleet['db'].pk}/")
    expect(page.get_by_test_id("server-hostname")).to_contain_text("db-01")
    page.get_by_label("Or paste the output").fill(
        "openssl\t3.0.15-1~deb12u1\tamd64\nlibpq5\t15.8-0+deb12u1\tamd64\n"
    )
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_text("Inventory imported: 2 packages")).to_be_visible()
    expect(page.get_by_test_id("package-table")).to_contain_text("libpq5")
    shot(page, "servers-detail")
    page.get_by_role("button", name="Compare A → B").click()
    expect(page.get_by_test_id("diff-summary")).to_contain_text("1 upgraded")
    diff = page.get_by_test_id("diff-table")
    expect(diff.locator("tr", has_text="openssl")).to_contain_text("3.0.11-1~deb12u2")
    expect(diff.locator("tr", has_text="libpq5")).to_contain_text("added")
    expect(diff.locator("tr", has_text="postgresql-15")).to_contain_text("removed")
    shot(page, "servers-diff")


def test_a_bad_paste_shows_the_line_number(page, live_server, login, shot, engineer, fleet):
    login(page, engineer)
    page.goto(f"{live_server.url}/servers/{fleet['db'].pk}/")
    page.get_by_label("Or paste the output").fill("openssl\t3.0.15-1\tamd64\n<script>x</script>\n")
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_text(re.compile(r"line 2:"))).to_be_visible()
    shot(page, "servers-import-error")


def test_fleet_search_finds_servers_below_a_version(page, live_server, login, shot, viewer, fleet):
    login(page, viewer)
    page.goto(f"{live_server.url}/servers/fleet/")
    page.get_by_label("Package").fill("openssl")
    # web-01 runs 3.0.19-1~deb12u2 (the real sample), web-02 3.0.15-1~deb12u1,
    # db-01 3.0.11-1~deb12u2: "~" sorts before the release, so only db-01 and
    # web-02 are below 3.0.19-1.
    page.get_by_label("Below version").fill("3.0.19-1")
    page.get_by_role("button", name="Search").click()
    table = page.get_by_test_id("fleet-table")
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(table).to_contain_text("web-01")
    expect(table.locator("tr", has_text="web-01")).to_contain_text("3.0.22-1~deb12u2")
    page.get_by_label("Below version").fill("3.0.19-1~deb12u2")
    page.get_by_role("button", name="Search").click()
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table).to_contain_text("db-01")
    expect(table).not_to_contain_text("web-01")
    shot(page, "servers-fleet-search")
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    assert download.value.suggested_filename == "fleet-openssl.csv"
    page.goto(f"{live_server.url}/servers/fleet/updates/")
    expect(page.get_by_test_id("top-packages")).to_contain_text("openssl")
    shot(page, "servers-fleet-updates")


def test_csv_import_previews_errors_then_imports_the_good_rows(
    page, live_server, login, shot, planner, tmp_path
):
    csv_file = tmp_path / "servers.csv"
    csv_file.write_text(
        "hostname,environment,tags,os,criticality,owner\n"
        f"web-10,production,web,Debian 12,high,{planner.email}\n"
        "bad host,nowhere,,,,\n"
        "db-10,staging,db,Debian 12,low,\n"
    )
    login(page, planner)
    page.goto(f"{live_server.url}/servers/import/")
    page.get_by_label("CSV file").set_input_files(str(csv_file))
    page.get_by_role("button", name="Preview").click()
    preview = page.get_by_test_id("csv-preview")
    expect(preview.locator("tr", has_text="bad host")).to_contain_text("unknown environment")
    shot(page, "servers-csv-preview")
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_test_id("csv-error")).to_contain_text("nothing was imported")
    page.get_by_label("Import only the 2 rows without errors (skip 1)").check()
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_text("Imported 2 servers.")).to_be_visible()
    expect(page.get_by_test_id("server-table")).to_contain_text("web-10")


def test_admin_creates_an_api_token_from_team_settings(page, live_server, login, shot, admin):
    login(page, admin)
    page.get_by_role("link", name="Team").click()
    page.get_by_role("link", name="API tokens").click()
    page.get_by_label("Name").fill("ansible push")
    page.get_by_label("May create servers it does not know yet").check()
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_test_id("new-token")).to_contain_text("ppi_")
    expect(page.get_by_test_id("token-table")).to_contain_text("ansible push")
    shot(page, "servers-api-tokens")


def test_package_search_filters_in_place(page, live_server, login, shot, viewer, fleet):
    login(page, viewer)
    page.goto(f"{live_server.url}/servers/{fleet['web'].pk}/")
    packages = page.get_by_test_id("package-table")
    expect(packages).to_contain_text("adduser")
    expect(page.get_by_test_id("pending-table")).to_contain_text("security")
    shot(page, "servers-detail-real-host")
    page.get_by_label("Search packages").fill("openssl")
    expect(packages).not_to_contain_text("adduser")
    expect(packages).to_contain_text("3.0.19-1~deb12u2")
    # Only the table was swapped: the page around it is the same document.
    expect(page.get_by_test_id("pending-table")).to_be_visible()

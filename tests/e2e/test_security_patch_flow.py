"""Acceptance: the guide's "Security Patch Deployment" example, built in the browser.

A planner writes a plan for a critical web-server vulnerability, puts the web
servers in scope, imports the guide's milestones YAML, schedules a staging test
window and a production window in off-peak hours, and gives tasks to two
engineers. In a second browser context an engineer ticks a task's checklist
line, moves it along and finds it on "My tasks". Every page is photographed
(var/screenshots/security-flow-*.png)."""

from datetime import time

import pytest
from playwright.sync_api import expect

from patchplan.teams.roles import Role
from plans.choices import TaskStatus
from plans.models import ChecklistItem, MaintenanceWindow, Plan, Task
from servers.choices import Environment
from tests import factories
from tests.e2e.conftest import SCREENSHOTS

GUIDE_YAML = """milestones:
  - assessment: "2023-10-01"
  - testing: "2023-10-05"
  - deployment: "2023-10-10"
"""

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def site(team, planner, engineer):
    team.time_zone = "Europe/Berlin"
    team.save()
    # Weeknights 22:00-05:00 are off-peak, as the demo team has them.
    for day in range(7):
        factories.OffPeakFactory(team=team, weekday=day, starts_at=time(22), ends_at=time(5))
    for host, env in [
        ("web-stg-01", Environment.STAGING),
        ("web-prd-01", Environment.PRODUCTION),
        ("web-prd-02", Environment.PRODUCTION),
        ("db-prd-01", Environment.PRODUCTION),
    ]:
        factories.ServerFactory(team=team, hostname=host, environment=env)
    second = factories.UserFactory(username="sam-engineer", first_name="Sam", last_name="Second")
    factories.MembershipFactory(team=team, user=second, role=Role.ENGINEER)
    planner.first_name, planner.last_name = "Paul", "Planner"
    planner.save()
    engineer.first_name, engineer.last_name = "Erin", "Engineer"
    engineer.save()
    return {"second": second}


def _schedule(page, *, title, starts, ends, milestone, hosts, downtime):
    page.get_by_role("link", name="Add window").click()
    page.get_by_label("Title").fill(title)
    # The times are entered in the viewer's zone, and the help under each input names it.
    expect(page.locator("#id_starts_at_helptext")).to_have_text("Europe/Berlin (your time zone)")
    page.locator("#id_starts_at").fill(starts)
    page.locator("#id_ends_at").fill(ends)
    page.get_by_label("Milestone").select_option(label=milestone)
    for host in hosts:
        page.get_by_label(host, exact=True).check()
        page.get_by_label(f"Expected downtime of {host} in minutes").fill(str(downtime))


def test_planner_builds_the_security_patch_plan_and_an_engineer_works_on_it(
    page, browser, live_server, login, shot, site, planner, engineer
):
    url = live_server.url
    login(page, planner)

    # Step 2 of the guide: goals and objectives.
    page.goto(f"{url}/plans/new/")
    page.get_by_label("Title").fill("Security Patch Deployment: web server vulnerability")
    page.get_by_label("Kind").select_option(label="Security patch")
    page.get_by_label("Risk").select_option(label="Critical")
    page.get_by_label("Objective").fill(
        "Patch the critical web-server vulnerability on every web host."
    )
    page.get_by_label("References").fill("CVE-2023-44487")
    page.get_by_role("button", name="Create plan").click()
    expect(page.locator("h1")).to_contain_text("Security Patch Deployment")
    plan = Plan.objects.get()

    # Scope: the web servers, staging ones marked.
    page.goto(f"{url}/plans/{plan.pk}/scope/?q=web")
    page.get_by_role("button", name="Tick all").click()
    page.get_by_role("button", name="Add ticked servers").click()
    expect(page.get_by_text("3 servers added to the scope.")).to_be_visible()
    shot(page, "security-flow-1-scope")

    # Step 3: the guide's milestones YAML.
    page.goto(f"{url}/plans/{plan.pk}/")
    page.get_by_text("Import milestones from YAML").click()
    page.get_by_label("Milestones YAML", exact=True).fill(GUIDE_YAML)
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_text("Milestones imported.")).to_be_visible()
    assert list(plan.milestones.filter(due_on__isnull=False).values_list("name", flat=True))[
        :3
    ] == ["assessment", "testing", "deployment"]

    # A staging test window; "Suggest a window" offers free off-peak slots first.
    _schedule(
        page,
        title="Staging test",
        starts="2023-10-05T22:30",
        ends="2023-10-06T00:30",
        milestone="testing",
        hosts=["web-stg-01"],
        downtime=10,
    )
    page.get_by_role("button", name="Suggest a window").click()
    expect(page.get_by_test_id("suggestions").locator("[data-fill-window]")).to_have_count(5)
    shot(page, "security-flow-2-window-form-with-suggestions")
    # Choosing a slot fills the form (static/js/schedule.js); here the plan's own dates win.
    first = page.get_by_test_id("suggestions").locator("[data-fill-window]").first
    first.click()
    expect(page.locator("#id_starts_at")).to_have_value(first.get_attribute("data-starts"))
    expect(page.locator("#id_ends_at")).to_have_value(first.get_attribute("data-ends"))
    page.locator("#id_starts_at").fill("2023-10-05T22:30")
    page.locator("#id_ends_at").fill("2023-10-06T00:30")
    page.get_by_role("button", name="Schedule window").click()
    expect(page.get_by_text("OK: inside off-peak hours")).to_be_visible()
    expect(page.get_by_test_id("window-when")).to_contain_text("Thu 5 Oct 2023, 22:30")
    expect(page.get_by_test_id("window-when")).to_contain_text("Europe/Berlin")
    shot(page, "security-flow-3-staging-window")

    # The production window, after the staging test, in off-peak hours.
    page.get_by_role("link", name=plan.title).click()
    _schedule(
        page,
        title="Production rollout",
        starts="2023-10-10T23:00",
        ends="2023-10-11T02:00",
        milestone="deployment",
        hosts=["web-prd-01", "web-prd-02"],
        downtime=15,
    )
    page.get_by_role("button", name="Schedule window").click()
    expect(page.get_by_text("OK: inside off-peak hours")).to_be_visible()
    assert MaintenanceWindow.objects.count() == 2

    # Step 4: tasks for two engineers.
    page.get_by_role("link", name=plan.title).click()
    page.get_by_role("link", name="Add task").click()
    page.get_by_label("Title").fill("Back up the web servers")
    page.get_by_label("Milestone").select_option(label="testing")
    page.get_by_label("Assignee").select_option(label="Erin Engineer")
    page.get_by_label("Due").fill("2023-10-05")
    page.get_by_label("Checklist").fill(
        "Snapshot web-stg-01\nSnapshot web-prd-01\nSnapshot web-prd-02"
    )
    page.get_by_role("button", name="Add and add another").click()
    page.get_by_label("Title").fill("Patch production web servers")
    page.get_by_label("Milestone").select_option(label="deployment")
    page.get_by_label("Assignee").select_option(label="Sam Second")
    page.get_by_label("Due").fill("2023-10-10")
    page.get_by_role("button", name="Add task", exact=True).click()
    expect(page.locator("#tasks")).to_contain_text("Patch production web servers")
    expect(page.locator("#windows")).to_contain_text("OK: no warnings")
    expect(page.locator("#timeline svg")).to_be_visible()
    # In place (htmx row swap): mark the production task blocked until the staging test.
    page.locator("#tasks").get_by_label("Status of Patch production web servers").select_option(
        label="Blocked"
    )
    expect(page.locator("tr[data-status=blocked]")).to_contain_text("Patch production web servers")
    shot(page, "security-flow-4-plan-page")
    # The timeline must read on paper: print media, no navigation.
    page.emulate_media(media="print")
    page.locator("#timeline").screenshot(
        path=str(SCREENSHOTS / "security-flow-4b-timeline-print.png")
    )
    page.emulate_media(media="screen")

    page.get_by_role("link", name="Responsibilities (RACI)").click()
    expect(page.get_by_test_id("raci-matrix")).to_contain_text("Erin Engineer")
    shot(page, "security-flow-5-raci")
    assert set(Task.objects.values_list("assignee__username", flat=True)) == {
        "erin-engineer",
        "sam-engineer",
    }

    # A second browser context: the engineer works on their task.
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        eng = context.new_page()
        login(eng, engineer)
        expect(eng.get_by_test_id("my-tasks")).to_contain_text("Back up the web servers")
        eng.goto(f"{url}/plans/my-tasks/")
        row = eng.locator("tr", has_text="Back up the web servers")
        expect(row).to_contain_text("Overdue")
        expect(eng.locator("body")).not_to_contain_text("Patch production web servers")
        row.get_by_role("link", name="Back up the web servers").click()
        eng.get_by_role("button", name="Tick: Snapshot web-stg-01").click()
        expect(eng.get_by_role("button", name="Untick: Snapshot web-stg-01")).to_be_visible()
        shot(eng, "security-flow-6-engineer-task")
        eng.goto(f"{url}/plans/my-tasks/")
        row = eng.locator("tr", has_text="Back up the web servers")
        expect(row).to_contain_text("checklist 1/3")
        row.get_by_label("Status of Back up the web servers").select_option(label="In progress")
        expect(eng.locator("tr[data-status=in_progress]")).to_contain_text(
            "Back up the web servers"
        )
        shot(eng, "security-flow-7-my-tasks")
        eng.goto(f"{url}/")
        shot(eng, "security-flow-8-engineer-dashboard")
    finally:
        context.close()
    task = Task.objects.get(title="Back up the web servers")
    assert task.status == TaskStatus.IN_PROGRESS
    assert ChecklistItem.objects.filter(task=task, done=True).count() == 1


def test_a_risky_window_shows_its_warnings_and_a_stale_edit_keeps_the_input(
    page, live_server, login, shot, site, team, planner
):
    """A daytime production window with no staging test, overlapping another plan's
    window, is warned about with reasons; saving over a newer version is refused."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from plans.services import windows as window_services

    berlin = ZoneInfo("Europe/Berlin")
    web = factories.ServerFactory(team=team, hostname="web-prd-09")
    plan = factories.PlanFactory(team=team, owner=planner, title="Kernel update")
    plan.servers.add(web)
    other = factories.PlanFactory(team=team, owner=planner, title="OpenSSL patch")
    other.servers.add(web)
    start = datetime(2030, 1, 8, 14, tzinfo=berlin)
    window_services.window_create(
        plan=other,
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        downtimes={web: 5},
        by=planner,
    )
    window = window_services.window_create(
        plan=plan,
        title="Daytime patch",
        starts_at=start + timedelta(hours=1),
        ends_at=start + timedelta(hours=3),
        downtimes={web: 20},
        by=planner,
    )
    login(page, planner)
    page.goto(f"{live_server.url}/plans/windows/{window.pk}/")
    problems = page.locator(".window-problems li")
    expect(problems).to_have_count(3)
    expect(page.locator(".window-problems")).to_contain_text("Outside the team's off-peak hours")
    expect(page.locator(".window-problems")).to_contain_text("Overlaps")
    expect(page.locator(".window-problems")).to_contain_text("no test window on staging")
    shot(page, "security-flow-9-window-warnings")

    # Someone else moves the window while this form is open.
    window_services.window_update(
        window=window,
        version=window.version,
        title="Moved by someone else",
        starts_at=start + timedelta(hours=8),
        ends_at=start + timedelta(hours=10),
        downtimes={web: 20},
        by=planner,
    )
    page.get_by_label("Title").fill("My title")
    page.get_by_role("button", name="Save window").click()
    expect(page.get_by_test_id("stale-edit")).to_contain_text("Moved by someone else")
    expect(page.get_by_label("Title")).to_have_value("My title")
    shot(page, "security-flow-10-stale-window-edit")
    page.get_by_role("button", name="Save window").click()
    expect(page.get_by_text("Window saved.")).to_be_visible()
    window.refresh_from_db()
    assert window.title == "My title" and window.sequence == 2

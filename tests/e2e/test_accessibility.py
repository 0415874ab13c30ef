"""Accessibility (issue 17): an explicit axe-core scan of the twelve pages used every day,
proof that the scanner does fail on a violation, and sign-off and task status with the
keyboard alone. (Every other browser test is scanned too: see tests/e2e/conftest.py.)"""

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from patchplan.accounts.models import User
from patchplan.dashboard.management.commands.seed_demo import DEMO_PASSWORD
from plans.models import MaintenanceWindow, Plan, Task
from servers.models import Server

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo(transactional_db):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115, PTH123
    return {u.username: u for u in User.objects.filter(memberships__team__slug="demo")}


def test_the_twelve_daily_pages_have_no_serious_violation(
    page, live_server, login, axe_scanner, demo
):
    url = live_server.url
    page.goto(f"{url}/accounts/login/")
    found = {"login": axe_scanner.scan(page)}
    login(page, demo["planner"], DEMO_PASSWORD)
    plan = Plan.objects.get(title__startswith="OpenSSL")
    server = Server.objects.get(hostname="web-prd-01")
    window = MaintenanceWindow.objects.filter(plan=plan).order_by("starts_at").first()
    pages = {
        "dashboard": "/",
        "plans": "/plans/",
        "servers": "/servers/",
        "server page": f"/servers/{server.pk}/",
        "calendar": "/calendar/",
        "reports": "/reports/",
        "team": "/team/",
        "plan page": f"/plans/{plan.pk}/",
        "plan edit": f"/plans/{plan.pk}/edit/",
        "plan report": f"/plans/{plan.pk}/report/",
        "run mode": f"/plans/{plan.pk}/windows/{window.pk}/run/",
    }
    for name, path in pages.items():
        response = page.goto(url + path)
        assert response.status == 200, name
        found[name] = axe_scanner.scan(page)
    assert len(found) == 12
    failing = {name: [v["id"] for v in violations] for name, violations in found.items()}
    assert failing == {name: [] for name in found}, axe_scanner.blocking


def test_the_scan_fails_on_a_serious_violation(page, live_server, axe_scanner):
    # A page of our own with an unlabelled input and grey-on-white text.
    page.goto(f"{live_server.url}/accounts/login/")
    page.set_content(
        '<html lang="en"><body><main><input type="text">'
        '<p style="color:#bbb;background:#fff">faint</p></main></body></html>'
    )
    axe_scanner.scan(page)  # (its load may have been scanned already: the same findings)
    found = "\n".join(axe_scanner.blocking)
    assert "label (critical)" in found and "color-contrast (serious)" in found
    axe_scanner.blocking.clear()  # this test's page is meant to fail; the others must not


def test_approver_signs_off_from_the_dashboard_with_the_keyboard_alone(
    page, live_server, login, shot, demo
):
    login(page, demo["approver"], DEMO_PASSWORD)
    link = page.get_by_test_id("my-signoffs").get_by_test_id("signoff-link").first
    link.focus()
    page.keyboard.press("Enter")
    target = page.locator(":target")
    expect(target.get_by_role("button", name="Approve")).to_be_visible()
    milestone = target.get_attribute("data-milestone")
    # The hash moved the sequential focus start to the milestone: Tab reaches its form.
    page.keyboard.press("Tab")
    expect(target.get_by_label("Comment")).to_be_focused()
    page.keyboard.type("Looked at every check.")
    for _ in range(6):  # past the override reason, if a check fails, to Approve
        page.keyboard.press("Tab")
        if target.get_by_role("button", name="Approve").evaluate(
            "b => b === document.activeElement"
        ):
            break
        page.keyboard.type("Staging was tested by hand.")
    expect(target.get_by_role("button", name="Approve")).to_be_focused()
    shot(page, "a11y-signoff-keyboard-focus")
    page.keyboard.press("Enter")
    panel = page.locator(f'[data-testid="signoff-milestone"][data-milestone="{milestone}"]')
    expect(panel.get_by_test_id("signoffs")).to_contain_text("Looked at every check.")


def test_engineer_sets_a_task_status_with_the_keyboard_alone(page, live_server, login, shot, demo):
    login(page, demo["engineer"], DEMO_PASSWORD)
    task = Task.objects.filter(assignee=demo["engineer"], status="todo").order_by("due_on")[0]
    row = page.locator(f"#task-{task.pk}")
    select = row.get_by_label(f"Status of {task.title}")
    select.focus()
    page.keyboard.press("d")  # type-ahead on the focused select: "Done"
    expect(page.locator(f"#task-{task.pk}")).to_have_attribute("data-status", "done")
    # The row was swapped; focus came back to its select, so the keyboard user keeps
    # their place and can go on.
    expect(page.locator(f"#status-task-{task.pk}")).to_be_focused()
    shot(page, "a11y-task-status-keyboard")
    task.refresh_from_db()
    assert task.status == "done"

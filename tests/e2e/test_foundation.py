"""First browser tests: log in, the dashboard, team settings, and what a
viewer and an outsider meet."""

import re

import pytest
from playwright.sync_api import expect

from patchplan.teams.models import OffPeakPeriod
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def test_log_in_and_see_the_dashboard(page, live_server, login, shot, planner, team):
    plan = factories.PlanFactory(team=team, owner=planner, title="Kernel update")
    factories.TaskFactory(plan=plan, assignee=planner, title="Reboot the canary")
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    shot(page, "foundation-login")
    login(page, planner)
    expect(page.get_by_role("heading", name=re.compile("Good to see you"))).to_be_visible()
    expect(page.get_by_test_id("my-tasks")).to_contain_text("Reboot the canary")
    expect(page.get_by_role("link", name="Plans")).to_be_visible()
    shot(page, "foundation-dashboard")


def test_a_wrong_password_is_refused(page, live_server, shot, planner):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(planner.username)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Please enter a correct username and password")).to_be_visible()
    shot(page, "foundation-login-refused")


def test_admin_changes_team_settings(page, live_server, login, shot, admin, team):
    login(page, admin)
    page.get_by_role("link", name="Team").click()
    page.get_by_label("Name").fill("Blue Ops EU")
    page.locator("select[name='team-time_zone']").select_option("Europe/Paris")
    page.locator("select[name='offpeak-0-weekday']").select_option("5")
    page.locator("input[name='offpeak-0-starts_at']").fill("22:00")
    page.locator("input[name='offpeak-0-ends_at']").fill("04:00")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Team settings saved.")).to_be_visible()
    expect(page.get_by_role("heading", name="Blue Ops EU")).to_be_visible()
    shot(page, "foundation-team-settings")
    team.refresh_from_db()
    assert team.time_zone == "Europe/Paris"
    assert OffPeakPeriod.objects.filter(team=team, weekday=5).exists()


def test_a_viewer_cannot_edit_team_settings(page, live_server, login, shot, viewer, team):
    login(page, viewer)
    page.goto(f"{live_server.url}/team/")
    expect(page.get_by_role("button", name="Save settings")).to_have_count(0)
    # Posting the form anyway (as a hand-made request would) meets the 403 page.
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(
        f"{live_server.url}/team/",
        form={"team-name": "Hijacked"},
        headers={"X-CSRFToken": csrf, "Referer": f"{live_server.url}/team/"},
    )
    assert response.status == 403
    # Our role page, not a CSRF refusal.
    assert "can't do that here" in response.text()
    page.set_content(response.text())
    shot(page, "foundation-viewer-403")
    team.refresh_from_db()
    assert team.name == "Blue Ops"


def test_an_outsider_gets_the_404_page(page, live_server, login, shot, outsider, team, planner):
    plan = factories.PlanFactory(team=team, owner=planner, title="Secret plan")
    login(page, outsider)
    response = page.goto(f"{live_server.url}/plans/{plan.pk}/")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Nothing here")).to_be_visible()
    expect(page.get_by_text("Secret plan")).to_have_count(0)
    shot(page, "foundation-outsider-404")


def test_the_layout_works_on_a_phone(browser, live_server, login, shot, planner):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    login(page, planner)
    toggler = page.get_by_role("button", name="Toggle navigation")
    expect(toggler).to_be_visible()
    toggler.click()
    expect(page.get_by_role("link", name="Servers")).to_be_visible()
    shot(page, "foundation-phone")
    context.close()

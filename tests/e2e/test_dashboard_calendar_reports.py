"""Browser tests with the demo data: the dashboard, the calendar (month, week,
list) and every report, as a planner, an approver and an admin would open them
in the morning. Screenshots: var/screenshots/morning-*.png."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from patchplan.accounts.models import User
from patchplan.dashboard.management.commands.seed_demo import DEMO_PASSWORD
from plans.models import MaintenanceWindow

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo(transactional_db):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115, PTH123
    return {u.username: u for u in User.objects.filter(memberships__team__slug="demo")}


def test_dashboard_of_planner_approver_and_admin(page, live_server, login, shot, demo):
    url = live_server.url
    login(page, demo["approver"], DEMO_PASSWORD)
    expect(page.get_by_test_id("my-signoffs")).to_contain_text("assessment")
    expect(page.get_by_test_id("activity-list")).to_be_visible()
    shot(page, "morning-dashboard-approver")

    page.context.clear_cookies()
    login(page, demo["admin"], DEMO_PASSWORD)
    expect(page.get_by_test_id("failed-notifications")).to_contain_text("could not be delivered")
    shot(page, "morning-dashboard-admin")

    page.context.clear_cookies()
    login(page, demo["planner"], DEMO_PASSWORD)
    expect(page.get_by_test_id("activity-list")).to_contain_text(
        "web-stg-26 is patched and verified"
    )
    expect(page.get_by_test_id("next-windows")).to_contain_text("OpenSSL")
    shot(page, "morning-dashboard-planner")
    page.get_by_role("link", name="Reports").click()
    expect(page).to_have_url(f"{url}/reports/")


def test_calendar_month_week_and_list(page, live_server, login, shot, demo):
    url = live_server.url
    login(page, demo["planner"], DEMO_PASSWORD)
    page.goto(f"{url}/calendar/")
    expect(page.get_by_test_id("calendar-month")).to_be_visible()
    expect(page.locator(".cal-event").first).to_be_visible()
    expect(page.get_by_test_id("calendar-feed")).to_be_visible()
    shot(page, "morning-calendar-month")

    # The week of the OpenSSL production window, with off-peak bands.
    window = MaintenanceWindow.objects.filter(plan__title__startswith="OpenSSL").order_by(
        "-starts_at"
    )[0]
    day = timezone.localtime(window.starts_at, window.plan.team.tzinfo).date()
    page.goto(f"{url}/calendar/?view=week&date={day.isoformat()}")
    expect(page.get_by_test_id("calendar-week")).to_be_visible()
    expect(page.get_by_test_id("offpeak-band").first).to_be_attached()
    shot(page, "morning-calendar-week")
    page.locator(f'.cal-block[data-pk="{window.pk}"]').click()
    expect(page).to_have_url(f"{url}/plans/windows/{window.pk}/")

    # The next month has the freeze; the list view and the filters.
    page.goto(f"{url}/calendar/?view=month&date={(timezone.localdate() + timedelta(days=40))}")
    expect(page.locator("td.cal-freeze").first).to_be_visible()
    shot(page, "morning-calendar-freeze")
    page.goto(f"{url}/calendar/?view=list")
    page.get_by_label("Environment").select_option("production")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_test_id("calendar-list")).to_be_visible()
    shot(page, "morning-calendar-list")

    # Printed: the grid without navigation, filters or feed link.
    page.goto(f"{url}/calendar/")
    page.emulate_media(media="print")
    expect(page.get_by_test_id("calendar-filters")).to_be_hidden()
    expect(page.get_by_test_id("calendar-month")).to_be_visible()
    shot(page, "morning-calendar-month-print")


def test_every_report_shows_a_real_chart(page, live_server, login, shot, demo):
    url = live_server.url
    login(page, demo["viewer"], DEMO_PASSWORD)
    page.goto(f"{url}/reports/posture/")
    expect(page.get_by_test_id("chart-by-env").locator("rect").first).to_be_attached()
    expect(page.get_by_test_id("chart-trend").locator("polyline")).to_be_attached()
    expect(page.get_by_test_id("stale")).to_contain_text("stg")
    shot(page, "morning-report-posture")

    page.goto(f"{url}/reports/plans/")
    expect(page.get_by_test_id("completed")).to_contain_text("Kernel 6.1 upgrade")
    expect(page.get_by_test_id("chart-leads").locator("rect").first).to_be_attached()
    shot(page, "morning-report-plans")

    page.goto(f"{url}/reports/downtime/")
    expect(page.get_by_test_id("worst")).to_contain_text("Kernel 6.1 upgrade")
    expect(page.get_by_test_id("overrun-rate")).not_to_have_text("—")
    shot(page, "morning-report-downtime")

    # A bad date: the message sits by the field, the page keeps what was typed.
    page.get_by_label("Until").fill("2020-01-01")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#id_end-error")).to_contain_text("on or after the start date")
    shot(page, "morning-report-bad-date")

    # Print: the navigation and filters go, the charts stay.
    page.goto(f"{url}/reports/posture/")
    page.emulate_media(media="print")
    expect(page.locator("nav.navbar")).to_be_hidden()
    expect(page.get_by_test_id("chart-by-env")).to_be_visible()
    shot(page, "morning-report-posture-print")

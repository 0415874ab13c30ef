"""Acceptance (issue 6): a planner schedules a window and assigns an engineer
in the browser; the engineer's 24 h reminder arrives in a real SMTP server
with the .ics; the planner moves the window; the update arrives with the
same UID and a higher SEQUENCE. Real Chromium, PostgreSQL, Redis, a real
Celery worker and a real SMTP server (aiosmtpd on loopback)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import expect

from patchplan.notifications import services
from plans.models import MaintenanceWindow
from plans.notify.calendars import window_uid
from tests import factories
from tests.notifications import conftest as notification_fixtures
from tests.notifications.conftest import ics_event, parts, wait_until

# The real SMTP server and Celery worker fixtures of tests/notifications.
own_queue = notification_fixtures.own_queue
celery_queue = notification_fixtures.celery_queue
celery_worker = notification_fixtures.celery_worker
smtp = notification_fixtures.smtp

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def new_york_morning():
    """10:00 in New York today: a window 24 h ahead starts and ends on one day
    there, whatever the hour the suite runs at (across midnight the subject
    rightly names both days: tests/notifications/test_delivery.py)."""
    ny = ZoneInfo("America/New_York")
    today = timezone.now().astimezone(ny).date()
    with time_machine.travel(datetime.combine(today, time(10), tzinfo=ny), tick=True):
        yield


def _local_input(dt) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M")


def test_planner_schedules_window_engineer_gets_reminder_then_update(
    new_york_morning, page, live_server, login, shot, celery_worker, smtp, team, planner, engineer
):
    engineer.time_zone = "America/New_York"
    engineer.save()
    server = factories.ServerFactory(team=team, hostname="web-01")
    plan = factories.PlanFactory(team=team, owner=planner, title="openssl security patch")
    plan.servers.add(server)
    factories.MilestoneFactory(plan=plan, name="deployment", position=2)

    # The planner (in the team's zone, Europe/Berlin) schedules a window that
    # starts in 24 h minus a minute: its 24 h reminder is due at once.
    tz = team.tzinfo
    starts = (timezone.now() + timedelta(hours=24) - timedelta(minutes=1)).astimezone(tz)
    starts = starts.replace(second=0, microsecond=0)
    login(page, planner)
    page.goto(f"{live_server.url}/plans/{plan.pk}/windows/new/")
    page.get_by_label("Title").fill("openssl security patch")
    page.get_by_label("Starts").fill(_local_input(starts))
    page.get_by_label("Ends").fill(_local_input(starts + timedelta(hours=1)))
    page.get_by_label("Milestone").select_option(label="deployment")
    page.locator(f"#srv-{server.pk}").check()
    page.get_by_role("button", name="Schedule window").click()
    page.wait_for_url("**/plans/windows/*/")
    window = MaintenanceWindow.objects.get(plan=plan)
    assert window.starts_at == starts

    # ...and gives the engineer a task in that milestone.
    page.goto(f"{live_server.url}/plans/{plan.pk}/tasks/new/")
    page.get_by_label("Title").fill("Patch web-01")
    page.get_by_label("Milestone").select_option(label="deployment")
    page.get_by_label("Assignee").select_option(label=engineer.display_name)
    page.get_by_role("button", name="Add task", exact=True).click()
    page.wait_for_load_state()
    shot(page, "notifications-flow-task-added")

    # What beat runs every minute.
    services.notifications_scan()
    wait_until(lambda: any(m["Subject"].startswith("Window in") for m in smtp.to(engineer.email)))
    [reminder] = [m for m in smtp.to(engineer.email) if m["Subject"].startswith("Window in")]
    assert reminder["Subject"].startswith("Window in 24 h: openssl security patch, 1 server, ")
    local = starts.astimezone(ZoneInfo("America/New_York"))
    end = local + timedelta(hours=1)
    assert f"{local:%H:%M}-{end:%H:%M} {local:%Z}" in reminder["Subject"]
    _cal, first = ics_event(reminder)
    assert str(first["uid"]) == window_uid(window.pk)
    assert "/notifications/preferences/" in parts(reminder)["html"]

    # The planner moves the window two hours later.
    moved = starts + timedelta(hours=2)
    page.goto(f"{live_server.url}/plans/windows/{window.pk}/")
    page.get_by_label("Starts").fill(_local_input(moved))
    page.get_by_label("Ends").fill(_local_input(moved + timedelta(hours=1)))
    page.get_by_role("button", name="Save window").click()
    page.wait_for_load_state()
    shot(page, "notifications-flow-window-moved")
    window.refresh_from_db()
    assert window.starts_at == moved

    wait_until(
        lambda: any(m["Subject"].startswith("Window changed") for m in smtp.to(engineer.email))
    )
    [update] = [m for m in smtp.to(engineer.email) if m["Subject"].startswith("Window changed")]
    cal, event = ics_event(update)
    assert str(cal["method"]) == "PUBLISH"  # a notice, not an invitation (issue 16)
    assert "Start: " in parts(update)["text"] and " -> " in parts(update)["text"]
    assert str(event["uid"]) == str(first["uid"])
    assert int(event["sequence"]) > int(first["sequence"])
    assert event.decoded("dtstart") == moved.astimezone(UTC)

    # The engineer sees both under the bell.
    page.context.clear_cookies()
    login(page, engineer)
    page.wait_for_selector("[data-testid=notification-unread]")
    page.get_by_test_id("notification-bell").click()
    page.wait_for_url("**/notifications/")
    body = page.locator("[data-testid=notification-list]").inner_text()
    assert "Window in 24 h" in body and "Window changed" in body
    shot(page, "notifications-flow-engineer-inbox")


def test_preferences_and_undelivered_pages(page, live_server, login, shot, team, admin, engineer):
    from patchplan.notifications.models import Notification, Status

    Notification.objects.create(
        recipient=engineer,
        team=team,
        kind="window_reminder",
        object_type="window",
        object_id=1,
        occurrence="x",
        due_at=timezone.now(),
        status=Status.FAILED,
        attempts=6,
        last_error="SMTPServerDisconnected('Connection unexpectedly closed')",
        context={"title": "Window in 1 h: openssl security patch"},
    )
    login(page, admin)
    page.goto(f"{live_server.url}/accounts/profile/")
    page.get_by_test_id("notification-preferences-link").click()
    page.wait_for_url("**/notifications/preferences/")
    page.get_by_label("Remind me before each maintenance window").fill("2d, 3h")
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    assert "Notification preferences saved." in page.content()
    page.get_by_role("button", name="Make a team feed").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("team-feed-url").input_value().endswith(".ics")
    page.get_by_role("button", name="Make my calendar address").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("feed-url").input_value().endswith(".ics")
    shot(page, "notifications-preferences")
    # Feed addresses are shown once (only their hash is kept): not on reload.
    page.reload()
    expect(page.get_by_test_id("feed-active")).to_be_visible()
    expect(page.get_by_test_id("team-feed-active")).to_be_visible()
    assert page.get_by_test_id("feed-url").count() == 0
    shot(page, "notifications-preferences-active")
    page.get_by_role("link", name="Emails that could not be delivered").click()
    page.wait_for_url("**/notifications/failed/")
    assert "SMTPServerDisconnected" in page.locator("[data-testid=failed-list]").inner_text()
    shot(page, "notifications-failed")
    page.get_by_role("button", name="Retry").click()
    page.wait_for_load_state()
    assert f"Sending again to {engineer.email}" in page.content()

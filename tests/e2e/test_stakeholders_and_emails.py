"""Issue 16 in Chromium: a viewer (an application owner) @mentioned on a plan
answers it, picking the person to answer with the @mention autocomplete by
keyboard; and the HTML window reminder and update as a mail client would
draw them (rendered through the real delivery path, opened as pages)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from playwright.sync_api import expect

from patchplan.notifications import services
from patchplan.notifications.models import Kind, Notification, Status
from plans.models import Comment
from plans.notify import scans
from plans.services import plans as plan_services
from plans.services import windows as window_services
from tests import factories
from tests.notifications.helpers import make_oncall_world

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_viewer_answers_an_mention_with_the_autocomplete(
    page, live_server, login, shot, team, planner, engineer, viewer
):
    plan = factories.PlanFactory(team=team, owner=planner, title="openssl security patch")
    plan_services.comment_post(
        plan=plan,
        body=f"@{viewer.username} can the billing app take a restart on Tuesday night?",
        by=planner,
    )
    assert Notification.objects.filter(kind=Kind.MENTION, recipient=viewer).exists()

    login(page, viewer)
    page.goto(f"{live_server.url}/notifications/")
    page.get_by_role("link", name=re.compile("mentioned you on openssl security patch")).click()
    expect(page.get_by_text("can the billing app take a restart")).to_be_visible()

    box = page.get_by_role("combobox", name="Comment")
    box.click()
    box.press_sequentially("Yes, after 22:00. @paul-p", delay=30)
    listbox = page.get_by_role("listbox", name="Team members to mention")
    expect(listbox).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    option = listbox.get_by_role("option", name=re.compile(f"@{planner.username}"))
    expect(option).to_have_attribute("aria-selected", "true")
    shot(page, "mention-autocomplete")
    box.press("ArrowDown")  # one match: the arrows wrap round to it
    expect(option).to_have_attribute("aria-selected", "true")
    box.press("Enter")
    expect(listbox).to_be_hidden()
    expect(box).to_have_attribute("aria-expanded", "false")
    expect(box).to_have_value(f"Yes, after 22:00. @{planner.username} ")
    box.press_sequentially("please plan it then.", delay=10)
    page.get_by_role("button", name="Comment").click()

    answer = page.locator("#activity").get_by_text("please plan it then")
    expect(answer).to_be_visible()
    shot(page, "mention-answered-by-viewer")
    comment = Comment.objects.get(author=viewer)
    assert list(comment.mentions.all()) == [planner]
    assert Notification.objects.filter(
        kind=Kind.MENTION, recipient=planner, object_id=comment.pk
    ).exists()


def test_outsider_gets_no_mention_suggestions(client_for, outsider, viewer, team, planner):
    plan = factories.PlanFactory(team=team, owner=planner)
    url = f"/plans/{plan.pk}/mentions/?q=paul-p"
    assert client_for(outsider).get(url).status_code == 404
    found = client_for(viewer).get(url).json()["results"]
    assert [p["username"] for p in found] == [planner.username]


NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def test_html_reminder_and_update_as_drawn_in_a_browser(
    page, shot, settings, tmp_path, team, planner, engineer, approver, viewer
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://patchplan.example.com"
    # Time is frozen while the emails are made, not while the browser runs.
    with time_machine.travel(NOW, tick=False):
        world = make_oncall_world(team, planner, engineer, approver, viewer, now=NOW)
        scans.scan_window_reminders(NOW)
        for pk in Notification.objects.values_list("pk", flat=True):
            services.notification_deliver(notification_id=pk)
        window = world["window"]
        kept = [s for s in world["servers"] if s.hostname != "web-00"] + [world["spare"]]
        window_services.window_update(
            window=window,
            version=window.version,
            starts_at=window.starts_at + timedelta(hours=3),
            ends_at=window.ends_at + timedelta(hours=3),
            by=planner,
            title=window.title,
            milestone=world["testing"],
            downtimes=dict.fromkeys(kept, 10),
        )
        for pk in Notification.objects.filter(
            kind=Kind.WINDOW_UPDATED, status=Status.PENDING
        ).values_list("pk", flat=True):
            services.notification_deliver(notification_id=pk)
    to_engineer = [m for m in mail.outbox if m.to == [engineer.email]]
    assert [m.subject.split(":")[0] for m in to_engineer] == ["Window in 24 h", "Window changed"]
    for message, name in zip(to_engineer, ("email-reminder", "email-update"), strict=True):
        html = next(body for body, kind in message.alternatives if kind == "text/html")
        path = tmp_path / f"{name}.html"
        path.write_text(html, encoding="utf-8")
        page.set_viewport_size({"width": 760, "height": 900})
        page.goto(path.as_uri())
        expect(page.get_by_text("web-00", exact=True)).to_be_visible()
        expect(page.get_by_role("link", name="Open the run mode")).to_be_visible()
        shot(page, name)
    # The update's was -> now table is drawn as a table.
    expect(page.locator("table[data-changes] tbody tr")).to_have_count(5)


@time_machine.travel(NOW, tick=True)
def test_dashboard_lists_plans_due_for_review(page, live_server, login, shot, team, planner):
    today = NOW.date()  # Thu 3 Dec 2026 (frozen, ticking)
    factories.PlanFactory(
        team=team,
        owner=planner,
        title="Debian point release cycle",
        is_template=True,
        review_by=today + timedelta(days=3),
    )
    factories.PlanFactory(team=team, owner=planner, title="openssl security patch", review_by=today)
    login(page, planner)
    card = page.get_by_test_id("due-for-review")
    expect(card).to_contain_text("Debian point release cycle")
    expect(card).to_contain_text("Review by Thu 3 Dec 2026 (today)")
    expect(card).to_contain_text("Review by Sun 6 Dec 2026")
    card.scroll_into_view_if_needed()
    shot(page, "dashboard-due-for-review")


@time_machine.travel(NOW, tick=True)
def test_planner_schedules_a_template_every_second_tuesday(
    page, live_server, login, shot, team, planner
):
    template = plan_services.plan_create(
        team=team, title="Debian point release", owner=planner, by=planner, is_template=True
    )
    login(page, planner)
    page.goto(f"{live_server.url}/plans/{template.pk}/")
    card = page.get_by_test_id("schedules")
    card.get_by_label("Repeats").select_option("monthly_weekday")
    card.get_by_label("Which").select_option(label="second")
    card.get_by_label("Weekday").select_option(label="Tuesday")
    card.get_by_label("From").fill("2026-12-01")
    card.get_by_role("button", name="Add schedule").click()
    row = page.get_by_test_id("schedule")
    expect(row).to_contain_text("Every month, second Tuesday")
    expect(row).to_contain_text("Next: Tue 8 Dec 2026")
    page.get_by_test_id("schedules").scroll_into_view_if_needed()
    shot(page, "template-recurring-schedule")

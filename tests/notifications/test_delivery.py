"""Delivery through a real Celery worker on Redis into a real SMTP server."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.utils import timezone

from patchplan.notifications import services
from patchplan.notifications.emails import build_message
from patchplan.notifications.models import Kind, Notification, Status
from patchplan.teams.models import Membership
from plans.notify import events
from plans.notify.calendars import window_uid

from .conftest import ics_event, parts, wait_until
from .helpers import make_window_world


@pytest.fixture
def people(team, planner, engineer):
    engineer.time_zone = "America/New_York"
    engineer.save()
    return {"planner": planner, "engineer": engineer}


def _sent(**filters):
    return Notification.objects.filter(status=Status.SENT, **filters)


def test_reminder_email_arrives_with_both_parts_and_ics_in_recipient_zone(
    celery_worker, smtp, team, people
):
    # At 10:00 in New York a window 24 h ahead starts and ends on one day there,
    # whatever the hour the suite runs at (a window that crosses midnight in the
    # recipient's zone rightly gets dates: test_reminder_across_midnight_has_dates).
    ny = _zone("America/New_York")
    today = timezone.now().astimezone(ny).date()
    with time_machine.travel(datetime.combine(today, time(10), tzinfo=ny), tick=True):
        engineer = people["engineer"]
        w = make_window_world(
            team,
            owner=people["planner"],
            engineer=engineer,
            starts_in=timedelta(hours=24) - timedelta(minutes=1),
            servers=12,
        )
        window = w["window"]
        services.notifications_scan()
        wait_until(lambda: _sent().count() == 2)

        [msg] = smtp.to(engineer.email)
        local_start = window.starts_at.astimezone(engineer_zone := _zone("America/New_York"))
        local_end = window.ends_at.astimezone(engineer_zone)
        expected_span = f"{local_start:%H:%M}-{local_end:%H:%M} {local_start:%Z}"
        assert msg["Subject"].startswith("Window in 24 h: openssl security patch, 12 servers")
        assert expected_span in msg["Subject"]  # e.g. 09:59-10:59 EST
        # The date is in the subject too, in the recipient's zone, as the pages write it.
        on = f"{local_start:%a} {local_start.day} {local_start:%b %Y}"  # "Fri 4 Dec 2026"
        assert msg["Subject"].endswith(f"{on} {expected_span}")
        body = parts(msg)
        assert "openssl security patch" in body["text"]
        assert "America/New_York" in body["text"]
        assert "/notifications/preferences/" in body["text"]
        assert "<a href=" in body["html"] and "/notifications/preferences/" in body["html"]
        assert body["ics_method"] == "PUBLISH"
        cal, event = ics_event(msg)
        assert str(cal["method"]) == "PUBLISH"
        assert "attendee" not in event  # a notice, not an invitation to answer
        assert str(event["organizer"]) == f"mailto:{people['planner'].email}"
        assert str(event["uid"]) == window_uid(window.pk) == f"window-{window.pk}@127.0.0.1"
        assert int(event["sequence"]) == 0
        assert event.decoded("dtstart") == window.starts_at.astimezone(UTC).replace(microsecond=0)
        # The planner got theirs in the team's zone (Europe/Berlin): one email each.
        assert len(smtp.to(people["planner"].email)) == 1
        assert len(smtp.messages) == 2


def test_reminder_across_midnight_has_dates(db, team, people):
    """A window that crosses midnight in the recipient's zone names both days."""
    ny = _zone("America/New_York")
    today = timezone.now().astimezone(ny).date()
    with time_machine.travel(datetime.combine(today, time(23, 30), tzinfo=ny), tick=False):
        engineer = people["engineer"]
        window = make_window_world(
            team, owner=people["planner"], engineer=engineer, starts_in=timedelta(hours=24)
        )["window"]
        services.notifications_scan()
        n = Notification.objects.get(kind=Kind.WINDOW_REMINDER, recipient=engineer)
        subject = build_message(n).subject
    start, end = window.starts_at.astimezone(ny), window.ends_at.astimezone(ny)
    assert (start.hour, start.minute, end.hour, end.minute) == (23, 30, 0, 30)
    first, last = (f"{d:%a} {d.day} {d:%b %Y}" for d in (start, end))  # "Thu 3 Dec 2026"
    assert f"{first} 23:30 - {last} 00:30 {end:%Z}" in subject


def _zone(name):
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def test_moved_window_sends_update_with_same_uid_higher_sequence(celery_worker, smtp, team, people):
    engineer = people["engineer"]
    w = make_window_world(
        team, owner=people["planner"], engineer=engineer, starts_in=timedelta(minutes=50)
    )
    window = w["window"]
    services.notifications_scan()
    wait_until(lambda: len(smtp.to(engineer.email)) == 1)
    _cal, first = ics_event(smtp.to(engineer.email)[0])

    window.starts_at += timedelta(hours=3)
    window.ends_at += timedelta(hours=3)
    window.sequence += 1
    window.save()
    # What the window service does: save, then the event, in one transaction.
    from django.db import transaction

    with transaction.atomic():
        events.window_changed(window=window, by=people["planner"])
    wait_until(lambda: len(smtp.to(engineer.email)) == 2)
    update = smtp.to(engineer.email)[1]
    assert update["Subject"].startswith("Window changed: openssl security patch")
    _cal, event = ics_event(update)
    assert str(event["uid"]) == str(first["uid"])
    assert int(event["sequence"]) > int(first["sequence"])
    assert event.decoded("dtstart") == window.starts_at.astimezone(UTC).replace(microsecond=0)


def test_cancelled_window_sends_cancelled_event_to_those_told(celery_worker, smtp, team, people):
    engineer = people["engineer"]
    w = make_window_world(
        team, owner=people["planner"], engineer=engineer, starts_in=timedelta(minutes=50)
    )
    window = w["window"]
    services.notifications_scan()
    wait_until(lambda: _sent().count() == 2)
    window.cancelled_at = timezone.now()
    window.sequence += 1
    window.save()
    events.window_cancelled(window=window, by=people["planner"])
    window_id = window.pk
    # Deleting the window afterwards does not stop the cancellation.
    window.delete()
    wait_until(lambda: len(smtp.messages) == 4)
    cancel = smtp.to(engineer.email)[-1]
    # PUBLISH semantics: the same event (UID), a higher SEQUENCE, CANCELLED.
    assert parts(cancel)["ics_method"] == "PUBLISH"
    cal, event = ics_event(cancel)
    assert str(cal["method"]) == "PUBLISH"
    assert str(event["uid"]) == window_uid(window_id)
    assert str(event["status"]) == "CANCELLED"
    assert int(event["sequence"]) == 1


def test_someone_removed_from_the_team_before_sending_gets_nothing(
    celery_queue, smtp, team, people, transactional_db
):
    engineer = people["engineer"]
    make_window_world(
        team, owner=people["planner"], engineer=engineer, starts_in=timedelta(minutes=50)
    )
    # No worker yet: the rows wait; then the engineer leaves the team.
    services.notifications_scan()
    Membership.objects.filter(user=engineer).delete()
    for n in Notification.objects.all():
        services.notification_deliver(notification_id=n.pk)
    assert smtp.to(engineer.email) == []
    row = Notification.objects.get(recipient=engineer)
    assert row.status == Status.SKIPPED
    assert "no longer in the team" in row.last_error
    assert len(smtp.to(people["planner"].email)) == 1


def test_email_off_and_digest_preferences_keep_it_in_app_only(smtp, team, people, db):
    engineer = people["engineer"]
    services.preference_update(
        user=engineer, lead_times_minutes=[60], email_off=["windows"], digest=False
    )
    make_window_world(
        team, owner=people["planner"], engineer=engineer, starts_in=timedelta(minutes=50)
    )
    services.notifications_scan()
    for n in Notification.objects.all():
        services.notification_deliver(notification_id=n.pk)
    assert smtp.to(engineer.email) == []
    assert Notification.objects.get(recipient=engineer).status == Status.SKIPPED


def test_daily_digest_lists_windows_and_tasks_of_the_week(smtp, team, people, db):
    from datetime import datetime, time

    engineer = people["engineer"]
    services.preference_update(user=engineer, lead_times_minutes=[60], email_off=[], digest=True)
    w = make_window_world(
        team, owner=people["planner"], engineer=engineer, starts_in=timedelta(days=3)
    )
    w["task"].due_on = timezone.now().date() + timedelta(days=2)
    w["task"].save()
    tz = _zone("America/New_York")
    seven_am = datetime.combine(timezone.now().astimezone(tz).date(), time(7, 1), tzinfo=tz)
    services.notifications_scan(now=seven_am)
    services.notifications_scan(now=seven_am + timedelta(hours=3))
    digest = Notification.objects.get(kind=Kind.DIGEST, recipient=engineer)
    assert services.notification_deliver(notification_id=digest.pk) == "sent"
    [msg] = smtp.to(engineer.email)
    assert msg["Subject"] == "Your PatchPlan week: 1 window, 1 open task"
    assert "Patch the web tier" in parts(msg)["text"]
    assert "openssl security patch" in parts(msg)["html"]


def test_smtp_down_then_back_every_message_arrives_once(
    celery_worker, smtp, team, people, settings
):
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 0
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 20
    for _ in range(5):
        make_window_world(
            team,
            owner=people["planner"],
            engineer=people["engineer"],
            starts_in=timedelta(minutes=50),
        )
    smtp.stop()
    services.notifications_scan()
    # Every row was tried and put back for a retry.
    wait_until(
        lambda: Notification.objects.filter(status=Status.PENDING, attempts__gte=1).count() == 10
    )
    assert Notification.objects.exclude(last_error="").count() == 10
    services.notifications_scan()  # still down: a second round of attempts
    wait_until(
        lambda: Notification.objects.filter(attempts__gte=2, status=Status.PENDING).count() == 10
    )
    smtp.start()
    services.notifications_scan()
    wait_until(lambda: _sent().count() == 10)
    ids = [m["X-PatchPlan-Notification"] for m in smtp.messages]
    assert len(ids) == 10 and len(set(ids)) == 10


def test_after_the_last_attempt_the_row_is_failed_and_admin_retry_sends_it(
    celery_worker, smtp, team, people, admin, settings, client
):
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 0
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 2
    make_window_world(
        team,
        owner=people["planner"],
        engineer=people["engineer"],
        starts_in=timedelta(minutes=50),
    )
    smtp.stop()
    services.notifications_scan()
    # The two window reminders (the sign-off reminder to approvers fails alike).
    reminders = Notification.objects.filter(kind=Kind.WINDOW_REMINDER)
    wait_until(lambda: reminders.filter(attempts=1, status=Status.PENDING).count() == 2)
    services.notifications_scan()
    wait_until(lambda: reminders.filter(status=Status.FAILED).count() == 2)

    client.force_login(admin)
    page = client.get("/notifications/failed/")
    assert page.status_code == 200
    assert people["engineer"].email in page.content.decode()
    smtp.start()
    failed = reminders.get(recipient=people["engineer"])
    response = client.post(f"/notifications/failed/{failed.pk}/retry/")
    assert response.status_code == 302
    wait_until(lambda: _sent(pk=failed.pk).exists())
    assert len(smtp.to(people["engineer"].email)) == 1


def test_a_row_is_sent_once_however_often_its_task_runs(smtp, team, people, transactional_db):
    make_window_world(
        team,
        owner=people["planner"],
        engineer=people["engineer"],
        starts_in=timedelta(minutes=50),
    )
    services.notifications_scan()
    row = Notification.objects.get(recipient=people["engineer"])
    results = [services.notification_deliver(notification_id=row.pk) for _ in range(3)]
    assert results == ["sent", "not-claimed", "not-claimed"]
    assert len(smtp.to(people["engineer"].email)) == 1


def test_stale_claim_of_a_dead_worker_is_handed_back_by_the_scan(team, people, db):
    make_window_world(
        team,
        owner=people["planner"],
        engineer=people["engineer"],
        starts_in=timedelta(minutes=50),
    )
    services.notifications_scan()
    row = Notification.objects.get(recipient=people["engineer"])
    Notification.objects.filter(pk=row.pk).update(status=Status.SENDING, claimed_at=timezone.now())
    services.notifications_scan(now=timezone.now() + timedelta(minutes=1))
    row.refresh_from_db()
    assert row.status == Status.SENDING  # a live claim is left alone
    services.notifications_scan(now=timezone.now() + services.claim_timeout() + timedelta(1))
    row.refresh_from_db()
    assert row.status == Status.PENDING

"""Pages: in-app list and bell, preferences, failed emails, calendar feeds."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from patchplan.core.tokens import hash_token
from patchplan.notifications import services
from patchplan.notifications.models import Kind, Notification, NotificationPreference, Status
from patchplan.teams.models import Membership
from plans.notify.calendars import window_uid

from .helpers import make_window_world

# "Now" is frozen for each test (at PATCHPLAN_TEST_CLOCK or the real instant).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


def _row(user, team, **kw):
    defaults = {
        "kind": Kind.MENTION,
        "object_type": "comment",
        "object_id": Notification.objects.count() + 1,
        "due_at": timezone.now(),
        "context": {"title": "Vera mentioned you on openssl", "path": "/plans/"},
    }
    return Notification.objects.create(recipient=user, team=team, **{**defaults, **kw})


def test_list_shows_only_my_notifications_and_bell_counts_unread(
    client_for, team, engineer, viewer, outsider
):
    _row(engineer, team)
    _row(viewer, team, context={"title": "not for erin"})
    client = client_for(engineer)
    page = client.get("/notifications/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Vera mentioned you on openssl" in body and "not for erin" not in body
    bell = client.get("/notifications/bell/")
    assert 'data-testid="notification-unread">1<' in bell.content.decode()
    client = client_for(outsider)
    assert "Vera mentioned" not in client.get("/notifications/").content.decode()
    assert "notification-unread" not in client.get("/notifications/bell/").content.decode()


def test_mark_read_touches_only_my_own_rows(client_for, team, engineer, viewer, outsider):
    mine = _row(engineer, team)
    theirs = _row(viewer, team)
    client = client_for(outsider)
    client.post("/notifications/read/", {"id": [mine.pk, theirs.pk]})
    client = client_for(engineer)
    client.post("/notifications/read/", {"id": [mine.pk, theirs.pk]})
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.read_at is not None
    assert theirs.read_at is None


def test_opening_a_notification_marks_it_read_and_goes_where_it_points(
    client_for, team, engineer, viewer
):
    mine = _row(engineer, team, context={"title": "Window moved", "path": "/plans/7/"})
    other = _row(engineer, team, context={"title": "Mentioned", "path": "/plans/8/"})
    theirs = _row(viewer, team)
    client = client_for(engineer)
    page = client.get(reverse("notification_list")).content.decode()
    assert f'href="{reverse("notification_open", args=[mine.pk])}"' in page
    response = client.get(reverse("notification_open", args=[mine.pk]))
    assert response.status_code == 302 and response["Location"] == "/plans/7/"
    mine.refresh_from_db()
    other.refresh_from_db()
    assert mine.read_at is not None and other.read_at is None
    # Opening it again, five minutes on, keeps the first reading time.
    first = mine.read_at
    with time_machine.travel(first + timedelta(minutes=5), tick=False):
        client.get(reverse("notification_open", args=[mine.pk]))
    mine.refresh_from_db()
    assert mine.read_at == first
    # Someone else's: a 404, and it stays unread.
    assert client.get(reverse("notification_open", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None
    # A path that leaves the site (not one PatchPlan writes) lands on the list instead.
    away = _row(engineer, team, context={"title": "x", "path": "//evil.example/"})
    response = client.get(reverse("notification_open", args=[away.pk]))
    assert response["Location"] == reverse("notification_list")
    # Only a GET (a link); a POST is refused.
    assert client.post(reverse("notification_open", args=[other.pk])).status_code == 405


def test_list_query_count_does_not_grow(client_for, team, engineer, django_assert_max_num_queries):
    client = client_for(engineer)
    for size in (3, 40):
        while Notification.objects.filter(recipient=engineer).count() < size:
            _row(engineer, team)
        # session, user, memberships, count, page of rows
        with django_assert_max_num_queries(6):
            assert client.get("/notifications/").status_code == 200


def test_preferences_save_lead_times_kinds_and_digest(client_for, engineer):
    client = client_for(engineer)
    assert client.get("/notifications/preferences/").status_code == 200
    response = client.post(
        "/notifications/preferences/",
        {"lead_times": "2d, 3h, 30m", "email_on": ["windows", "tasks"], "digest": "on"},
    )
    assert response.status_code == 302
    pref = NotificationPreference.objects.get(user=engineer)
    assert pref.lead_times_minutes == [30, 180, 2880]
    assert set(pref.email_off) == {"signoffs", "status", "mentions", "security"}
    assert pref.digest is True


@pytest.mark.parametrize(
    ("value", "message"),
    [("soon", "is not a lead time"), ("1m", "between 5 minutes and 14 days"), ("", "required")],
)
def test_preferences_refuse_bad_lead_times_next_to_the_field(client_for, engineer, value, message):
    client = client_for(engineer)
    response = client.post("/notifications/preferences/", {"lead_times": value})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert (
        not NotificationPreference.objects.filter(user=engineer)
        .exclude(lead_times_minutes=[1440, 60])
        .exists()
    )


def test_profile_links_to_preferences(client_for, engineer):
    page = client_for(engineer).get("/accounts/profile/")
    assert 'href="/notifications/preferences/"' in page.content.decode()


def test_failed_emails_are_shown_to_team_admins_only(
    client_for, team, admin, engineer, viewer, outsider
):
    row = _row(engineer, team, status=Status.FAILED, last_error="SMTPServerDisconnected()")
    assert (
        "SMTPServerDisconnected" in client_for(admin).get("/notifications/failed/").content.decode()
    )
    assert client_for(engineer).get("/notifications/failed/").status_code == 403
    # The outsider administers their own team: our failed rows are not there.
    page = client_for(outsider).get("/notifications/failed/")
    assert page.status_code == 200 and "SMTPServerDisconnected" not in page.content.decode()
    assert client_for(outsider).post(f"/notifications/failed/{row.pk}/retry/").status_code == 404
    assert client_for(viewer).post(f"/notifications/failed/{row.pk}/retry/").status_code == 403
    row.refresh_from_db()
    assert row.status == Status.FAILED


def test_retry_of_a_failed_email_puts_it_back_in_the_outbox(client_for, team, admin, engineer):
    row = _row(engineer, team, status=Status.FAILED, attempts=6)
    response = client_for(admin).post(f"/notifications/failed/{row.pk}/retry/")
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.PENDING, 0)


def test_personal_feed_lists_my_windows_and_token_reset_revokes_it(
    client, client_for, team, planner, engineer, outsider
):
    w = make_window_world(team, owner=planner, engineer=engineer, starts_in=timedelta(days=3))
    other = make_window_world(team, owner=planner, engineer=planner, starts_in=timedelta(days=4))
    url = f"/notifications/feed/{services.calendar_token_reset(user=engineer)}.ics"
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    cal = Calendar.from_ical(response.content)
    uids = {str(e["uid"]) for e in cal.walk("VEVENT")}
    assert uids == {window_uid(w["window"].pk)}
    assert window_uid(other["window"].pk) not in uids
    assert client.get("/notifications/feed/not-a-token.ics").status_code == 404

    client_for(engineer).post("/notifications/preferences/calendar/reset/")
    client.logout()
    assert client.get(url).status_code == 404
    # Someone who leaves the team no longer sees its windows.
    Membership.objects.filter(user=engineer).delete()
    response = client.get(f"/notifications/feed/{services.calendar_token_reset(user=engineer)}.ics")
    assert list(Calendar.from_ical(response.content).walk("VEVENT")) == []


def _client(user):
    c = Client()
    c.force_login(user)
    return c


def test_team_feed_is_made_and_revoked_by_admins_only(
    client, team, admin, planner, engineer, outsider
):
    w = make_window_world(team, owner=planner, engineer=engineer, starts_in=timedelta(days=3))
    assert _client(engineer).post("/notifications/team-feed/reset/").status_code == 403
    as_admin = _client(admin)
    as_admin.post("/notifications/team-feed/reset/")
    page = as_admin.get("/notifications/preferences/").content.decode()
    url = re.search(r'value="https?://[^/"]+(/notifications/team-feed/[^"]+\.ics)"', page)[1]
    cal = Calendar.from_ical(client.get(url).content)
    assert [str(e["uid"]) for e in cal.walk("VEVENT")] == [window_uid(w["window"].pk)]
    _client(outsider).post("/notifications/team-feed/reset/")  # their own team's feed
    assert client.get(url).status_code == 200
    assert as_admin.post("/notifications/team-feed/reset/").status_code == 302
    assert client.get(url).status_code == 404


def test_preferences_page_writes_nothing_on_get_and_makes_a_feed_on_post(client_for, engineer):
    client = client_for(engineer)
    page = client.get("/notifications/preferences/")
    assert "Make my calendar address" in page.content.decode()
    assert not NotificationPreference.objects.filter(user=engineer).exists()
    client.post("/notifications/preferences/calendar/reset/")
    stored = NotificationPreference.objects.get(user=engineer).calendar_token_hash
    page = client.get("/notifications/preferences/").content.decode()
    token = re.search(r"/notifications/feed/([^\"]+)\.ics", page)[1]
    # Shown once, kept only as its hash (as inventory tokens are).
    assert stored == hash_token(token) and token not in stored
    assert client.get(f"/notifications/feed/{token}.ics").status_code == 200
    again = client.get("/notifications/preferences/").content.decode()
    assert token not in again and 'data-testid="feed-active"' in again


def test_failed_list_query_count_does_not_grow(
    client_for, team, admin, engineer, django_assert_max_num_queries
):
    client = client_for(admin)
    for size in (2, 30):
        while Notification.objects.filter(status=Status.FAILED).count() < size:
            _row(engineer, team, status=Status.FAILED)
        # session, user, memberships, count, page of rows with recipients
        with django_assert_max_num_queries(6):
            assert client.get("/notifications/failed/").status_code == 200

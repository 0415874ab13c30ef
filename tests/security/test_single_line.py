"""Control characters in one-line fields (issue 15, part 2).

A line break in a name or title used to be accepted, then break every email
subject and calendar content line built from it (500s). Forms refuse it with
a message at the field; values already stored (written here with update(),
as a row from before the check would be) still give working emails, feeds
and reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from icalendar import Calendar

from patchplan.accounts.models import User
from patchplan.core.text import single_line
from patchplan.notifications import services as notifications
from patchplan.notifications.models import Kind, Notification
from patchplan.teams.models import Team
from plans.models import MaintenanceWindow, Plan
from tests.notifications.helpers import make_window_world

pytestmark = pytest.mark.django_db

HEADER_INJECTION = "Admin\r\nBcc: x@evil.example"
MESSAGE = "line breaks, tabs and control characters are refused"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def _error_at(response, field_id: str) -> bool:
    """crispy-bootstrap5 puts a field's errors right under it with this id."""
    html = response.content.decode()
    return f'id="error_1_{field_id}"' in html and MESSAGE in html


@pytest.mark.parametrize(
    "value",
    [HEADER_INJECTION, "Admin\nX", "Admin\x00X", "Admin\tX", "Admin\x85X", "Admin\x1bX"],
)
def test_profile_refuses_control_characters_in_a_name(client_for, engineer, value):
    response = client_for(engineer).post(
        "/accounts/profile/",
        {"first_name": "Erin", "last_name": value, "email": engineer.email, "time_zone": ""},
    )
    assert response.status_code in (200, 400)
    assert _error_at(response, "id_last_name")
    engineer.refresh_from_db()
    assert engineer.last_name != value


def test_profile_still_takes_an_ordinary_name(client_for, engineer):
    response = client_for(engineer).post(
        "/accounts/profile/",
        {"first_name": "Zoë", "last_name": "O'Brien-Núñez", "email": engineer.email},
    )
    assert response.status_code == 302
    engineer.refresh_from_db()
    assert engineer.last_name == "O'Brien-Núñez"


def test_team_settings_refuse_a_newline_in_the_team_name(client_for, admin, team):
    response = client_for(admin).post(
        "/team/",
        {
            "team-name": "Blue\r\nBcc: x@evil.example",
            "team-time_zone": "Europe/Paris",
            "offpeak-TOTAL_FORMS": "0",
            "offpeak-INITIAL_FORMS": "0",
            "offpeak-MIN_NUM_FORMS": "0",
            "offpeak-MAX_NUM_FORMS": "50",
        },
    )
    assert response.status_code == 400
    assert _error_at(response, "id_team-name")
    team.refresh_from_db()
    assert team.name == "Blue Ops"


def test_plan_form_refuses_a_newline_in_the_title(client_for, planner):
    response = client_for(planner).post(
        "/plans/new/",
        {
            "title": "Kernel\r\nupdate",
            "kind": "security_patch",
            "risk": "low",
            "owner": planner.pk,
        },
    )
    assert response.status_code in (200, 400)
    assert _error_at(response, "id_title")
    assert not Plan.objects.exists()


def test_window_form_refuses_a_newline_in_the_title(client_for, team, planner, engineer, frozen):
    world = make_window_world(team, owner=planner, engineer=engineer)
    plan = world["plan"]
    response = client_for(planner).post(
        reverse("window_create", args=[plan.pk]),
        {
            "title": "Night\nwork",
            "starts_at": "2026-12-05T23:00",
            "ends_at": "2026-12-06T01:00",
            "milestone": world["milestone"].pk,
        },
    )
    assert response.status_code == 400
    assert _error_at(response, "id_title")
    assert MaintenanceWindow.objects.filter(plan=plan).count() == 1


# --- values stored before the check ------------------------------------------------


def test_invitation_goes_out_with_a_one_line_subject(
    client_for, admin, team, django_capture_on_commit_callbacks
):
    Team.objects.filter(pk=team.pk).update(name="Blue\r\nBcc: x@evil.example")
    User.objects.filter(pk=admin.pk).update(last_name=HEADER_INJECTION)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin).post(
            "/team/members/", {"email": "new.person@example.test", "role": "engineer"}
        )
    assert response.status_code == 302
    (message,) = mail.outbox
    assert "\n" not in message.subject and "\r" not in message.subject
    assert "Blue Bcc: x@evil.example" in message.subject
    mime = message.message()
    # The text stays inside the Subject header: no Bcc header was injected.
    assert mime["Bcc"] is None and message.bcc == []
    assert "Blue Bcc: x@evil.example" in str(mime["Subject"])
    assert message.to == ["new.person@example.test"]
    # In the text body too the names stay on the sentence's line: no line of its own
    # that could read as something PatchPlan said.
    assert "Bcc: x@evil.example on PatchPlan as Engineer." in message.body
    assert not any(line.startswith("Bcc:") for line in message.body.splitlines())


def test_window_reminder_email_is_sent_with_a_one_line_subject(team, planner, engineer, frozen):
    world = make_window_world(
        team, owner=planner, engineer=engineer, starts_in=timedelta(hours=24, minutes=-1)
    )
    Plan.objects.filter(pk=world["plan"].pk).update(title="openssl\r\nBcc: x@evil.example")
    MaintenanceWindow.objects.filter(pk=world["window"].pk).update(
        title="Night\r\nBcc: x@evil.example\x1b"
    )
    notifications.notifications_scan()
    rows = Notification.objects.filter(kind=Kind.WINDOW_REMINDER, recipient=engineer)
    assert rows.count() == 1
    assert notifications.notification_deliver(notification_id=rows.get().pk) == "sent"
    (message,) = mail.outbox
    assert message.subject.startswith("Window in 24 h: Night Bcc: x@evil.example")
    assert "\n" not in message.subject and "\x1b" not in message.subject
    ics = next(a for a in message.attachments if getattr(a, "get_content_type", None))
    (event,) = Calendar.from_ical(ics.get_payload(decode=True)).walk("VEVENT")
    assert str(event["summary"]) == "Maintenance: Night Bcc: x@evil.example"


def test_calendar_feed_answers_with_a_bad_name_and_title(client, team, planner, engineer, frozen):
    world = make_window_world(team, owner=planner, engineer=engineer, starts_in=timedelta(days=3))
    User.objects.filter(pk=engineer.pk).update(last_name=HEADER_INJECTION)
    MaintenanceWindow.objects.filter(pk=world["window"].pk).update(title="Night\r\nwork")
    Plan.objects.filter(pk=world["plan"].pk).update(title="Kernel\nupdate")
    token = notifications.calendar_token_reset(user=engineer)
    response = client.get(reverse("notification_feed_user", kwargs={"token": token}))
    assert response.status_code == 200
    cal = Calendar.from_ical(response.content)
    assert str(cal["x-wr-calname"]).endswith("Admin Bcc: x@evil.example")
    (event,) = cal.walk("VEVENT")
    assert str(event["summary"]) == "Maintenance: Night work"
    assert str(event["description"]).startswith("Kernel update: 3 servers.")


def test_team_calendar_feed_answers_with_a_bad_team_name(client, team, planner, engineer, frozen):
    world = make_window_world(team, owner=planner, engineer=engineer, starts_in=timedelta(days=3))
    Team.objects.filter(pk=team.pk).update(name="Blue\r\nX-WR-TIMEZONE:Evil/Zone")
    MaintenanceWindow.objects.filter(pk=world["window"].pk).update(title="Night\r\nwork")
    token = notifications.team_feed_reset(team=team)
    response = client.get(reverse("notification_feed_team", kwargs={"token": token}))
    assert response.status_code == 200
    cal = Calendar.from_ical(response.content)
    # The name stays inside its own property: no second property was injected.
    assert str(cal["x-wr-calname"]) == "PatchPlan: Blue X-WR-TIMEZONE:Evil/Zone"
    assert "x-wr-timezone" not in cal
    (event,) = cal.walk("VEVENT")
    assert str(event["summary"]) == "Maintenance: Night work"


def test_plan_report_and_markdown_answer_with_bad_titles(
    client_for, team, planner, engineer, frozen
):
    world = make_window_world(team, owner=planner, engineer=engineer)
    Plan.objects.filter(pk=world["plan"].pk).update(title="Kernel\r\nupdate\x07")
    MaintenanceWindow.objects.filter(pk=world["window"].pk).update(title="Night\r\nwork")
    User.objects.filter(pk=planner.pk).update(first_name="Paul\r\nX-Evil: 1")
    client = client_for(engineer)
    page = client.get(f"/plans/{world['plan'].pk}/report/")
    assert page.status_code == 200
    assert "Night" in page.content.decode()
    md = client.get(f"/plans/{world['plan'].pk}/report.md")
    assert md.status_code == 200
    assert md["Content-Disposition"] == (
        f'attachment; filename="plan-{world["plan"].pk}-kernel-update.md"'
    )
    # PostgreSQL refuses NUL in text, so a stored value holds at most the
    # other controls. The title stays a single heading line in the export.
    assert md.content.decode().splitlines()[0] == "# Kernel update"


def test_single_line_folds_every_control_character_and_line_separator():
    assert single_line("a\r\nb\x00c\td\x85e\u2028f  g\x7f") == "a b c d e f g"

"""What the emails say (issue 16): every kind rendered, text and HTML, through
the real delivery path (claim, fresh reads, render) into Django's locmem
backend; the window emails an on-call engineer acts on (hostnames, run mode,
their part, was -> now); the .ics read by two independent parsers; the query
budget of the scan and of a delivery, whatever the servers and people."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
import time_machine
import vobject
from django.core import mail
from icalendar import Calendar

from patchplan.notifications import services
from patchplan.notifications.models import Kind, Notification, Status
from plans.choices import PlanStatus, Raci
from plans.models import PlanRole
from plans.notify import events, scans
from plans.notify.calendars import window_uid
from plans.services import plans as plan_services
from plans.services import windows as window_services
from tests import factories

from .helpers import make_oncall_world

# 09:00 UTC on Thursday 3 Dec 2026. The window starts 24 h (less a minute)
# later: Fri 4 Dec 08:59 UTC = 03:59 in New York (EST), 09:59 in Berlin (CET).
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def locmem(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://patchplan.example.com"


@pytest.fixture
def world(team, planner, engineer, approver, viewer):
    return make_oncall_world(team, planner, engineer, approver, viewer, now=NOW)


def deliver(kind: str) -> dict[str, mail.EmailMessage]:
    """Deliver every pending row of `kind`; the messages by recipient address."""
    before = len(mail.outbox)
    for pk in Notification.objects.filter(kind=kind, status=Status.PENDING).values_list(
        "pk", flat=True
    ):
        assert services.notification_deliver(notification_id=pk) == "sent"
    return {m.to[0]: m for m in mail.outbox[before:]}


def both(message) -> tuple[str, str]:
    html = next(body for body, mimetype in message.alternatives if mimetype == "text/html")
    return message.body, html


def ics_of(message) -> str:
    [part] = [a for a in message.attachments if a.get_content_type() == "text/calendar"]
    return part.get_payload(decode=True).decode("utf-8")


def test_reminder_lists_hosts_links_run_mode_and_says_each_persons_part(
    world, engineer, approver, viewer, planner
):
    scans.scan_window_reminders(NOW)
    sent = deliver(Kind.WINDOW_REMINDER)
    assert set(sent) == {engineer.email, approver.email, viewer.email, planner.email}
    window, plan = world["window"], world["plan"]

    mine = sent[engineer.email]
    # Date, time and zone in the subject, in the engineer's own zone.
    assert mine.subject == (
        "Window in 24 h: openssl security patch, 26 servers, Fri 4 Dec 2026 03:59-04:59 EST"
    )
    assert sent[planner.email].subject.endswith("Fri 4 Dec 2026 09:59-10:59 CET")
    text, html = both(mine)
    for body in (text, html):
        # The first 20 hostnames, sorted, with their environment; then a count and a link.
        assert "stage-01" in body and "web-00" in body and "web-18" in body
        assert "web-19" not in body and "web-24" not in body
        assert "and 6 more" in body
        assert f"https://patchplan.example.com/plans/windows/{window.pk}/#servers" in body
        assert f"https://patchplan.example.com/plans/{plan.pk}/windows/{window.pk}/run/" in body
        assert f"https://patchplan.example.com/plans/windows/{window.pk}/" in body
        assert "Patch the web tier" in body
        assert "Responsible" in body
        assert "You approve the go" not in body
    assert "  - stage-01 (staging)" in text and "  - web-00 (production)" in text
    assert "<code>web-00</code>" in html and "(production)" in html
    assert "Open the run mode" in html
    # The window page once: no second "Open in PatchPlan" to the same place.
    assert text.count(f"https://patchplan.example.com/plans/windows/{window.pk}/\n") == 1
    assert "Open in PatchPlan" not in text and "Open in PatchPlan" not in html

    text, html = both(sent[approver.email])
    assert "You approve the go for deployment" in text
    assert "<strong>You approve the go</strong> for deployment" in html
    assert "Patch the web tier" not in text
    text, _html = both(sent[viewer.email])
    assert "Your role in the plan: Informed" in text
    text, _html = both(sent[planner.email])
    assert "You own the plan." in text and "Accountable" in text


def test_update_says_was_and_now_for_time_servers_and_milestone(world, engineer, planner):
    scans.scan_window_reminders(NOW)
    deliver(Kind.WINDOW_REMINDER)
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
    row = Notification.objects.get(kind=Kind.WINDOW_UPDATED, recipient=engineer)
    # Captured in the editing transaction, as it was then.
    assert row.context["changes"] == {
        "starts_at": ["2026-12-04T08:59:00+00:00", "2026-12-04T11:59:00+00:00"],
        "ends_at": ["2026-12-04T09:59:00+00:00", "2026-12-04T12:59:00+00:00"],
        "milestone": ["deployment", "testing"],
        "servers_added": ["web-99"],
        "servers_removed": ["web-00"],
    }
    sent = deliver(Kind.WINDOW_UPDATED)
    update = sent[engineer.email]
    assert update.subject == (
        "Window changed: openssl security patch, now Fri 4 Dec 2026 06:59-07:59 EST"
    )
    text, html = both(update)
    assert "Start: Fri 4 Dec 2026, 03:59 EST -> Fri 4 Dec 2026, 06:59 EST" in text
    assert "End: Fri 4 Dec 2026, 04:59 EST -> Fri 4 Dec 2026, 07:59 EST" in text
    assert "Milestone: deployment -> testing" in text
    assert "Servers added: web-99" in text
    assert "Servers removed: web-00" in text
    assert "<s>Fri 4 Dec 2026, 03:59 EST</s>" in html
    assert "<strong>Fri 4 Dec 2026, 06:59 EST</strong>" in html
    assert "<strong>web-99</strong>" in html and "<s>web-00</s>" in html
    # The run mode link is there in the update too.
    assert f"/windows/{window.pk}/run/" in text


def test_two_quick_changes_read_as_one_against_what_was_last_told(world, engineer, planner):
    scans.scan_window_reminders(NOW)
    deliver(Kind.WINDOW_REMINDER)
    window = world["window"]
    servers = dict.fromkeys(world["servers"], 10)
    for hours in (1, 2):  # moved, then moved again before the first update went out
        window.refresh_from_db()
        window_services.window_update(
            window=window,
            version=window.version,
            starts_at=window.starts_at + timedelta(hours=hours),
            ends_at=window.ends_at + timedelta(hours=hours),
            by=planner,
            title=window.title,
            milestone=world["deployment"],
            downtimes=servers,
        )
    rows = Notification.objects.filter(kind=Kind.WINDOW_UPDATED, recipient=engineer)
    assert sorted(rows.values_list("status", flat=True)) == [Status.CANCELLED, Status.PENDING]
    text, _html = both(deliver(Kind.WINDOW_UPDATED)[engineer.email])
    # Was: what the reminder said (03:59); now: three hours later.
    assert "Start: Fri 4 Dec 2026, 03:59 EST -> Fri 4 Dec 2026, 06:59 EST" in text
    assert "Milestone" not in text.split("What changed")[1].split("Now:")[0]


def _assert_valid_ics(raw: str, *, sequence: int, cancelled: bool) -> None:
    """Both parsers accept it, with the properties RFC 5545/5546 require."""
    cal = Calendar.from_ical(raw)
    # icalendar parses leniently: a property it could not read is kept aside
    # in .errors, not raised. None allowed; then its validator on the calendar.
    assert [(c.name, c.errors) for c in cal.walk() if c.errors] == []
    cal.validate()
    [event] = cal.walk("VEVENT")
    assert str(cal["method"]) == "PUBLISH" and str(cal["version"]) == "2.0" and cal["prodid"]
    for prop in ("dtstamp", "uid", "dtstart", "dtend", "organizer", "summary"):
        assert prop in event, prop
    start = event.decoded("dtstart")
    # DTSTART in UTC (or with a TZID): never a floating local time.
    assert start.tzinfo is not None and start.utcoffset() == timedelta(0)
    assert "attendee" not in event
    assert int(event["sequence"]) == sequence
    assert str(event["status"]) == ("CANCELLED" if cancelled else "CONFIRMED")
    # vobject, an independent parser, reads the same facts.
    parsed = vobject.readOne(raw)
    assert parsed.method.value == "PUBLISH"
    vevent = parsed.vevent
    assert vevent.uid.value == str(event["uid"])
    assert vevent.dtstart.value == start
    assert vevent.dtstamp.value.tzinfo is not None
    assert int(vevent.sequence.value) == sequence
    assert not hasattr(vevent, "attendee")
    assert vevent.organizer.value.startswith("mailto:")


def test_ics_of_reminder_update_and_cancellation_pass_two_parsers(world, engineer, planner):
    window = world["window"]
    scans.scan_window_reminders(NOW)
    reminder = deliver(Kind.WINDOW_REMINDER)[engineer.email]
    window_services.window_update(
        window=window,
        version=window.version,
        starts_at=window.starts_at + timedelta(hours=1),
        ends_at=window.ends_at + timedelta(hours=1),
        by=planner,
        title=window.title,
        milestone=world["deployment"],
        downtimes=dict.fromkeys(world["servers"], 10),
    )
    update = deliver(Kind.WINDOW_UPDATED)[engineer.email]
    window.refresh_from_db()
    window_services.window_cancel(window=window, version=window.version, by=planner)
    cancel = deliver(Kind.WINDOW_CANCELLED)[engineer.email]

    for message, sequence, cancelled in (
        (reminder, 0, False),
        (update, 1, False),
        (cancel, 2, True),
    ):
        raw = ics_of(message)
        _assert_valid_ics(raw, sequence=sequence, cancelled=cancelled)
        assert window_uid(window.pk) in raw
        # The MIME part's method matches the calendar's METHOD (RFC 6047).
        [part] = [a for a in message.attachments if a.get_content_type() == "text/calendar"]
        assert part.get_param("method") == "PUBLISH"
        # The organizer is the plan owner, whom questions go to; no no-reply address.
        assert f"mailto:{planner.email}" in raw.replace("\r\n ", "")
    assert cancel.subject.startswith("Window cancelled: openssl security patch, was Fri 4 Dec")


def test_feed_ics_passes_two_parsers(world, engineer, client):
    from plans.notify.calendars import feed_ics
    from plans.notify.recipients import feed_windows_for_user

    raw = feed_ics(feed_windows_for_user(user=engineer), name="mine").decode()
    cal = Calendar.from_ical(raw)
    assert [(c.name, c.errors) for c in cal.walk() if c.errors] == []
    cal.validate()
    assert str(cal["method"]) == "PUBLISH" and cal.walk("VEVENT")
    assert vobject.readOne(raw).vevent.uid.value == window_uid(world["window"].pk)


def test_every_gate_and_review_kind_renders_text_and_html(
    world, team, planner, engineer, approver, viewer
):
    plan, window = world["plan"], world["window"]
    # plan sent for review: wired through the status move.
    draft = factories.PlanFactory(team=team, owner=planner, title="kernel upgrade")
    plan_services.plan_transition(plan=draft, to_status=PlanStatus.IN_REVIEW, by=planner)
    # go given and work started early: the entry points the gate services call.
    events.go_given(milestone=world["deployment"], by=approver, note="Staging passed.")
    Notification.objects.filter(kind=Kind.WINDOW_REMINDER).delete()
    window.actual_starts_at = NOW
    window.save(update_fields=["actual_starts_at"])
    events.window_started_early(window=window, by=engineer, reason="Quiet night.")
    # review due (scan), recurring plan created (schedule service).
    plan.review_by = NOW.date() + timedelta(days=7)
    plan.save(update_fields=["review_by"])
    scans.scan_reviews(NOW.replace(hour=8))

    expectations = {
        Kind.PLAN_SENT_FOR_REVIEW: (
            approver,
            "For your review: kernel upgrade",
            ["sent the plan kernel upgrade for review", "You approve it"],
        ),
        Kind.GO_GIVEN: (
            engineer,
            "Go given: openssl security patch: deployment",
            ["The go for deployment", "its work may start", "Staging passed."],
        ),
        Kind.WORK_STARTED_EARLY: (
            planner,
            "Work started early: openssl security patch, planned Fri 4 Dec 2026 09:59-10:59 CET",
            [
                "started early",
                # When it started, against the plan, in the reader's zone.
                "Started: Thu 3 Dec 2026, 10:00 CET",
                "Planned: Fri 4 Dec 2026, 09:59 to 10:59 CET",
                "Quiet night.",
                "web-00",
                f"/windows/{window.pk}/run/",
            ],
        ),
        Kind.REVIEW_DUE: (
            planner,
            "Review in 7 days: openssl security patch",
            ["is due for review on Thu 10 Dec 2026", "set the next review date"],
        ),
    }
    for kind, (person, subject, snippets) in expectations.items():
        sent = deliver(kind)
        assert person.email in sent, (kind, list(sent))
        message = sent[person.email]
        assert message.subject == subject
        text, html = both(message)
        # The HTML part says the same words, whatever tags it wraps them in.
        html_words = " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())
        for snippet in snippets:
            assert snippet in text, (kind, snippet, text)
            words = html if snippet.startswith("/") else html_words  # a link is in an href
            assert snippet in words.replace(" .", ".").replace(" ,", ","), (kind, snippet, words)
        assert "<html" in html and "https://patchplan.example.com/" in text
    # Whoever acted is not told about their own act.
    assert not Notification.objects.filter(kind=Kind.GO_GIVEN, recipient=approver).exists()
    assert not Notification.objects.filter(
        kind=Kind.WORK_STARTED_EARLY, recipient=engineer
    ).exists()


def test_overrun_goes_to_the_owner_once_while_it_happens(world, planner, frozen):
    window = world["window"]
    window.actual_starts_at = window.starts_at
    window.save(update_fields=["actual_starts_at"])
    frozen.move_to(window.ends_at + timedelta(minutes=5))
    later = window.ends_at + timedelta(minutes=5)
    assert scans.scan_overruns(later) == 1
    assert scans.scan_overruns(later + timedelta(minutes=1)) == 0
    message = deliver(Kind.WINDOW_OVERRUNNING)[planner.email]
    assert message.subject == (
        "Window overrunning: openssl security patch, planned Fri 4 Dec 2026 09:59-10:59 CET"
    )
    text, _html = both(message)
    assert "has not been marked finished" in text and "Run mode:" in text


def _queries_of_one_delivery(django_assert_max_num_queries, budget: int) -> None:
    for pk in Notification.objects.filter(status=Status.PENDING).values_list("pk", flat=True):
        # 12: claim; the row (membership, preferences joined); the window with
        # its server count; still concerned (task, RACI); the first 20 hosts;
        # the milestone; your tasks; the approvers (named, members); your RACI
        # roles; mark sent. Never per server or per person.
        with django_assert_max_num_queries(budget):
            services.notification_deliver(notification_id=pk)


def test_scan_and_delivery_queries_do_not_grow_with_servers_or_people(
    world, team, planner, django_assert_max_num_queries
):
    # The scan, 8: lead times; windows; recipients (tasks, RACI, plans,
    # members); existing keys; the insert.
    budget_scan, budget_delivery = 8, 12
    # Small: the world's one window. Then 9 more windows, 40 servers and 30
    # people each: the same budgets.
    with django_assert_max_num_queries(budget_scan):
        assert scans.scan_window_reminders(NOW) == 4
    _queries_of_one_delivery(django_assert_max_num_queries, budget_delivery)

    people = [factories.UserFactory(username=f"person-{i}") for i in range(30)]
    for user in people:
        factories.MembershipFactory(team=team, user=user, role="engineer")
    for n in range(9):
        plan = factories.PlanFactory(team=team, owner=planner, title=f"bulk {n}")
        servers = [factories.ServerFactory(team=team, hostname=f"b{n}-{i:02d}") for i in range(40)]
        plan_services.plan_scope_add(plan=plan, servers=servers, by=planner)
        milestone = factories.MilestoneFactory(plan=plan, name="deployment")
        for user in people:
            PlanRole.objects.create(plan=plan, user=user, raci=Raci.INFORMED)
            factories.TaskFactory(plan=plan, milestone=milestone, assignee=user)
        starts = NOW + timedelta(minutes=30 + n)
        window_services.window_create(
            plan=plan,
            starts_at=starts,
            ends_at=starts + timedelta(hours=1),
            by=planner,
            milestone=milestone,
            downtimes=dict.fromkeys(servers, 5),
        )
    with django_assert_max_num_queries(budget_scan):
        assert scans.scan_window_reminders(NOW) == 9 * 30
    _queries_of_one_delivery(django_assert_max_num_queries, budget_delivery)
    assert Notification.objects.filter(status=Status.SENT).count() == 4 + 9 * 30


def test_every_kind_has_a_subject_a_text_and_an_html_template():
    from django.template.loader import get_template

    for kind in Kind.values:
        for part in ("subject.txt", "body.txt", "body.html"):
            assert get_template(f"emails/{kind}-{part}"), (kind, part)


def test_every_plan_kind_goes_out_with_text_and_html_saying_the_same_thing(
    world, team, planner, engineer, approver, frozen
):
    """Each kind not looked at above, made the way the app makes it (the
    event entry points and the scans), delivered, and read in both parts:
    the object's name, a link into the site, and the preferences link, in
    the text and in the HTML. (The advisory alert is the advisories app's:
    tests/advisories/test_alerts.py.)"""
    from django.template.loader import get_template

    from plans.choices import PlanStatus

    plan, window, deployment = world["plan"], world["window"], world["deployment"]
    site = "https://patchplan.example.com/"
    scans.scan_window_reminders(NOW)
    deliver(Kind.WINDOW_REMINDER)  # told about the window: they hear it is cancelled
    late = factories.TaskFactory(
        plan=plan,
        milestone=deployment,
        assignee=engineer,
        title="Back up the load balancer",
        due_on=NOW.date() - timedelta(days=1),
    )
    events.task_assigned(task=late, by=planner)
    events.milestone_ready_for_signoff(milestone=deployment, by=planner)
    events.milestone_signed_off(milestone=world["testing"], by=approver)
    events.milestone_rejected(milestone=deployment, by=approver, comment="Rollback untested.")
    events.plan_status_changed(
        plan=plan, old_status=PlanStatus.DRAFT, new_status=PlanStatus.APPROVED, by=approver
    )
    plan_services.comment_post(plan=plan, body=f"@{engineer.username} ready?", by=planner)
    scans.scan_tasks(NOW)  # the overdue one (08:00 team time has passed)
    scans.scan_pending_signoffs(NOW)  # deployment's first window is within 24 h
    frozen.move_to(NOW + timedelta(hours=14))
    scans.scan_tasks(NOW + timedelta(hours=14))  # 24 h before the end of Fri 4 Dec
    window.refresh_from_db()
    window_services.window_cancel(window=window, version=window.version, by=planner)

    names = {
        Kind.TASK_ASSIGNED: "Back up the load balancer",
        Kind.TASK_OVERDUE: "Back up the load balancer",
        Kind.TASK_DUE: "Patch the web tier",
        Kind.SIGNOFF_REQUESTED: "deployment",
        Kind.SIGNOFF_PENDING: "deployment",
        Kind.MILESTONE_SIGNED_OFF: "testing",
        Kind.MILESTONE_REJECTED: "Rollback untested.",
        Kind.PLAN_STATUS: "openssl security patch",
        Kind.MENTION: "ready?",
        Kind.WINDOW_CANCELLED: "cancelled",
    }
    for kind, name in names.items():
        sent = deliver(kind)
        assert sent, (kind, list(Notification.objects.filter(kind=kind).values("status")))
        for address, message in sent.items():
            text, html = both(message)
            html_words = " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())
            assert message.subject.strip() and "\n" not in message.subject, kind
            assert name in text and name in html_words, (kind, address, text, html_words)
            assert site in text and f'href="{site}' in html, kind
            assert "/notifications/preferences/" in text and "/notifications/preferences/" in html
            assert html.lstrip().lower().startswith(("<!doctype html", "<html")), kind
    # Each kind's three templates exist (the digest is covered by test_delivery).
    for kind in names:
        for part in ("subject.txt", "body.txt", "body.html"):
            assert get_template(f"emails/{kind}-{part}")

"""The periodic scan: reminders are rows created when due, once each."""

from __future__ import annotations

import threading
from datetime import UTC, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from patchplan.notifications import services
from patchplan.notifications.models import Kind, Notification, Status
from patchplan.teams.models import Membership
from plans.choices import Raci
from plans.models import PlanRole
from plans.notify import events, scans
from tests import factories

from .helpers import make_window_world

# "Now" is frozen for each test (at PATCHPLAN_TEST_CLOCK or the real instant):
# data placed relative to it and the code under test see the same instant.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


def _reminders(**filters):
    return Notification.objects.filter(kind=Kind.WINDOW_REMINDER, **filters)


def test_window_reminder_is_created_when_its_lead_time_comes_not_before(
    team, planner, engineer, viewer
):
    w = make_window_world(team, owner=planner, engineer=engineer, starts_in=timedelta(hours=30))
    PlanRole.objects.create(plan=w["plan"], user=viewer, raci=Raci.INFORMED)
    now = timezone.now()
    services.notifications_scan(now=now)
    assert not _reminders().exists()

    services.notifications_scan(now=now + timedelta(hours=6, minutes=1))
    rows = _reminders()
    # Assignee of a task in the milestone, accountable owner, informed viewer.
    assert {r.recipient_id for r in rows} == {engineer.pk, planner.pk, viewer.pk}
    assert all(r.occurrence.endswith("|1440") for r in rows)
    assert all(r.status == Status.PENDING for r in rows)


def test_scan_run_twice_creates_nothing_twice(team, planner, engineer):
    make_window_world(team, owner=planner, engineer=engineer, starts_in=timedelta(minutes=50))
    services.notifications_scan()
    services.notifications_scan()
    # Only the nearest due lead (1 h), once per person.
    assert sorted(_reminders().values_list("recipient_id", "occurrence")) == sorted(
        (pk, occ) for pk, occ in _reminders().values_list("recipient_id", "occurrence").distinct()
    )
    assert _reminders().count() == 2
    assert {o.split("|")[1] for o in _reminders().values_list("occurrence", flat=True)} == {"60"}


def test_person_lead_times_are_respected(team, planner, engineer):
    services.preference_update(user=engineer, lead_times_minutes=[180], email_off=[], digest=False)
    make_window_world(team, owner=planner, engineer=engineer, starts_in=timedelta(hours=5))
    services.notifications_scan()
    # The planner (defaults 24 h, 1 h) is due; the engineer (3 h) is not yet.
    assert set(_reminders().values_list("recipient_id", flat=True)) == {planner.pk}
    services.notifications_scan(now=timezone.now() + timedelta(hours=2, minutes=1))
    assert _reminders(recipient=engineer, occurrence__endswith="|180").count() == 1


def test_moved_window_cancels_old_pending_reminder_and_gets_a_fresh_one(team, planner, engineer):
    w = make_window_world(team, owner=planner, engineer=engineer, starts_in=timedelta(hours=23))
    window = w["window"]
    services.notifications_scan()
    old = _reminders(recipient=engineer).get()

    window.starts_at += timedelta(hours=2)
    window.ends_at += timedelta(hours=2)
    window.sequence += 1
    window.save()
    events.window_changed(window=window, by=planner)

    old.refresh_from_db()
    assert old.status == Status.CANCELLED
    services.notifications_scan()  # 25 h ahead now: not due yet
    assert not _reminders(recipient=engineer, status=Status.PENDING).exists()
    services.notifications_scan(now=timezone.now() + timedelta(hours=1, minutes=1))
    fresh = _reminders(recipient=engineer, status=Status.PENDING).get()
    assert fresh.occurrence.startswith(window.starts_at.astimezone(UTC).isoformat())


def test_cancelled_window_gets_no_reminders(team, planner, engineer):
    w = make_window_world(team, owner=planner, engineer=engineer, starts_in=timedelta(minutes=30))
    w["window"].cancelled_at = timezone.now()
    w["window"].save()
    services.notifications_scan()
    assert not _reminders().exists()


def test_someone_removed_from_the_team_gets_no_reminder(team, planner, engineer):
    make_window_world(team, owner=planner, engineer=engineer, starts_in=timedelta(minutes=30))
    Membership.objects.filter(user=engineer, team=team).delete()
    services.notifications_scan()
    assert not _reminders(recipient=engineer).exists()


def test_task_due_reminder_then_daily_overdue_and_owner_from_the_third_day(team, planner, engineer):
    plan = factories.PlanFactory(team=team, owner=planner)
    tz = team.tzinfo
    local_today = timezone.now().astimezone(tz).date()
    task = factories.TaskFactory(plan=plan, assignee=engineer, due_on=local_today)
    services.notifications_scan()
    assert Notification.objects.filter(kind=Kind.TASK_DUE, recipient=engineer).count() == 1

    def at(days: int, hour: int):
        from datetime import datetime, time

        return datetime.combine(local_today + timedelta(days=days), time(hour), tzinfo=tz)

    services.notifications_scan(now=at(1, 7))  # overdue, but before the 08:00 nag
    assert not Notification.objects.filter(kind=Kind.TASK_OVERDUE).exists()
    services.notifications_scan(now=at(1, 9))
    services.notifications_scan(now=at(1, 15))  # same day: no second nag
    services.notifications_scan(now=at(2, 9))
    overdue = Notification.objects.filter(kind=Kind.TASK_OVERDUE, object_id=task.pk)
    assert overdue.filter(recipient=engineer).count() == 2
    assert not overdue.filter(recipient=planner).exists()
    services.notifications_scan(now=at(3, 9))
    assert overdue.filter(recipient=engineer).count() == 3
    assert overdue.filter(recipient=planner).count() == 1


def test_pending_signoff_reminds_approvers_24h_before_first_window(
    team, planner, engineer, approver
):
    w = make_window_world(team, owner=planner, engineer=engineer, starts_in=timedelta(hours=20))
    w["milestone"].signoff_roles = ["approver"]
    w["milestone"].save()
    services.notifications_scan()
    rows = Notification.objects.filter(kind=Kind.SIGNOFF_PENDING)
    assert list(rows.values_list("recipient_id", flat=True)) == [approver.pk]


def test_overrunning_window_tells_the_plan_owner(team, planner, engineer):
    w = make_window_world(team, owner=planner, engineer=engineer, starts_in=timedelta(hours=-2))
    window = w["window"]
    window.actual_starts_at = window.starts_at
    window.save()
    services.notifications_scan()
    rows = Notification.objects.filter(kind=Kind.WINDOW_OVERRUNNING)
    assert list(rows.values_list("recipient_id", flat=True)) == [planner.pk]


def test_event_rows_roll_back_with_the_service(team, planner, engineer):
    from django.db import transaction

    plan = factories.PlanFactory(team=team, owner=planner)
    task = factories.TaskFactory(plan=plan, assignee=engineer)
    with pytest.raises(RuntimeError), transaction.atomic():
        events.task_assigned(task=task, by=planner)
        raise RuntimeError("the service failed")
    assert not Notification.objects.exists()
    events.task_assigned(task=task, by=planner)
    assert Notification.objects.filter(kind=Kind.TASK_ASSIGNED, recipient=engineer).count() == 1


def test_mention_notifies_only_team_members(team, planner, engineer, outsider):
    from plans.models import Comment

    plan = factories.PlanFactory(team=team, owner=planner)
    comment = Comment.objects.create(plan=plan, author=planner, body="@erin please check")
    events.comment_posted(comment=comment, mentioned_users=[engineer, outsider], by=planner)
    assert list(Notification.objects.values_list("recipient_id", flat=True)) == [engineer.pk]


@pytest.mark.django_db(transaction=True)
def test_two_scans_at_once_create_no_duplicates(require_postgres, team, planner, engineer):
    for _ in range(20):
        make_window_world(team, owner=planner, engineer=engineer, starts_in=timedelta(minutes=30))
    now = timezone.now()
    barrier = threading.Barrier(2)
    errors = []

    def run():
        try:
            barrier.wait()
            scans.scan_window_reminders(now)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert _reminders().count() == 40  # 20 windows x (engineer, planner)


def test_a_failing_scan_step_stops_no_other_step_nor_the_queue(
    team, planner, engineer, monkeypatch, caplog
):
    """Any scan that raises (a bug, a row it cannot read) is logged; the other
    steps, the hand-back of dead claims and the queue still run: the one beat
    job is what every reminder waits on."""
    from patchplan.notifications import registry

    def broken(now):
        raise RuntimeError("a scan step broke")

    steps = [("broken", broken), *registry.scans()]
    monkeypatch.setattr(registry, "scans", lambda: steps)
    make_window_world(
        team, owner=planner, engineer=engineer, starts_in=timedelta(hours=24, minutes=-1)
    )
    figures = services.notifications_scan()
    assert figures["broken"] == 0
    assert figures["windows"] == 2 and figures["queued"] == 2
    assert "a scan step broke" in caplog.text

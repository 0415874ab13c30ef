"""Phase gate messages at today's call sites (go requested by the scan when
every entry check of a milestone but the go passes, go given by the approvers'
entry sign-off, work started early by the window start service once confirmed,
plan sent for review by the status move), the review-by reminder, and recurring
plans from a scheduled template, created once even when two scans race on
PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection

from patchplan.notifications import services
from patchplan.notifications.models import Kind, Notification, Status
from plans.choices import PlanStatus, SignOffDecision, SignOffStage
from plans.models import AuditEvent, Frequency, Plan, PlanOccurrence
from plans.notify import scans
from plans.services import evidence as evidence_services
from plans.services import execution as execution_services
from plans.services import plans as plan_services
from plans.services import schedules as schedule_services
from plans.services import signoff as signoff_services
from servers.choices import Environment
from tests import factories

# Thursday 3 Dec 2026, 09:00 UTC (10:00 in Berlin, the team's zone).
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def locmem(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def _plan(team, planner, *, title="kernel upgrade", milestones=("testing", "deployment"), **fields):
    plan = plan_services.plan_create(
        team=team, title=title, owner=planner, by=planner, default_milestones=False, **fields
    )
    for name in milestones:
        plan_services.milestone_add(plan=plan, name=name, by=planner)
    return plan


def _approve(plan, planner, approver):
    plan_services.plan_transition(plan=plan, to_status=PlanStatus.IN_REVIEW, by=planner)
    plan_services.plan_transition(plan=plan, to_status=PlanStatus.APPROVED, by=approver)


def _sign_off_testing(plan, planner, approver):
    """Testing done through the services: a passing run on staging, then its sign-off
    (deployment's entry checks need it)."""
    evidence_services.testrun_create(plan=plan, result="pass", by=planner)
    signoff_services.signoff_give(
        milestone=plan.milestones.get(name="testing"),
        by=approver,
        decision=SignOffDecision.APPROVE,
    )


def _rows(kind, **filters):
    return Notification.objects.filter(kind=kind, **filters)


def test_sending_a_plan_for_review_asks_the_approvers(
    frozen, team, planner, approver, engineer, viewer
):
    plan = _plan(team, planner)
    plan_services.plan_transition(plan=plan, to_status=PlanStatus.IN_REVIEW, by=planner)
    assert set(_rows(Kind.PLAN_SENT_FOR_REVIEW).values_list("recipient", flat=True)) == {
        approver.pk
    }
    services.notification_deliver(notification_id=_rows(Kind.PLAN_SENT_FOR_REVIEW).get().pk)
    [message] = mail.outbox
    assert message.subject == "For your review: kernel upgrade"
    assert "You approve it" in message.body
    assert "<strong>You approve it</strong>" in message.alternatives[0][0]


def test_go_requested_when_the_checks_first_pass_once_per_milestone(
    frozen, team, planner, approver, django_assert_max_num_queries
):
    plan = _plan(team, planner)
    staging = factories.ServerFactory(team=team, environment=Environment.STAGING)
    plan_services.plan_scope_add(plan=plan, servers=[staging], by=planner)
    _approve(plan, planner, approver)
    # Testing waits for no go (its default entry checks have no go approval).
    Plan.objects.filter(pk=plan.pk).update(test_procedure="Run the smoke tests.")
    assert scans.scan_go_requests(NOW) == 0
    _sign_off_testing(plan, planner, approver)
    # Deployment is next: its checks but the go itself (a rollback plan, missing
    # yet) must pass before its approvers are asked.
    assert scans.scan_go_requests(NOW) == 0
    Plan.objects.filter(pk=plan.pk).update(rollback_plan="Reinstall the previous kernel.")
    assert scans.scan_go_requests(NOW) == 1
    deployment = plan.milestones.get(name="deployment")
    row = _rows(Kind.GO_REQUESTED).get()
    assert row.recipient == approver and row.object_id == deployment.pk
    # Asked once: later scans leave it, without computing readiness again
    # (2 queries: the plans' next open milestones, which were asked about).
    with django_assert_max_num_queries(2):
        assert scans.scan_go_requests(NOW + timedelta(minutes=1)) == 0
    services.notification_deliver(notification_id=row.pk)
    [message] = mail.outbox
    assert message.subject == "Go requested: kernel upgrade: deployment"
    assert "The checks of deployment in kernel upgrade pass now" in message.body
    assert "You approve the go" in message.body
    html = message.alternatives[0][0]
    assert "<strong>You approve the go</strong>" in html and "<strong>deployment</strong>" in html


def test_a_draft_plan_asks_for_no_go(frozen, team, planner):
    plan = _plan(team, planner, milestones=("assessment",))
    plan_services.plan_scope_add(
        plan=plan, servers=[factories.ServerFactory(team=team)], by=planner
    )
    assert scans.scan_go_requests(NOW) == 0


def test_the_go_given_by_the_milestones_approvers_tells_the_plans_people(
    frozen, team, planner, approver, engineer
):
    plan = _plan(team, planner, rollback_plan="Reinstall the previous kernel.")
    deployment = plan.milestones.get(name="deployment")
    factories.TaskFactory(plan=plan, milestone=deployment, assignee=engineer)
    _approve(plan, planner, approver)
    _sign_off_testing(plan, planner, approver)
    # Signing off the milestone before is not the go: deployment's approvers give it.
    assert not _rows(Kind.GO_GIVEN).exists()
    signoff_services.signoff_give(
        milestone=deployment,
        by=approver,
        decision=SignOffDecision.APPROVE,
        stage=SignOffStage.ENTRY,
    )
    people = set(_rows(Kind.GO_GIVEN).values_list("recipient", flat=True))
    assert people == {planner.pk, engineer.pk}  # the plan's people, not the approver
    assert set(_rows(Kind.GO_GIVEN).values_list("object_id", flat=True)) == {deployment.pk}


def test_starting_a_window_before_its_time_tells_the_plans_people(
    frozen, team, planner, engineer, approver
):
    plan = _plan(team, planner, rollback_plan="Reinstall the previous kernel.")
    deployment = plan.milestones.get(name="deployment")
    factories.TaskFactory(plan=plan, milestone=deployment, assignee=engineer)
    on_time = factories.WindowFactory(
        plan=plan, milestone=deployment, starts_at=NOW - timedelta(minutes=1)
    )
    early = factories.WindowFactory(
        plan=plan, milestone=deployment, starts_at=NOW + timedelta(hours=2)
    )
    _approve(plan, planner, approver)
    _sign_off_testing(plan, planner, approver)
    signoff_services.signoff_give(
        milestone=deployment,
        by=approver,
        decision=SignOffDecision.APPROVE,
        stage=SignOffStage.ENTRY,
    )
    execution_services.window_start(window=on_time, by=engineer)
    assert not _rows(Kind.WORK_STARTED_EARLY).exists()
    # Two hours early: refused unless confirmed, and nobody hears of a refusal.
    with pytest.raises(ValidationError) as refused:
        execution_services.window_start(window=early, by=engineer)
    assert refused.value.code == "early"
    assert not _rows(Kind.WORK_STARTED_EARLY).exists()
    execution_services.window_start(window=early, by=engineer, confirm_early=True)
    assert set(_rows(Kind.WORK_STARTED_EARLY).values_list("recipient", flat=True)) == {planner.pk}


def test_review_by_reminds_the_owner_seven_days_before_and_on_the_day_once_each(
    frozen, team, planner
):
    team.time_zone = "Europe/Berlin"
    team.save()
    template = _plan(team, planner, title="monthly cycle")
    Plan.objects.filter(pk=template.pk).update(is_template=True, review_by=date(2026, 12, 10))
    # Thu 3 Dec, 07:30 Berlin: before 08:00, nothing yet.
    assert scans.scan_reviews(datetime(2026, 12, 3, 6, 30, tzinfo=UTC)) == 0
    assert scans.scan_reviews(NOW) == 1
    assert scans.scan_reviews(NOW + timedelta(hours=5)) == 0
    # Days in between: nothing new; on the day, the second one.
    assert scans.scan_reviews(NOW + timedelta(days=3)) == 0
    assert scans.scan_reviews(NOW + timedelta(days=7)) == 1
    assert scans.scan_reviews(NOW + timedelta(days=8)) == 0
    assert sorted(_rows(Kind.REVIEW_DUE).values_list("occurrence", flat=True)) == [
        "2026-12-10|0d",
        "2026-12-10|7d",
    ]
    assert set(_rows(Kind.REVIEW_DUE).values_list("recipient", flat=True)) == {planner.pk}


# --- recurring plans ----------------------------------------------------------------


def _template(team, planner):
    template = plan_services.plan_create(
        team=team,
        title="Debian point release",
        owner=planner,
        by=planner,
        default_milestones=False,
        is_template=True,
    )
    plan_services.milestone_add(
        plan=template,
        name="testing",
        by=planner,
        starts_on=date(2026, 1, 13),
        due_on=date(2026, 1, 14),
    )
    plan_services.milestone_add(
        plan=template,
        name="deployment",
        by=planner,
        starts_on=date(2026, 1, 20),
        due_on=date(2026, 1, 20),
    )
    return template


def test_rules_monthly_nth_weekday_day_of_month_and_weekly(team, planner):
    template = _template(team, planner)
    make = schedule_services.schedule_create
    second_tuesday = make(
        template=template,
        frequency=Frequency.MONTHLY_WEEKDAY,
        weekday=1,
        week_of_month=2,
        starts_on=date(2026, 12, 1),
        by=planner,
    )
    assert second_tuesday.dates(date(2026, 12, 1), date(2027, 3, 1)) == [
        date(2026, 12, 8),
        date(2027, 1, 12),
        date(2027, 2, 9),
    ]
    assert str(second_tuesday.describe()) == "every month, second Tuesday"
    the_31st = make(
        template=template,
        frequency=Frequency.MONTHLY_DAY,
        day_of_month=31,
        starts_on=date(2027, 1, 1),
        by=planner,
    )
    # Months without a 31st are skipped, not moved.
    assert the_31st.dates(date(2027, 1, 1), date(2027, 4, 30)) == [
        date(2027, 1, 31),
        date(2027, 3, 31),
    ]
    weekly = make(
        template=template,
        frequency=Frequency.WEEKLY,
        weekday=4,
        starts_on=date(2026, 12, 1),
        by=planner,
    )
    assert weekly.dates(date(2026, 12, 1), date(2026, 12, 14)) == [
        date(2026, 12, 4),
        date(2026, 12, 11),
    ]


def test_bad_schedules_are_refused_at_the_field(team, planner, viewer):
    template = _template(team, planner)
    plain = _plan(team, planner)
    cases = [
        ({"template": plain, "frequency": Frequency.WEEKLY, "weekday": 1}, "template"),
        ({"template": template, "frequency": Frequency.WEEKLY}, "weekday"),
        (
            {
                "template": template,
                "frequency": Frequency.MONTHLY_WEEKDAY,
                "weekday": 1,
                "week_of_month": 7,
            },
            "week_of_month",
        ),
        (
            {"template": template, "frequency": Frequency.MONTHLY_DAY, "day_of_month": 32},
            "day_of_month",
        ),
        (
            {"template": template, "frequency": Frequency.WEEKLY, "weekday": 1, "owner": viewer},
            "owner",
        ),
    ]
    for kwargs, field in cases:
        with pytest.raises(ValidationError) as caught:
            schedule_services.schedule_create(starts_on=date(2026, 12, 1), by=planner, **kwargs)
        assert field in caught.value.message_dict, (field, caught.value.message_dict)
    assert not template.schedules.exists()


def test_an_occurrence_becomes_a_plan_placed_on_its_date_and_its_owner_hears(frozen, team, planner):
    from plans.services import tasks as task_services
    from plans.services import windows as window_services

    template = _template(team, planner)
    # A task and a window in the template: they move with the timeline.
    task_services.task_create(
        plan=template,
        title="Snapshot the VMs",
        by=planner,
        milestone=template.milestones.get(name="testing"),
        due_on=date(2026, 1, 14),
    )
    night = datetime(2026, 1, 20, 2, 0, tzinfo=team.tzinfo)  # a Tuesday, 02:00 team time
    window_services.window_create(
        plan=template,
        starts_at=night,
        ends_at=night + timedelta(hours=2),
        by=planner,
        title="Production night",
        milestone=template.milestones.get(name="deployment"),
        downtimes={},
    )
    schedule_services.schedule_create(
        template=template,
        frequency=Frequency.MONTHLY_WEEKDAY,
        weekday=1,
        week_of_month=2,
        starts_on=date(2026, 12, 1),
        lead_days=14,
        by=planner,
    )
    assert schedule_services.schedules_run(now=NOW) == 1
    plan = Plan.objects.get(title="Debian point release 2026-12-08")
    assert plan.status == PlanStatus.DRAFT and not plan.is_template and plan.owner == planner
    # The timeline moved as a whole: it starts on the occurrence date.
    assert list(plan.milestones.order_by("position").values_list("starts_on", "due_on")) == [
        (date(2026, 12, 8), date(2026, 12, 9)),
        (date(2026, 12, 15), date(2026, 12, 15)),
    ]
    # Its task by the same number of days; its window to the same weekday and
    # time of day (team's zone), a week after the occurrence as in the template.
    assert plan.tasks.get(title="Snapshot the VMs").due_on == date(2026, 12, 9)
    window = plan.windows.get(title="Production night")
    assert window.starts_at == datetime(2026, 12, 15, 2, 0, tzinfo=team.tzinfo)
    assert window.ends_at - window.starts_at == timedelta(hours=2)
    assert AuditEvent.objects.filter(plan=plan, field="schedule", action="created").exists()
    row = _rows(Kind.PLAN_SCHEDULED).get()
    assert row.recipient == planner and row.object_id == plan.pk
    services.notification_deliver(notification_id=row.pk)
    [message] = mail.outbox
    assert message.subject == "New plan from a schedule: Debian point release 2026-12-08"
    assert "every month, second Tuesday" in message.body
    assert "<strong>Debian point release 2026-12-08</strong>" in message.alternatives[0][0]
    # Again the same minute, or the next day: nothing new.
    assert schedule_services.schedules_run(now=NOW) == 0
    assert schedule_services.schedules_run(now=NOW + timedelta(days=1)) == 0
    # Four weeks on, January's is within its lead days.
    assert schedule_services.schedules_run(now=NOW + timedelta(days=28)) == 1
    assert Plan.objects.filter(title="Debian point release 2027-01-12").exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.services
def test_two_scans_racing_create_one_plan_and_one_review_reminder(
    require_postgres, celery_queue, team, planner, monkeypatch
):
    with time_machine.travel(NOW, tick=False):
        template = _template(team, planner)
        Plan.objects.filter(pk=template.pk).update(review_by=date(2026, 12, 10))
        schedule_services.schedule_create(
            template=template,
            frequency=Frequency.MONTHLY_WEEKDAY,
            weekday=1,
            week_of_month=2,
            starts_on=date(2026, 12, 1),
            by=planner,
        )
        start = threading.Barrier(2)
        results, errors = [], []
        # Both scans pass the "already there?" read before either inserts:
        # they meet here, then race for the occurrence row itself, where
        # only the unique (schedule, date) key can keep them from two plans.
        both_inserting = threading.Barrier(2)
        attempts = []
        real_get_or_create = PlanOccurrence.objects.get_or_create

        def racing_get_or_create(**kwargs):
            attempts.append(kwargs["occurs_on"])
            both_inserting.wait(timeout=10)
            return real_get_or_create(**kwargs)

        monkeypatch.setattr(PlanOccurrence.objects, "get_or_create", racing_get_or_create)

        def scan():
            try:
                start.wait(timeout=10)
                results.append(services.notifications_scan(now=NOW))
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=scan) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert not errors, errors
    assert attempts == [date(2026, 12, 8)] * 2  # the race happened
    assert sorted(r["occurrences"] for r in results) == [0, 1]
    assert PlanOccurrence.objects.count() == 1
    assert Plan.objects.filter(created_from=template).count() == 1
    assert _rows(Kind.PLAN_SCHEDULED).count() == 1
    assert _rows(Kind.REVIEW_DUE).count() == 1
    assert _rows(Kind.REVIEW_DUE, status=Status.PENDING).exists()


def test_a_schedule_that_cannot_make_its_plan_stops_no_other_notification(
    frozen, team, planner, engineer, caplog
):
    """The schedule's owner left the team: its plan cannot be made (the import
    refuses an owner from outside). The scan says why in the log and goes on:
    the window reminders and the delivery queue of everyone else do not wait
    on it, and the occurrence is tried again once the owner is back."""
    from patchplan.teams.models import Membership

    from .helpers import make_window_world

    template = _template(team, planner)
    schedule_services.schedule_create(
        template=template,
        frequency=Frequency.MONTHLY_WEEKDAY,
        weekday=1,
        week_of_month=2,
        starts_on=date(2026, 12, 1),
        by=planner,
    )
    make_window_world(
        team, owner=engineer, engineer=engineer, starts_in=timedelta(hours=24, minutes=-1)
    )
    membership = Membership.objects.get(user=planner, team=team)
    membership.delete()

    figures = services.notifications_scan(now=NOW)
    assert figures["windows"] == 1 and figures["occurrences"] == 0
    assert figures["queued"] == 1
    assert not PlanOccurrence.objects.exists()
    assert "Debian point release" in caplog.text and "not a member" in caplog.text

    Membership.objects.create(user=planner, team=team, role=membership.role)
    assert services.notifications_scan(now=NOW + timedelta(minutes=1))["occurrences"] == 1
    assert PlanOccurrence.objects.get().plan.title == "Debian point release 2026-12-08"


def test_a_review_date_set_inside_the_week_says_how_many_days_are_left(frozen, team, planner):
    """The 7-day reminder of a date set only 3 days ahead goes out at once and
    says 3 days (not 7); a date set for today, before 08:00, waits for the
    on-the-day reminder instead of sending two the same morning."""
    team.time_zone = "Europe/Berlin"
    team.save()
    soon = _plan(team, planner, title="soon")
    tomorrow = _plan(team, planner, title="tomorrow")
    today = _plan(team, planner, title="today")
    Plan.objects.filter(pk=soon.pk).update(review_by=date(2026, 12, 6))
    Plan.objects.filter(pk=tomorrow.pk).update(review_by=date(2026, 12, 4))
    Plan.objects.filter(pk=today.pk).update(review_by=date(2026, 12, 3))
    # Thu 3 Dec, 07:30 Berlin: the two coming dates are told now; today's waits.
    early = datetime(2026, 12, 3, 6, 30, tzinfo=UTC)
    assert scans.scan_reviews(early) == 2
    assert scans.scan_reviews(NOW) == 1  # 10:00: today's, once
    subjects = {}
    for row in _rows(Kind.REVIEW_DUE):
        services.notification_deliver(notification_id=row.pk)
        subjects[row.object_id] = mail.outbox[-1].subject
    assert subjects == {
        soon.pk: "Review in 3 days: soon",
        tomorrow.pk: "Review in 1 day: tomorrow",
        today.pk: "Review due today: today",
    }

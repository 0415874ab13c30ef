"""The dashboard's cards: my next windows, milestones waiting for my sign-off,
plans I own with their state, recent activity on my plans, undelivered
notifications for team admins; access and query budgets at two sizes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from patchplan.dashboard.selectors import milestones_awaiting_my_signoff, recent_activity
from patchplan.notifications.models import Kind, Notification, Status
from plans.choices import PlanStatus, Raci, SignOffDecision
from plans.models import AuditEvent, Comment, Milestone, PlanRole, PlanStatusChange, SignOff, Task
from tests import factories

# "Now" is frozen for each test (at PATCHPLAN_TEST_CLOCK or the real instant):
# data placed relative to it and the code under test see the same instant.
pytestmark = pytest.mark.usefixtures("frozen_now")


@pytest.fixture
def plan(team, planner):
    return factories.PlanFactory(
        team=team, owner=planner, title="OpenSSL patch", status=PlanStatus.IN_REVIEW
    )


@pytest.fixture
def milestones(plan):
    first = factories.MilestoneFactory(
        plan=plan, name="assessment", position=0, signoff_roles=["approver"]
    )
    second = factories.MilestoneFactory(
        plan=plan, name="testing", position=1, signoff_roles=["approver"]
    )
    return first, second


def names(user, team):
    return [m.name for m in milestones_awaiting_my_signoff(user=user, team=team)]


# --- Sign-offs waiting for me -------------------------------------------------


def test_only_the_next_milestone_in_order_waits_for_sign_off(team, approver, milestones):
    assert names(approver, team) == ["assessment"]
    Milestone.objects.filter(pk=milestones[0].pk).update(signed_off_at=timezone.now())
    assert names(approver, team) == ["testing"]


def test_required_by_name_or_role_only(team, approver, engineer, admin, plan):
    named = factories.MilestoneFactory(plan=plan, name="named", position=0, signoff_roles=[])
    named.signoff_users.add(engineer)
    assert names(engineer, team) == ["named"]
    assert names(approver, team) == []  # neither named nor of a listed role
    # With neither set, anyone whose role may sign off.
    Milestone.objects.filter(pk=named.pk).update(signed_off_at=timezone.now())
    factories.MilestoneFactory(plan=plan, name="open", position=1, signoff_roles=[])
    assert names(approver, team) == ["open"]
    assert names(admin, team) == ["open"]
    assert names(engineer, team) == []  # engineers may not sign off


def test_my_decision_in_this_round_removes_it_until_a_new_round(team, approver, milestones):
    first = milestones[0]
    SignOff.objects.create(
        milestone=first, user=approver, round=1, decision=SignOffDecision.REJECT, comment="no"
    )
    assert names(approver, team) == []
    Milestone.objects.filter(pk=first.pk).update(signoff_round=2)
    assert names(approver, team) == ["assessment"]


def test_four_eyes_hides_my_own_plan(team, planner, plan):
    factories.MilestoneFactory(plan=plan, name="assessment", position=0, signoff_roles=["planner"])
    assert names(planner, team) == []
    team.four_eyes = False
    team.save()
    assert names(planner, team) == ["assessment"]


def test_ended_plans_and_templates_wait_for_nobody(team, approver, plan, planner, milestones):
    plan.status = PlanStatus.COMPLETED
    plan.save()
    template = factories.PlanFactory(team=team, owner=planner, is_template=True)
    factories.MilestoneFactory(plan=template, name="tpl", position=0, signoff_roles=["approver"])
    assert names(approver, team) == []


def test_signoff_card_on_the_page(client_for, approver, milestones):
    body = client_for(approver).get(reverse("dashboard")).content.decode()
    card = body[body.index('data-testid="my-signoffs"') :]
    assert "OpenSSL patch: assessment" in card.split("</ul>")[0]
    assert f"#milestone-{milestones[0].pk}" in card


def test_signoff_card_shows_the_round_and_an_overdue_due_date(client_for, approver, milestones):
    first = milestones[0]
    Milestone.objects.filter(pk=first.pk).update(
        signoff_round=2, due_on=timezone.localdate() - timedelta(days=1)
    )
    body = client_for(approver).get(reverse("dashboard")).content.decode()
    card = body[body.index('data-testid="my-signoffs"') :].split("</ul>")[0]
    assert "In review · round 2" in card
    assert '<span class="small overdue">overdue · due ' in card


# --- Windows, plans, activity, failed notifications --------------------------


def test_next_windows_are_mine_and_not_over(client_for, team, engineer, viewer, plan):
    m = factories.MilestoneFactory(plan=plan, name="deployment", position=0)
    now = timezone.now()
    mine = factories.WindowFactory(
        plan=plan,
        milestone=m,
        title="Mine soon",
        starts_at=now + timedelta(hours=5),
        ends_at=now + timedelta(hours=7),
    )
    factories.WindowFactory(
        plan=plan,
        milestone=m,
        title="Mine over",
        starts_at=now - timedelta(days=2),
        ends_at=now - timedelta(days=2, hours=-1),
    )
    factories.WindowFactory(
        plan=plan,
        milestone=m,
        title="Mine cancelled",
        starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=1, hours=1),
        cancelled_at=now,
    )
    Task.objects.create(plan=plan, milestone=m, title="Patch", assignee=engineer)
    body = client_for(engineer).get(reverse("dashboard")).content.decode()
    card = body[body.index('data-testid="next-windows"') :].split("</ul>")[0]
    assert "Mine soon" in card and "Mine over" not in card and "Mine cancelled" not in card
    assert reverse("window_detail", args=[mine.pk]) in card
    # Not involved: nothing.
    body = client_for(viewer).get(reverse("dashboard")).content.decode()
    assert "Mine soon" not in body
    PlanRole.objects.create(plan=plan, user=viewer, raci=Raci.INFORMED)
    assert "Mine soon" in client_for(viewer).get(reverse("dashboard")).content.decode()


def test_plans_i_own_show_progress_and_next_window(client_for, planner, plan, milestones):
    Milestone.objects.filter(pk=milestones[0].pk).update(signed_off_at=timezone.now())
    window = factories.WindowFactory(plan=plan)
    planner.time_zone = "Asia/Tokyo"
    planner.save()
    body = client_for(planner).get(reverse("dashboard")).content.decode()
    assert 'aria-label="1 of 2 milestones signed off"' in body
    # The time beside the plan's link is in the reader's zone, and the column says which.
    tokyo = window.starts_at.astimezone(timezone.get_fixed_timezone(9 * 60))
    assert "Next window (Asia/Tokyo)" in body
    assert f"{tokyo:%a} {tokyo.day} {tokyo:%b}, {tokyo:%H:%M}" in body


def test_activity_merges_status_changes_comments_and_audit_newest_first(team, planner, plan):
    now = timezone.now()
    PlanStatusChange.objects.create(
        plan=plan,
        from_status="draft",
        to_status="in_review",
        by=planner,
        at=now - timedelta(hours=3),
    )
    comment = Comment.objects.create(plan=plan, author=planner, body="Looks good")
    Comment.objects.filter(pk=comment.pk).update(created_at=now - timedelta(hours=1))
    AuditEvent.objects.create(
        plan=plan,
        object_type="plan",
        action="changed",
        field="title",
        new_value="OpenSSL patch",
        by=planner,
        at=now - timedelta(hours=2),
    )
    # Status moves are audited too: shown once.
    AuditEvent.objects.create(plan=plan, object_type="plan", action="status", field="status")
    items = recent_activity(user=planner, team=team)
    assert [i.kind for i in items] == ["comment", "audit", "status"]
    # The field as the form names it.
    assert items[1].text == "changed: Title → OpenSSL patch"
    assert items[2].text == "Draft → In review"


def test_activity_card_is_loaded_by_htmx(client_for, planner, plan):
    Comment.objects.create(plan=plan, author=planner, body="Window moved to Friday")
    client = client_for(planner)
    body = client.get(reverse("dashboard")).content.decode()
    assert f'hx-get="{reverse("dashboard_activity")}"' in body
    part = client.get(reverse("dashboard_activity")).content.decode()
    assert "Window moved to Friday" in part and "<html" not in part


def test_failed_notifications_are_shown_to_admins_only(client_for, team, admin, engineer):
    Notification.objects.create(
        recipient=engineer,
        team=team,
        kind=Kind.TASK_ASSIGNED,
        due_at=timezone.now(),
        status=Status.FAILED,
        last_error="550 mailbox unavailable",
        context={"title": "Task assigned: Patch"},
    )
    body = client_for(admin).get(reverse("dashboard")).content.decode()
    assert 'data-testid="failed-notifications"' in body
    assert "1 notification could not be delivered" in body
    assert "550 mailbox unavailable" in body
    body = client_for(engineer).get(reverse("dashboard")).content.decode()
    assert 'data-testid="failed-notifications"' not in body


def test_outsider_gets_nothing_of_another_team(
    client_for, team, outsider, approver, plan, milestones
):
    Comment.objects.create(plan=plan, author=approver, body="secret comment")
    factories.WindowFactory(plan=plan, title="secret window")
    Notification.objects.create(
        recipient=approver,
        team=team,
        kind=Kind.TASK_ASSIGNED,
        due_at=timezone.now(),
        status=Status.FAILED,
        context={"title": "secret failure"},
    )
    PlanRole.objects.create(plan=plan, user=outsider, raci=Raci.INFORMED)  # stale role
    client = client_for(outsider)
    body = client.get(reverse("dashboard")).content.decode()
    body += client.get(reverse("dashboard_activity")).content.decode()
    for secret in ("OpenSSL patch", "secret comment", "secret window", "secret failure"):
        assert secret not in body


def test_plans_due_for_review_are_listed_soonest_first(client_for, team, planner, viewer):
    with time_machine.travel(datetime(2026, 12, 3, 9, 0, tzinfo=UTC), tick=False):
        today = timezone.localdate()
        factories.PlanFactory(
            team=team, owner=planner, title="overdue review", review_by=today - timedelta(days=2)
        )
        factories.PlanFactory(
            team=team, owner=planner, title="cycle template", is_template=True, review_by=today
        )
        factories.PlanFactory(
            team=team, owner=planner, title="next week", review_by=today + timedelta(days=7)
        )
        factories.PlanFactory(
            team=team, owner=planner, title="far off", review_by=today + timedelta(days=8)
        )
        body = client_for(viewer).get(reverse("dashboard")).content.decode()
    card = body.split('data-testid="due-for-review"')[1].split("</ul>")[0]
    assert card.index("overdue review") < card.index("cycle template") < card.index("next week")
    assert "far off" not in card
    assert "(overdue)" in card and "(today)" in card and "Template" in card


# --- Query budgets -----------------------------------------------------------


def _grow(team, planner, approver, engineer, n):
    now = timezone.now()
    for i in range(n):
        p = factories.PlanFactory(
            team=team,
            owner=planner,
            status=PlanStatus.IN_PROGRESS,
            review_by=now.date() + timedelta(days=i % 8),
        )
        m = factories.MilestoneFactory(plan=p, name=f"m{i}", position=0, signoff_roles=["approver"])
        factories.WindowFactory(
            plan=p,
            milestone=m,
            starts_at=now + timedelta(days=i + 1),
            ends_at=now + timedelta(days=i + 1, hours=2),
        )
        Task.objects.create(plan=p, milestone=m, title=f"t{i}", assignee=engineer)
        PlanRole.objects.create(plan=p, user=approver, raci=Raci.CONSULTED)
        PlanStatusChange.objects.create(plan=p, from_status="draft", to_status="in_progress")
        Comment.objects.create(plan=p, author=planner, body=f"c{i}")
        AuditEvent.objects.create(plan=p, object_type="plan", action="changed", field="title")
        Notification.objects.create(
            recipient=engineer,
            team=team,
            kind=Kind.TASK_ASSIGNED,
            object_id=i,
            due_at=now,
            status=Status.FAILED,
        )


@pytest.mark.parametrize("size", [1, 30])
@pytest.mark.parametrize("who", ["admin", "planner", "approver", "engineer"])
def test_dashboard_uses_a_fixed_number_of_queries(
    request,
    client_for,
    team,
    admin,
    planner,
    approver,
    engineer,
    size,
    who,
    django_assert_max_num_queries,
):
    _grow(team, planner, approver, engineer, size)
    client = client_for(request.getfixturevalue(who))
    # session, user, memberships; my tasks, their checklists; my next windows; plans I
    # own; milestones for my sign-off; failed notifications and their count (admins);
    # plans due for review.
    with django_assert_max_num_queries(11):
        response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    # session, user, memberships; status changes, comments, audit events.
    with django_assert_max_num_queries(6):
        client.get(reverse("dashboard_activity"))

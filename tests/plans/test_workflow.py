"""The status workflow: every (from, to) pair for every role, exhaustively,
against the one table in plans/workflow.py."""

from __future__ import annotations

import itertools

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from patchplan.teams.roles import Role
from plans import workflow
from plans.choices import PlanStatus
from plans.models import Plan, PlanStatusChange
from plans.notify import events
from plans.services import plans as services
from tests import factories
from tests.pages import page_html

ROLES = list(Role.values)
PAIRS = [(a, b) for a, b in itertools.product(PlanStatus.values, repeat=2) if a != b]


@pytest.fixture
def people(team):
    """One member per role (none of them owns the plan, so four-eyes stays out of the way)."""
    out = {}
    for role in ROLES:
        user = factories.UserFactory(username=f"wf-{role}")
        factories.MembershipFactory(team=team, user=user, role=role)
        out[role] = user
    return out


@pytest.fixture
def calls(monkeypatch):
    seen = []

    def record(**kwargs):
        seen.append({**kwargs, "in_transaction": connection.in_atomic_block})

    monkeypatch.setattr(events, "plan_status_changed", record)
    return seen


def test_the_table_has_the_documented_path():
    path = [
        PlanStatus.DRAFT,
        PlanStatus.IN_REVIEW,
        PlanStatus.APPROVED,
        PlanStatus.IN_PROGRESS,
    ]
    for a, b in itertools.pairwise(path):
        assert workflow.allowed_roles(a, b), f"{a} -> {b} missing"
    # Completion is no move anyone makes: the review's sign-off completes a plan.
    assert not any(
        to in (PlanStatus.COMPLETED, PlanStatus.COMPLETED_EXC) for _f, to in workflow.TRANSITIONS
    )
    for end in workflow.FINAL:
        assert not any(frm == end for frm, _to in workflow.TRANSITIONS)
    assert Role.VIEWER not in set().union(*workflow.TRANSITIONS.values())


@pytest.mark.django_db
@pytest.mark.parametrize("from_status,to_status", PAIRS)
def test_every_move_for_every_role(team, planner, people, calls, from_status, to_status):
    allowed = workflow.allowed_roles(from_status, to_status)
    for role, user in people.items():
        plan = factories.PlanFactory(team=team, owner=planner, status=from_status)
        before = len(calls)
        if role in allowed:
            change = services.plan_transition(plan=plan, to_status=to_status, by=user)
            plan.refresh_from_db()
            assert plan.status == to_status, role
            assert (change.from_status, change.to_status, change.by) == (
                from_status,
                to_status,
                user,
            )
            assert change.at is not None
            assert len(calls) == before + 1
            assert calls[-1]["old_status"] == from_status
            assert calls[-1]["new_status"] == to_status
            assert calls[-1]["by"] == user
            assert calls[-1]["in_transaction"]
        else:
            expected = (
                PermissionDenied
                if (from_status, to_status) in workflow.TRANSITIONS
                else (ValidationError)
            )
            with pytest.raises(expected):
                services.plan_transition(plan=plan, to_status=to_status, by=user)
            plan.refresh_from_db()
            assert plan.status == from_status, role
            assert not PlanStatusChange.objects.filter(plan=plan).exists()
            assert len(calls) == before


@pytest.mark.django_db
def test_an_outsider_can_make_no_move(team, planner, outsider, calls):
    plan = factories.PlanFactory(team=team, owner=planner)
    with pytest.raises(PermissionDenied):
        services.plan_transition(plan=plan, to_status=PlanStatus.IN_REVIEW, by=outsider)
    assert Plan.objects.get(pk=plan.pk).status == PlanStatus.DRAFT


@pytest.mark.django_db
def test_four_eyes_stops_the_owner_approving_their_own_plan(team, admin, people, calls):
    plan = factories.PlanFactory(team=team, owner=admin, status=PlanStatus.IN_REVIEW)
    with pytest.raises(PermissionDenied):
        services.plan_transition(plan=plan, to_status=PlanStatus.APPROVED, by=admin)
    team.four_eyes = False
    team.save()
    plan = Plan.objects.get(pk=plan.pk)
    services.plan_transition(plan=plan, to_status=PlanStatus.APPROVED, by=admin)
    assert Plan.objects.get(pk=plan.pk).status == PlanStatus.APPROVED


@pytest.mark.django_db
def test_a_stale_status_is_refused(team, planner, calls):
    plan = factories.PlanFactory(team=team, owner=planner)
    Plan.objects.filter(pk=plan.pk).update(status=PlanStatus.CANCELLED)
    with pytest.raises(ValidationError):
        services.plan_transition(plan=plan, to_status=PlanStatus.IN_REVIEW, by=planner)
    assert not PlanStatusChange.objects.exists()


@pytest.mark.django_db
def test_nobody_completes_a_plan_by_hand(team, planner, approver, calls):
    plan = factories.PlanFactory(team=team, owner=planner, status=PlanStatus.IN_PROGRESS)
    for person in (planner, approver):
        with pytest.raises(ValidationError, match="review is signed off"):
            services.plan_transition(plan=plan, to_status=PlanStatus.COMPLETED, by=person)
    assert Plan.objects.get(pk=plan.pk).status == PlanStatus.IN_PROGRESS


@pytest.mark.django_db
def test_status_view_moves_and_records(client_for, team, planner, approver, viewer, outsider):
    plan = factories.PlanFactory(team=team, owner=planner)
    url = f"/plans/{plan.pk}/status/"
    assert client_for(outsider).post(url, {"to_status": "in_review"}).status_code == 404
    assert client_for(viewer).post(url, {"to_status": "in_review"}).status_code == 403
    assert client_for(approver).post(url, {"to_status": "in_review"}).status_code == 403
    response = client_for(planner).post(url, {"to_status": "in_review", "note": "ready"})
    assert response.status_code == 302
    response = client_for(approver).post(url, {"to_status": "approved"})
    assert Plan.objects.get(pk=plan.pk).status == PlanStatus.APPROVED
    page = page_html(client_for(planner), f"/plans/{plan.pk}/")
    assert "Approved" in page
    # The note is in the activity feed, which the page loads by htmx.
    feed = client_for(planner).get(f"/plans/{plan.pk}/activity/").content.decode()
    assert "ready" in feed and "Approved" in feed
    assert list(
        PlanStatusChange.objects.filter(plan=plan).values_list("to_status", "by__username")
    ) == [("in_review", planner.username), ("approved", approver.username)]


@pytest.mark.django_db
def test_status_view_refuses_an_unknown_status(client_for, team, planner):
    plan = factories.PlanFactory(team=team, owner=planner)
    client_for(planner).post(f"/plans/{plan.pk}/status/", {"to_status": "bogus"})
    assert Plan.objects.get(pk=plan.pk).status == PlanStatus.DRAFT

"""RACI roles: one accountable person (the owner by default) and the matrix page."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from plans.choices import Raci
from plans.models import PlanRole
from plans.services import raci as services
from tests import factories


@pytest.fixture
def plan(team, planner):
    return factories.PlanFactory(team=team, owner=planner, title="OpenSSL patch")


def test_owner_becomes_accountable_when_nobody_is(plan, planner):
    role = services.planrole_ensure_accountable(plan=plan)
    assert (role.user, role.raci) == (planner, Raci.ACCOUNTABLE)
    assert services.planrole_ensure_accountable(plan=plan) == role


def test_making_someone_accountable_moves_the_role(plan, planner, approver):
    services.planrole_ensure_accountable(plan=plan)
    services.planrole_assign(plan=plan, user=approver, raci=Raci.ACCOUNTABLE, by=planner)
    assert list(PlanRole.objects.filter(raci=Raci.ACCOUNTABLE).values_list("user", flat=True)) == [
        approver.pk
    ]


def test_giving_another_role_first_creates_the_owners_accountable_role(plan, planner, engineer):
    services.planrole_assign(plan=plan, user=engineer, raci=Raci.CONSULTED, by=planner)
    assert set(PlanRole.objects.values_list("user", "raci")) == {
        (engineer.pk, Raci.CONSULTED),
        (planner.pk, Raci.ACCOUNTABLE),
    }


def test_the_database_refuses_two_accountable_people(plan, planner, approver):
    services.planrole_ensure_accountable(plan=plan)
    with pytest.raises(IntegrityError), transaction.atomic():
        PlanRole.objects.create(plan=plan, user=approver, raci=Raci.ACCOUNTABLE)


def test_the_accountable_role_cannot_be_removed(plan, planner):
    role = services.planrole_ensure_accountable(plan=plan)
    with pytest.raises(ValidationError):
        services.planrole_remove(role=role, by=planner)
    assert PlanRole.objects.filter(pk=role.pk).exists()


def test_another_teams_person_gets_no_role(plan, planner, outsider):
    with pytest.raises(ValidationError):
        services.planrole_assign(plan=plan, user=outsider, raci=Raci.INFORMED, by=planner)
    assert not PlanRole.objects.exists()


def test_matrix_shows_people_by_milestones_and_tasks(client_for, plan, planner, engineer, viewer):
    testing = factories.MilestoneFactory(plan=plan, name="testing", position=1)
    factories.TaskFactory(plan=plan, milestone=testing, title="Run tests", assignee=engineer)
    services.planrole_assign(plan=plan, user=viewer, raci=Raci.INFORMED, by=planner)
    response = client_for(viewer).get(reverse("plan_raci", args=[plan.pk]))
    assert response.status_code == 200
    rows = {r["person"].username: r["cells"] for r in response.context["rows"]}
    columns = [c["label"] for c in response.context["columns"]]
    assert columns == ["testing", "Run tests"]
    assert rows["erin-engineer"] == ["R", "R"]
    assert rows["paul-planner"] == ["A", "A"]
    assert rows["vera-viewer"] == ["I", "I"]


def test_matrix_shows_the_owner_accountable_before_any_role_exists(client_for, plan, viewer):
    response = client_for(viewer).get(reverse("plan_raci", args=[plan.pk]))
    assert "Accountable (owner)" in response.content.decode()
    assert not PlanRole.objects.exists()  # nothing written on GET


def test_planner_gives_a_role_through_the_page(client_for, plan, planner, engineer):
    response = client_for(planner).post(
        reverse("plan_raci", args=[plan.pk]), {"user": engineer.pk, "raci": "responsible"}
    )
    assert response.status_code == 302
    assert PlanRole.objects.filter(user=engineer, raci="responsible").exists()


def test_posting_another_teams_person_is_refused(client_for, plan, planner, outsider):
    response = client_for(planner).post(
        reverse("plan_raci", args=[plan.pk]), {"user": outsider.pk, "raci": "informed"}
    )
    assert response.status_code == 400 and not PlanRole.objects.exists()


@pytest.mark.parametrize("who, status", [("engineer", 403), ("viewer", 403), ("outsider", 404)])
def test_only_planners_change_roles(client_for, plan, planner, engineer, request, who, status):
    role = services.planrole_assign(plan=plan, user=engineer, raci=Raci.CONSULTED, by=planner)
    client = client_for(request.getfixturevalue(who))
    post = client.post(
        reverse("plan_raci", args=[plan.pk]), {"user": engineer.pk, "raci": "informed"}
    )
    assert post.status_code == status
    assert client.post(reverse("planrole_remove", args=[role.pk])).status_code == status
    assert PlanRole.objects.count() == 2


def test_raci_page_queries_do_not_grow(
    client_for, plan, planner, engineer, django_assert_max_num_queries
):
    client = client_for(planner)
    client.get(reverse("plan_raci", args=[plan.pk]))  # warm the session
    # session, user, memberships, plan, roles, milestones, tasks, form's member list
    with django_assert_max_num_queries(9):
        client.get(reverse("plan_raci", args=[plan.pk]))
    for i in range(5):
        m = factories.MilestoneFactory(plan=plan, name=f"m{i}", position=i)
        for j in range(10):
            factories.TaskFactory(plan=plan, milestone=m, title=f"t{i}{j}", assignee=engineer)
    with django_assert_max_num_queries(9):
        client.get(reverse("plan_raci", args=[plan.pk]))

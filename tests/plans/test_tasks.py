"""Tasks: services, pages, in-place status/assignee (htmx), checklists, My tasks."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from plans.choices import TaskStatus
from plans.models import ChecklistItem, Task
from plans.services import tasks as services
from tests import factories

# "Now" is frozen for each test (at PATCHPLAN_TEST_CLOCK or the real instant):
# data placed relative to it and the code under test see the same instant.
pytestmark = pytest.mark.usefixtures("frozen_now")

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def assigned(monkeypatch):
    seen = []
    monkeypatch.setattr(
        services.events,
        "task_assigned",
        lambda **kw: seen.append(
            (kw["task"].pk, kw["task"].assignee_id, kw["by"], connection.in_atomic_block)
        ),
    )
    return seen


@pytest.fixture
def plan(team, planner):
    return factories.PlanFactory(team=team, owner=planner, title="OpenSSL patch")


@pytest.fixture
def task(plan, engineer, planner, assigned):
    return services.task_create(
        plan=plan,
        title="Patch web-01",
        assignee=engineer,
        checklist=["Snapshot", "Patch"],
        by=planner,
    )


def test_task_create_with_checklist_notifies_the_assignee_inside_the_transaction(
    task, engineer, planner, assigned
):
    assert list(task.checklist.values_list("text", flat=True)) == ["Snapshot", "Patch"]
    assert assigned == [(task.pk, engineer.pk, planner, True)]


def test_task_assignee_must_be_a_team_member(plan, planner, outsider, assigned):
    with pytest.raises(ValidationError) as exc:
        services.task_create(plan=plan, title="x", assignee=outsider, by=planner)
    assert "assignee" in exc.value.message_dict
    assert not Task.objects.exists() and assigned == []


def test_task_update_keeps_ticks_of_kept_lines_and_refuses_stale_versions(
    task, planner, engineer, assigned
):
    ChecklistItem.objects.filter(text="Snapshot").update(done=True)
    services.task_update(
        task=task,
        version=1,
        title="Patch web-01",
        assignee=engineer,
        checklist=["Snapshot", "Verify"],
        by=planner,
    )
    assert list(task.checklist.values_list("text", "done")) == [
        ("Snapshot", True),
        ("Verify", False),
    ]
    assert len(assigned) == 1  # same assignee: nobody told again
    with pytest.raises(services.StaleEdit):
        services.task_update(task=task, version=1, title="Old tab", by=planner)
    task.refresh_from_db()
    assert task.title == "Patch web-01"


def test_task_assign_tells_the_new_assignee(task, planner, approver, assigned):
    services.task_assign(task=task, assignee=approver, by=planner)
    assert assigned[-1][:2] == (task.pk, approver.pk)


def test_engineer_changes_status_of_their_task_in_place(client_for, task, engineer):
    response = client_for(engineer).post(
        reverse("task_status", args=[task.pk]), {"status": "in_progress", "mode": "plan"}, **HTMX
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.startswith(f'<tr id="task-{task.pk}"') and 'data-status="in_progress"' in body
    task.refresh_from_db()
    assert task.status == TaskStatus.IN_PROGRESS


def test_engineer_may_not_change_someone_elses_task(client_for, plan, planner, engineer, assigned):
    theirs = services.task_create(plan=plan, title="Planner's", assignee=planner, by=planner)
    response = client_for(engineer).post(
        reverse("task_status", args=[theirs.pk]), {"status": "done"}
    )
    assert response.status_code == 403
    theirs.refresh_from_db()
    assert theirs.status == TaskStatus.TODO


@pytest.mark.parametrize("who, status", [("viewer", 403), ("approver", 403), ("outsider", 404)])
def test_status_change_is_refused_to_others(client_for, task, request, who, status):
    response = client_for(request.getfixturevalue(who)).post(
        reverse("task_status", args=[task.pk]), {"status": "done"}
    )
    assert response.status_code == status
    task.refresh_from_db()
    assert task.status == TaskStatus.TODO


def test_planner_reassigns_in_place(client_for, task, planner, approver, assigned):
    response = client_for(planner).post(
        reverse("task_assign", args=[task.pk]), {"assignee": approver.pk}, **HTMX
    )
    assert response.status_code == 200
    task.refresh_from_db()
    assert task.assignee == approver and assigned[-1][1] == approver.pk


def test_reassigning_to_another_teams_person_is_refused(
    client_for, task, planner, engineer, outsider
):
    response = client_for(planner).post(
        reverse("task_assign", args=[task.pk]), {"assignee": outsider.pk}, **HTMX
    )
    assert response.status_code == 400
    task.refresh_from_db()
    assert task.assignee == engineer


def test_engineer_may_not_reassign(client_for, task, engineer, planner):
    response = client_for(engineer).post(
        reverse("task_assign", args=[task.pk]), {"assignee": planner.pk}
    )
    assert response.status_code == 403


def test_planner_creates_edits_and_deletes_tasks_through_pages(
    client_for, plan, planner, engineer, assigned
):
    client = client_for(planner)
    response = client.post(
        reverse("task_create", args=[plan.pk]),
        {"title": "Back up", "assignee": engineer.pk, "status": "todo", "checklist": "a\nb\n"},
    )
    assert response.status_code == 302
    task = Task.objects.get()
    assert task.checklist.count() == 2
    response = client.post(
        reverse("task_detail", args=[task.pk]),
        {"title": "Back up DB", "assignee": engineer.pk, "status": "blocked", "version": 1},
    )
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.title, task.status, task.checklist.count()) == ("Back up DB", "blocked", 0)
    assert client.post(reverse("task_delete", args=[task.pk])).status_code == 302
    assert not Task.objects.exists()


def test_task_form_refuses_another_teams_person(client_for, plan, planner, outsider):
    response = client_for(planner).post(
        reverse("task_create", args=[plan.pk]),
        {"title": "x", "assignee": outsider.pk, "status": "todo"},
    )
    assert response.status_code == 400 and not Task.objects.exists()


def test_stale_task_save_shows_current_values_and_keeps_input(client_for, task, planner, engineer):
    services.task_update(task=task, version=1, title="Theirs", assignee=engineer, by=planner)
    response = client_for(planner).post(
        reverse("task_detail", args=[task.pk]),
        {"title": "Mine", "status": "todo", "version": 1, "assignee": engineer.pk},
    )
    body = response.content.decode()
    assert response.status_code == 409 and "Theirs" in body and 'value="Mine"' in body


@pytest.mark.parametrize("who, status", [("engineer", 403), ("viewer", 403), ("outsider", 404)])
def test_only_planners_create_or_edit_tasks(client_for, task, plan, request, who, status):
    client = client_for(request.getfixturevalue(who))
    assert (
        client.post(
            reverse("task_create", args=[plan.pk]), {"title": "x", "status": "todo"}
        ).status_code
        == status
    )
    assert (
        client.post(
            reverse("task_detail", args=[task.pk]), {"title": "x", "status": "todo", "version": 1}
        ).status_code
        == status
    )
    assert client.post(reverse("task_delete", args=[task.pk])).status_code == status
    assert Task.objects.get().title == "Patch web-01"


def test_assignee_ticks_a_checklist_line_in_place(client_for, task, engineer):
    item = task.checklist.get(text="Snapshot")
    response = client_for(engineer).post(
        reverse("checklist_toggle", args=[item.pk]), {"done": "1"}, **HTMX
    )
    assert response.status_code == 200 and "✓ Done" in response.content.decode()
    item.refresh_from_db()
    assert item.done


def test_viewer_cannot_tick_a_checklist_line(client_for, task, viewer):
    item = task.checklist.first()
    assert (
        client_for(viewer)
        .post(reverse("checklist_toggle", args=[item.pk]), {"done": "1"})
        .status_code
        == 403
    )
    item.refresh_from_db()
    assert not item.done


# --- My tasks ----------------------------------------------------------------


def test_my_tasks_lists_open_tasks_across_teams_due_soonest_first_overdue_marked(
    client_for, plan, planner, engineer, other_team, assigned
):
    today = timezone.localdate()
    services.task_create(
        plan=plan, title="Later", assignee=engineer, due_on=today + timedelta(days=5), by=planner
    )
    services.task_create(
        plan=plan, title="Late", assignee=engineer, due_on=today - timedelta(days=1), by=planner
    )
    services.task_create(plan=plan, title="Undated", assignee=engineer, by=planner)
    services.task_create(
        plan=plan, title="Finished", assignee=engineer, status=TaskStatus.DONE, by=planner
    )
    services.task_create(plan=plan, title="Not mine", assignee=planner, by=planner)
    factories.MembershipFactory(team=other_team, user=engineer)
    other_plan = factories.PlanFactory(team=other_team, owner=engineer, title="Red plan")
    services.task_create(
        plan=other_plan, title="Red task", assignee=engineer, due_on=today, by=engineer
    )
    body = client_for(engineer).get(reverse("my_tasks")).content.decode()
    order = [body.index(t) for t in ("Late", "Red task", "Later", "Undated")]
    assert order == sorted(order)
    assert "Finished" not in body and "Not mine" not in body
    assert "Overdue" in body


def test_status_change_from_my_tasks_returns_my_tasks_row(client_for, task, engineer):
    response = client_for(engineer).post(
        reverse("task_status", args=[task.pk]), {"status": "done", "mode": "mine"}, **HTMX
    )
    assert response.status_code == 200 and "OpenSSL patch" in response.content.decode()


def test_dashboard_card_lists_my_open_tasks(client_for, task, engineer):
    body = client_for(engineer).get(reverse("dashboard")).content.decode()
    assert "Patch web-01" in body


def test_my_tasks_needs_login(client):
    assert client.get(reverse("my_tasks")).status_code == 302


def test_outsider_sees_none_of_the_teams_tasks(client_for, task, outsider):
    client = client_for(outsider)
    assert "Patch web-01" not in client.get(reverse("my_tasks")).content.decode()
    assert client.get(reverse("task_detail", args=[task.pk])).status_code == 404


def test_planner_deletes_a_task_from_the_plan_page_row(client_for, task, planner):
    response = client_for(planner).post(reverse("task_delete", args=[task.pk]), **HTMX)
    assert response.status_code == 200 and response.content == b""
    assert not Task.objects.exists()


def test_assignee_sets_status_on_the_task_page(client_for, task, engineer):
    response = client_for(engineer).post(
        reverse("task_status", args=[task.pk]), {"status": "blocked", "mode": "task"}
    )
    assert response.status_code == 302 and response["Location"] == reverse(
        "task_detail", args=[task.pk]
    )
    task.refresh_from_db()
    assert task.status == TaskStatus.BLOCKED


def test_planner_hands_a_task_on_from_my_tasks(client_for, plan, planner, engineer, assigned):
    mine = services.task_create(plan=plan, title="Planner's task", assignee=planner, by=planner)
    client = client_for(planner)
    assert "Assignee of Planner&#39;s task" in client.get(reverse("my_tasks")).content.decode()
    response = client.post(
        reverse("task_assign", args=[mine.pk]), {"assignee": engineer.pk, "mode": "mine"}, **HTMX
    )
    assert response.status_code == 200 and "OpenSSL patch" in response.content.decode()
    mine.refresh_from_db()
    assert mine.assignee == engineer


def test_a_stale_save_does_not_bring_a_deleted_task_back(client_for, task, planner, engineer):
    url = reverse("task_detail", args=[task.pk])
    client = client_for(planner)
    client.get(url)
    Task.objects.filter(pk=task.pk).delete()
    response = client.post(url, {"title": "Mine", "status": "todo", "version": 1})
    assert response.status_code == 404
    assert not Task.objects.exists()

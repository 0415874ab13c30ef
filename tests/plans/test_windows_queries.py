"""Query budgets: the schedule pieces of the plan page and My tasks do not grow with
the number of windows, servers, tasks or checklist lines."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse

from plans.models import ChecklistItem, Task, WindowServer
from tests import factories

BERLIN = ZoneInfo("Europe/Berlin")
PIECES = Template(
    "{% load plans_schedule %}{% plan_timeline plan %}{% plan_windows plan %}{% plan_tasks plan %}"
)


def grow(plan, team, *, windows: int, tasks: int, assignee, servers: int = 10):
    hosts = [factories.ServerFactory(team=team) for _ in range(servers)]
    plan.servers.add(*hosts)
    start = datetime(2030, 1, 1, 23, tzinfo=BERLIN)
    for i in range(windows):
        m = factories.MilestoneFactory(plan=plan, name=f"phase {i}", position=i)
        w = factories.WindowFactory(
            plan=plan,
            milestone=m,
            starts_at=start + timedelta(days=i),
            ends_at=start + timedelta(days=i, hours=2),
        )
        WindowServer.objects.bulk_create(WindowServer(window=w, server=h) for h in hosts)
    made = Task.objects.bulk_create(
        Task(plan=plan, title=f"task {i}", assignee=assignee, due_on=start.date())
        for i in range(tasks)
    )
    ChecklistItem.objects.bulk_create(
        ChecklistItem(task=t, text="line") for t in made for _ in range(2)
    )


def render(plan, user):
    request = RequestFactory().get("/")
    request.user = user
    return PIECES.render(Context({"plan": plan, "request": request}))


@pytest.mark.parametrize("size", [(1, 2), (20, 300)])
def test_plan_page_pieces_use_a_fixed_number_of_queries(
    team, planner, engineer, size, django_assert_max_num_queries
):
    windows, tasks = size
    plan = factories.PlanFactory(team=team, owner=planner)
    grow(plan, team, windows=windows, tasks=tasks, assignee=engineer)
    plan = type(plan).objects.select_related("team").get(pk=plan.pk)
    render(plan, planner)  # memberships cached on the user
    # timeline: milestones, windows (2); windows card: windows, window servers, then the
    # checks' team windows, off-peak, freezes (5: the checks reuse the windows read);
    # tasks card: members, milestones, the first page of tasks with their checklist
    # counts and the count of all (3).
    with django_assert_max_num_queries(10):
        html = render(plan, planner)
    # The first 50 rows; the rest come as the user scrolls.
    assert html.count('<tr id="task-') == min(tasks, 50)
    assert html.count('<tr id="window-') == windows


@pytest.mark.parametrize("tasks", [2, 300])
def test_my_tasks_uses_a_fixed_number_of_queries(
    client_for, team, planner, engineer, tasks, django_assert_max_num_queries
):
    plan = factories.PlanFactory(team=team, owner=planner)
    grow(plan, team, windows=0, tasks=tasks, assignee=engineer, servers=0)
    client = client_for(engineer)
    # session, user, memberships, tasks (with plan, milestone and checklist counts)
    with django_assert_max_num_queries(4):
        response = client.get(reverse("my_tasks"))
    assert response.content.decode().count('id="task-') == tasks


@pytest.mark.parametrize("tasks", [2, 300])
def test_dashboard_my_tasks_card_uses_a_fixed_number_of_queries(
    client_for, team, planner, engineer, tasks, django_assert_max_num_queries
):
    plan = factories.PlanFactory(team=team, owner=planner)
    grow(plan, team, windows=0, tasks=tasks, assignee=engineer, servers=0)
    client = client_for(engineer)
    client.get(reverse("dashboard"))
    # session, user, memberships, my tasks (with counts), next windows, my plans, and the
    # page chrome's unread-notification count: the same at 2 and 300 tasks.
    with django_assert_max_num_queries(8):
        client.get(reverse("dashboard"))

"""The plan page at the reference size (200 servers, 10 milestones, 20 windows, 300
tasks, 200 comments) with a 50-member team: the first 50 tasks and servers, the rest as
the user scrolls; the in-place pickers get their options from the page's one copy; the
task filters. Screenshots: var/screenshots/plan-page-reference-size*.png."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from patchplan.teams.roles import Role
from plans.models import Task
from tests import factories
from tests.plans.test_plan_queries import LARGE, build_plan

pytestmark = pytest.mark.django_db(transaction=True)


def test_planner_works_the_reference_size_plan_page(
    page, live_server, login, shot, team, planner, engineer, approver
):
    crew = [
        factories.MembershipFactory(
            team=team,
            user=factories.UserFactory(first_name="Crew", last_name=f"{i:02d}"),
            role=Role.ENGINEER,
        ).user
        for i in range(47)
    ]
    plan = build_plan(team, planner, [planner, engineer, approver], **LARGE)
    login(page, planner)
    page.goto(f"{live_server.url}/plans/{plan.pk}/")
    rows = page.locator("#tasks tr[data-task-row]")
    expect(rows).to_have_count(50)
    expect(page.get_by_test_id("task-count")).to_contain_text("300 tasks")
    folder = shot(page, "plan-page-reference-size").parent
    # The two paged tables up close (the whole page is 15,000 pixels tall).
    page.locator("#tasks").screenshot(path=str(folder / "plan-page-reference-size-tasks.png"))
    page.locator("#scope").screenshot(path=str(folder / "plan-page-reference-size-scope.png"))
    # The Jinja2-rendered cards: timeline and milestones, windows.
    page.locator("#timeline-section").screenshot(
        path=str(folder / "plan-page-reference-size-timeline.png")
    )
    page.locator("#windows").screenshot(path=str(folder / "plan-page-reference-size-windows.png"))

    # Paging first (the reassignment below sets off the tasks card's live refresh, which
    # keeps the rows loaded: test_plan_tasks_live). Scrolling to the end of the table
    # brings the next 50.
    page.get_by_test_id("tasks-more").scroll_into_view_if_needed()
    expect(rows).to_have_count(100)
    scope_rows = page.locator("[data-testid=scope-table] tbody tr:not([data-testid])")
    expect(scope_rows).to_have_count(50)
    # The button itself (a keyboard or click user's way), without scrolling to it: a
    # scroll would also fire its "revealed" load, and Playwright's click, retrying on the
    # swapped-in row, would then press the next page's button too (150 rows, seen in CI).
    page.get_by_test_id("scope-more").get_by_role("button").dispatch_event("click")
    expect(scope_rows).to_have_count(100)
    assert re.search(r"p\d+-host-\d+", scope_rows.nth(99).inner_text())
    page.locator("#tasks").screenshot(path=str(folder / "plan-page-reference-size-tasks-100.png"))

    # Reassign the first row: its picker holds one option until the page's copy is put in.
    first = rows.first
    task_id = int(first.get_attribute("id").removeprefix("task-"))
    title = Task.objects.get(pk=task_id).title
    picker = first.get_by_label(f"Assignee of {title}")
    with page.expect_response(lambda r: r.url.endswith(f"/tasks/{task_id}/assign/")):
        picker.select_option(label="Crew 42")
    row = page.locator(f"#task-{task_id}")
    expect(row.get_by_label(f"Assignee of {title}")).to_have_value(str(crew[42].pk))
    assert Task.objects.get(pk=task_id).assignee == crew[42]
    # Its status too, from the swapped-in row.
    with page.expect_response(lambda r: r.url.endswith(f"/tasks/{task_id}/status/")):
        row.get_by_label(f"Status of {title}").select_option(label="Blocked")
    expect(page.locator(f"#task-{task_id}")).to_have_attribute("data-status", "blocked")

    # Filter: Crew 42's blocked tasks, which is that one.
    filters = page.get_by_test_id("task-filters")
    filters.get_by_label("Filter tasks by assignee").select_option(label="Crew 42")
    expect(page.get_by_test_id("task-count")).to_contain_text("1 task")
    expect(rows).to_have_count(1)
    filters.get_by_label("Filter tasks by assignee").select_option(label="Anyone")
    expect(rows).to_have_count(50)

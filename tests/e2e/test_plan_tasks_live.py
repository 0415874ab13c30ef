"""The plan page's tasks card refreshed live while someone reads it: another person
changes a task, and the reader's card shows the change without taking away what they
had: the rows loaded further down ("show more", or scrolling to the end) stay, in the
same order, the page does not jump, and a filter chosen since the page loaded still
applies. Screenshots: var/screenshots/tasks-live-*.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from plans.choices import TaskStatus
from plans.models import Task
from plans.services import tasks as task_services
from tests.plans.test_plan_queries import build_plan

pytestmark = pytest.mark.django_db(transaction=True)

# Others' changes reach an open page within 2 s (the poll runs every 1.5 s); slack for a
# busy CI machine, as in test_plan_together.
LIVE_MS = 6000


@pytest.fixture
def plan(team, planner, engineer, approver):
    # 130 tasks: the first 50 come with the card, the rest 50 at a time.
    return build_plan(
        team,
        planner,
        [planner, engineer, approver],
        servers=3,
        milestones=2,
        windows=2,
        tasks=130,
        comments=2,
    )


def _rename(task_id: int, title: str, by) -> None:
    """Someone else renames a task, through the service the task page's form calls (the
    other fields as they are)."""
    task = Task.objects.select_related("plan", "milestone", "assignee").get(pk=task_id)
    task_services.task_update(
        task=task,
        version=task.version,
        title=title,
        by=by,
        description=task.description,
        milestone=task.milestone,
        assignee=task.assignee,
        due_on=task.due_on,
        status=task.status,
        checklist=[item.text for item in task.checklist.all()],
    )


def _ids(rows) -> list[str]:
    return rows.evaluate_all("rows => rows.map(row => row.id)")


def _scroll_y(page) -> float:
    return page.evaluate("() => window.scrollY")


def _shots(page, shot, name: str):
    """The whole page (scanned by axe) and what the reader sees: the window, scrolled.
    Returns the screenshots' folder."""
    path = shot(page, name)
    page.screenshot(path=str(path.with_name(f"{name}-view.png")))
    return path.parent


def _to_the_card(page) -> None:
    # The card comes after the page (hx-trigger="load") and htmx wires up what it swapped
    # in once that settles (20 ms on): a filter chosen before then was a plain select's
    # change, and the list never followed (CI: "130 tasks" where 120 should match).
    expect(page.locator(".htmx-request, .htmx-settling")).to_have_count(0)
    page.locator("#tasks").evaluate("card => card.scrollIntoView({block: 'start'})")


def _read_down_to_100_rows(page, rows) -> None:
    """ "Show more" once, then read down to the 71st row at the top of the window. The
    click is dispatched, not made by scrolling the end of the list into view: there the
    list's "revealed" loading goes on by itself (Chromium's view moves down with the rows
    loaded, by their height, so the next "show more" is in view again), and how far is up
    to the browser, not this test."""
    expect(rows).to_have_count(50)
    # htmx wires up swapped-in content once it settles (20 ms on): until then the button
    # is a plain button.
    expect(page.locator(".htmx-request, .htmx-settling")).to_have_count(0)
    page.get_by_test_id("tasks-more").get_by_role("button").dispatch_event("click")
    expect(rows).to_have_count(100)
    # The next "show more" stays out of view (30 rows further down): 100 rows it is.
    rows.nth(70).evaluate("row => row.scrollIntoView({block: 'start'})")


# What each live refresh of the tasks card left on the screen, noted in the page the
# moment it is swapped in: "show more" loads more rows as the end of a list comes into
# view, so a refresh that cut the list short could be made good again before a check
# from outside sees it.
_NOTE_REFRESHES = """() => {
  window.tasksRefreshes = [];
  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.elt.dataset.livePanel !== "tasks") { return; }
    window.tasksRefreshes.push({
      rows: document.querySelectorAll("#tasks tr[data-task-row]").length,
      y: window.scrollY,
    });
  });
}"""


def _renamed_while_reading(page, rows, admin) -> list[str]:
    """Another person renames a task where the reader is (the 86th row). Once the card
    shows the new title, checks that no refresh took rows away or moved the page, and
    returns the rows shown before."""
    before = _ids(rows)
    assert len(before) >= 100
    y = _scroll_y(page)
    page.evaluate(_NOTE_REFRESHES)
    task_id = int(before[85].removeprefix("task-"))
    title = f"Renamed by Amara {task_id}"
    _rename(task_id, title, admin)
    # The card refreshed: the new title, in the row where the reader is.
    expect(page.locator(f"#task-{task_id}")).to_contain_text(title, timeout=LIVE_MS)
    refreshes = page.evaluate("() => window.tasksRefreshes")
    assert refreshes
    for refresh in refreshes:
        assert refresh["rows"] >= len(before), refreshes
        assert abs(refresh["y"] - y) < 50, (y, refreshes)
    after = _ids(rows)
    # Nothing the reader had went away: the same rows in the same order.
    assert after[: len(before)] == before and len(after) >= len(before)
    assert abs(_scroll_y(page) - y) < 50
    return before


def test_a_live_refresh_keeps_the_rows_loaded_and_the_place(
    page, live_server, login, shot, plan, planner, admin
):
    login(page, planner)
    page.goto(f"{live_server.url}/plans/{plan.pk}/")
    rows = page.locator("#tasks tr[data-task-row]")
    expect(rows).to_have_count(50)
    _to_the_card(page)
    _read_down_to_100_rows(page, rows)
    assert _scroll_y(page) > 1000  # well down the page: a jump back would show
    _renamed_while_reading(page, rows, admin)
    after = _ids(rows)
    expect(page.get_by_test_id("task-count")).to_contain_text("130 tasks")
    # "Show more" goes on from there.
    left = 130 - len(after)
    expect(page.get_by_test_id("tasks-more")).to_contain_text(f"Show more ({left} left)")
    _shots(page, shot, "tasks-live-1-kept-rows")


def test_a_live_refresh_keeps_the_filter_chosen_and_its_rows(
    page, live_server, login, shot, plan, planner, admin
):
    # 120 tasks to do, 10 done.
    done = list(Task.objects.filter(plan=plan).order_by("pk").values_list("pk", flat=True)[:10])
    Task.objects.filter(plan=plan).update(status=TaskStatus.TODO)
    Task.objects.filter(pk__in=done).update(status=TaskStatus.DONE)
    login(page, planner)
    page.goto(f"{live_server.url}/plans/{plan.pk}/")
    rows = page.locator("#tasks tr[data-task-row]")
    expect(rows).to_have_count(50)
    _to_the_card(page)
    status = page.get_by_test_id("task-filters").get_by_label("Filter tasks by status")
    status.focus()  # as a click on it does
    status.select_option(label="To do")
    count = page.get_by_test_id("task-count")
    expect(count).to_contain_text("120 tasks match the filters")
    # The reader moves on from the filter (a click beside it: only focus on the filter
    # holds the card's refresh) and reads down.
    page.locator("#tasks .card-header").get_by_text("Tasks", exact=True).click()
    expect(status).not_to_be_focused()
    _read_down_to_100_rows(page, rows)
    _renamed_while_reading(page, rows, admin)
    # The filter the reader chose, not the page's own query (which had none).
    expect(status).to_have_value(TaskStatus.TODO)
    expect(count).to_contain_text("120 tasks match the filters")
    assert set(rows.evaluate_all("rows => rows.map(row => row.dataset.status)")) == {"todo"}
    folder = _shots(page, shot, "tasks-live-2-filter-kept")
    page.locator("#tasks .card-header").screenshot(path=str(folder / "tasks-live-2-filters.png"))

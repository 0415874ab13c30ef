"""The plan page's milestone, window and task rows edit in place (plans.views.rows):
the editor's form swaps in, a save swaps the row back, a refused save shows its
errors in the form, and a save merges like the document's sections: only the
fields the user changed are written, a field someone else changed too gets the
merge view."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from plans import live
from plans.models import AuditEvent, MaintenanceWindow, Milestone, Task
from plans.services import plans as plan_services
from plans.services import tasks as task_services
from plans.services import windows as window_services
from tests.pages import page_html

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}
# Session, user, the row with its plan and team, membership, the form's choices.
GET_BUDGET = 7
# The lock, the merge's read, the service's writes and audit, the row re-read.
POST_BUDGET = {"milestone": 22, "window": 31, "task": 22}


@pytest.fixture
def plan(team, planner):
    return plan_services.plan_create(team=team, title="Kernel update", owner=planner, by=planner)


@pytest.fixture
def milestone(plan, planner, frozen_now):
    today = timezone.localdate(frozen_now)
    return plan_services.milestone_add(
        plan=plan, name="Staging", by=planner, starts_on=today, due_on=today + timedelta(days=3)
    )


@pytest.fixture
def window(plan, planner, frozen_now):
    start = (frozen_now + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    return window_services.window_create(
        plan=plan, starts_at=start, ends_at=start + timedelta(hours=2), by=planner, title="Night"
    )


@pytest.fixture
def task(plan, planner):
    return task_services.task_create(
        plan=plan, title="Snapshot the VMs", by=planner, description="All of them."
    )


def _url(kind, pk):
    return reverse("plan_row", args=[kind, pk])


def _editor(client, kind, pk):
    """The editor's form as it opened: (its HTML, its inputs as a form posts them)."""
    import re

    response = client.get(_url(kind, pk) + "?edit=1", **HX)
    assert response.status_code == 200
    html = response.content.decode()
    data = dict(re.findall(r'<input type="hidden" name="(base-[\w]+)" value="([^"]*)"', html))
    for name, value in list(data.items()):
        data[name.removeprefix("base-")] = value
    return html, data


def test_edit_opens_the_form_in_place_with_the_base_values(client_for, planner, milestone):
    client = client_for(planner)
    html, data = _editor(client, "milestone", milestone.pk)
    assert f'id="milestone-row-{milestone.pk}"' in html and "data-row-editor" in html
    assert f'hx-post="{_url("milestone", milestone.pk)}"' in html
    assert data["base-name"] == "Staging"
    assert data["base-due_on"] == milestone.due_on.isoformat()
    assert f'for="milestone-row-{milestone.pk}-name"' in html  # labelled controls


def test_save_swaps_back_the_row_and_audits(
    client_for, planner, milestone, django_capture_on_commit_callbacks
):
    client = client_for(planner)
    _, data = _editor(client, "milestone", milestone.pk)
    new_due = milestone.due_on + timedelta(days=4)
    data["due_on"] = new_due.isoformat()
    before = live.section_revisions(milestone.plan_id)[live.MILESTONES]["rev"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_url("milestone", milestone.pk), data, **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="milestone-row"' in html and "data-row-editor" not in html
    milestone.refresh_from_db()
    assert milestone.due_on == new_due and milestone.name == "Staging"
    assert AuditEvent.objects.filter(object_type="milestone", field="due_on").count() == 1
    assert live.section_revisions(milestone.plan_id)[live.MILESTONES]["rev"] > before


def test_invalid_input_comes_back_in_the_form_with_its_message(client_for, planner, window):
    client = client_for(planner)
    _, data = _editor(client, "window", window.pk)
    data["ends_at"] = (timezone.localtime(window.starts_at) - timedelta(hours=1)).strftime(
        "%Y-%m-%dT%H:%M"
    )
    response = client.post(_url("window", window.pk), data, **HX)
    assert response.status_code == 400
    html = response.content.decode()
    assert "data-row-editor" in html and "data-swap-errors" in html
    assert "The window must end after it starts." in html
    fresh = MaintenanceWindow.objects.get(pk=window.pk)
    assert (fresh.version, fresh.ends_at) == (window.version, window.ends_at)


def test_task_title_saved_and_untouched_fields_keep_others_changes(
    client_for, planner, admin, task
):
    client = client_for(planner)
    _, data = _editor(client, "task", task.pk)
    # Meanwhile someone else changes the description (the full page).
    task_services.task_update(
        task=Task.objects.get(pk=task.pk),
        version=task.version,
        by=admin,
        title=task.title,
        description="Only the database VMs.",
    )
    data["title"] = "Snapshot the database VMs"
    response = client.post(_url("task", task.pk), data, **HX)
    assert response.status_code == 200
    assert "Snapshot the database VMs" in response.content.decode()
    task.refresh_from_db()
    assert task.title == "Snapshot the database VMs"
    assert task.description == "Only the database VMs."  # not the stale copy in the form


def test_nothing_changed_writes_nothing(client_for, planner, task):
    client = client_for(planner)
    _, data = _editor(client, "task", task.pk)
    response = client.post(_url("task", task.pk), data, **HX)
    assert response.status_code == 200
    assert Task.objects.get(pk=task.pk).version == task.version


def test_same_field_changed_by_both_gets_the_merge_view_for_that_field(
    client_for, planner, admin, task
):
    client = client_for(planner)
    _, data = _editor(client, "task", task.pk)
    task_services.task_update(
        task=Task.objects.get(pk=task.pk),
        version=task.version,
        by=admin,
        title="Snapshot the web VMs",
        description=task.description,
    )
    data["title"] = "Snapshot the database VMs"
    data["due_on"] = "2031-01-15"
    response = client.post(_url("task", task.pk), data, **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="merge-title"' in html and "merge-due_on" not in html
    assert f'hx-target="#task-{task.pk}"' in html
    fresh = Task.objects.get(pk=task.pk)
    assert fresh.title == "Snapshot the web VMs"  # theirs kept until the user chooses
    assert fresh.due_on.isoformat() == "2031-01-15"  # the other field is saved
    # "Keep mine" posts the one field with theirs as its base.
    keep_mine = {"base-title": "Snapshot the web VMs", "title": "Snapshot the database VMs"}
    response = client.post(_url("task", task.pk), keep_mine, **HX)
    assert response.status_code == 200
    fresh = Task.objects.get(pk=task.pk)
    assert fresh.title == "Snapshot the database VMs"
    assert fresh.due_on.isoformat() == "2031-01-15"


def test_window_time_moves_and_keeps_its_servers(client_for, planner, window):
    client = client_for(planner)
    _, data = _editor(client, "window", window.pk)
    start = timezone.localtime(window.starts_at) + timedelta(hours=1)
    data["starts_at"] = start.strftime("%Y-%m-%dT%H:%M")
    response = client.post(_url("window", window.pk), data, **HX)
    assert response.status_code == 200, response.content.decode()[:2000]
    assert f'id="window-{window.pk}"' in response.content.decode()
    fresh = MaintenanceWindow.objects.get(pk=window.pk)
    assert fresh.starts_at == start and fresh.ends_at == window.ends_at
    assert fresh.title == "Night"


def test_cancel_shows_the_row_and_no_js_goes_to_the_full_page(client_for, planner, milestone):
    client = client_for(planner)
    response = client.get(_url("milestone", milestone.pk), **HX)
    assert (
        response.status_code == 200 and 'data-testid="milestone-row"' in response.content.decode()
    )
    response = client.get(_url("milestone", milestone.pk) + "?edit=1")
    assert response.status_code == 302
    assert response["Location"] == reverse("milestone_edit", args=[milestone.pk])


@pytest.mark.parametrize("kind", ["milestone", "window", "task"])
def test_another_teams_row_is_404(client_for, outsider, milestone, window, task, kind):
    pk = {"milestone": milestone, "window": window, "task": task}[kind].pk
    client = client_for(outsider)
    assert client.get(_url(kind, pk) + "?edit=1", **HX).status_code == 404
    assert client.post(_url(kind, pk), {"base-title": "x", "title": "y"}, **HX).status_code == 404


def test_viewer_sees_no_edit_and_may_not_save(client_for, viewer, milestone, window, task):
    client = client_for(viewer)
    page = page_html(client, reverse("plan_detail", args=[milestone.plan_id]))
    assert "?edit=1" not in page.split('id="activity-card"')[0]
    assert client.get(_url("task", task.pk) + "?edit=1", **HX).status_code == 403
    response = client.post(
        _url("milestone", milestone.pk), {"base-name": "Staging", "name": "X"}, **HX
    )
    assert response.status_code == 403
    assert Milestone.objects.get(pk=milestone.pk).name == "Staging"


def test_planner_sees_an_edit_control_on_each_row(client_for, planner, milestone, window, task):
    page = page_html(client_for(planner), reverse("plan_detail", args=[milestone.plan_id]))
    for kind, obj in (("milestone", milestone), ("window", window), ("task", task)):
        assert f'hx-get="{_url(kind, obj.pk)}?edit=1"' in page
        row_id = "milestone-row-%d" if kind == "milestone" else kind + "-%d"
        assert f'hx-target="#{row_id % obj.pk}"' in page


@pytest.mark.parametrize("kind", ["milestone", "window", "task"])
def test_query_budget(
    client_for, planner, milestone, window, task, kind, django_assert_max_num_queries
):
    obj = {"milestone": milestone, "window": window, "task": task}[kind]
    client = client_for(planner)
    with django_assert_max_num_queries(GET_BUDGET):
        _, data = _editor(client, kind, obj.pk)
    first = {"milestone": "name", "window": "title", "task": "title"}[kind]
    data[first] = "Renamed"
    with django_assert_max_num_queries(POST_BUDGET[kind]):
        assert client.post(_url(kind, obj.pk), data, **HX).status_code == 200


def _post_queries(client, kind, pk, field):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _, data = _editor(client, kind, pk)
    data[field] = data[field] + " (moved)"
    with CaptureQueriesContext(connection) as queries:
        assert client.post(_url(kind, pk), data, **HX).status_code == 200
    return len(queries)


def test_a_windows_save_costs_the_same_whatever_its_servers(
    client_for, team, planner, plan, frozen_now
):
    from tests.factories import ServerFactory

    servers = ServerFactory.create_batch(6, team=team)
    plan_services.plan_scope_add(plan=plan, servers=servers, by=planner)
    start = (frozen_now + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    counts = []
    for size in (1, 6):
        window = window_services.window_create(
            plan=plan,
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            by=planner,
            title=f"W{size}",
            downtimes=dict.fromkeys(servers[:size], 10),
        )
        counts.append(_post_queries(client_for(planner), "window", window.pk, "title"))
    assert counts[0] == counts[1]


def test_a_window_cancelled_meanwhile_says_so_in_the_form(client_for, planner, admin, window):
    client = client_for(planner)
    _, data = _editor(client, "window", window.pk)
    window_services.window_cancel(window=window, version=window.version, by=admin)
    data["title"] = "Late night"
    response = client.post(_url("window", window.pk), data, **HX)
    assert response.status_code == 400
    assert "can no longer be changed here" in response.content.decode()
    assert MaintenanceWindow.objects.get(pk=window.pk).title == "Night"

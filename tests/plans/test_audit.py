"""The audit trail: field, old value, new value, who, when; the filterable history."""

import pytest

from plans.audit import audit_changes, audit_event, audit_value
from plans.models import AuditEvent
from plans.services import evidence
from plans.services.execution import execution_set_status
from plans.services.review import plan_lessons_update

from .run_helpers import give_go, make_plan, make_servers, make_window

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan(team, owner):
    return make_plan(team, owner)


def test_only_changed_fields_are_written(plan, owner):
    rows = audit_changes(
        plan=plan,
        obj=None,
        before={"title": "A", "risk": "low"},
        after={"title": "B", "risk": "low"},
        by=owner,
    )
    assert [(r.field, r.old_value, r.new_value) for r in rows] == [("title", "A", "B")]
    assert AuditEvent.objects.get(field="title").by == owner


def test_values_are_stored_as_readable_text(plan):
    from datetime import UTC, datetime

    assert audit_value(None) == ""
    assert audit_value(True) == "yes"
    assert audit_value(["a", "b"]) == "a, b"
    assert audit_value(datetime(2026, 1, 2, 3, 4, tzinfo=UTC)) == "2026-01-02 03:04 UTC"
    assert audit_value(plan) == plan.title


def test_services_write_the_trail(team, plan, owner, engineer, approver):
    servers = make_servers(team, plan, owner)
    evidence.backup_record_create(
        plan=plan, server=servers[0], what="db", location="nas", by=engineer
    )
    window = make_window(plan, servers, owner)
    give_go(plan, servers, planner=owner, approver=approver)
    execution_set_status(window=window, server=servers[0], status="in_progress", by=engineer)
    plan_lessons_update(plan=plan, lessons_learned="Test the replica first.", by=owner)
    found = set(AuditEvent.objects.values_list("object_type", "field"))
    assert {
        ("backuprecord", "backup"),
        ("serverexecution", "status"),
        ("plan", "lessons_learned"),
    } <= found
    assert ("maintenancewindow", "actual_starts_at") in found


def test_outsider_gets_404_on_the_history(client_for, plan, outsider):
    assert client_for(outsider).get(f"/plans/{plan.pk}/history/").status_code == 404


def test_the_history_filters_by_kind_person_and_text(client_for, plan, owner, engineer, viewer):
    audit_event(plan=plan, action="changed", field="title", old="A", new="Bravo", by=owner)
    audit_event(plan=plan, action="created", field="backup", new="db dump", by=engineer)
    c = client_for(viewer)
    page = c.get(f"/plans/{plan.pk}/history/").content.decode()
    # these two and the plan's creation
    assert page.count('data-testid="history-row"') == 3
    page = c.get(f"/plans/{plan.pk}/history/?by={engineer.pk}").content.decode()
    assert page.count('data-testid="history-row"') == 1 and "db dump" in page
    page = c.get(f"/plans/{plan.pk}/history/?q=bravo").content.decode()
    assert page.count('data-testid="history-row"') == 1 and "Bravo" in page
    page = c.get(f"/plans/{plan.pk}/history/?type=nothing&by=x").content.decode()
    assert page.count('data-testid="history-row"') == 0


@pytest.mark.parametrize("size", [2, 60])
def test_the_history_costs_the_same_queries_at_any_size(
    client_for, plan, owner, viewer, size, django_assert_max_num_queries
):
    for i in range(size):
        audit_event(plan=plan, action="changed", field="title", old=i, new=i + 1, by=owner)
    c = client_for(viewer)
    # session, user, memberships, plan, count, page, object types, people
    with django_assert_max_num_queries(9):
        assert c.get(f"/plans/{plan.pk}/history/").status_code == 200


def test_plan_window_task_and_scope_changes_are_in_the_history(team, plan, owner, engineer):
    from plans.services.plans import plan_scope_remove, plan_transition, plan_update
    from plans.services.tasks import task_create, task_set_status
    from plans.services.windows import window_cancel

    plan_update(plan=plan, by=owner, title="Upgrade PostgreSQL to 15.6")
    servers = make_servers(team, plan, owner)
    window = make_window(plan, servers, owner)
    window_cancel(window=window, version=window.version, by=owner)
    task = task_create(plan=plan, title="Dump the databases", by=owner)
    task_set_status(task=task, status="done", by=engineer)
    plan_scope_remove(plan=plan, servers=[servers[1]], by=owner)
    plan_transition(plan=plan, to_status="in_review", by=owner)
    rows = {
        (a.object_type, a.field, a.old_value, a.new_value)
        for a in AuditEvent.objects.filter(plan=plan)
    }
    assert ("plan", "title", "Upgrade PostgreSQL 15", "Upgrade PostgreSQL to 15.6") in rows
    assert ("plan", "servers added", "", "db-prod-1, db-staging-1") in rows
    assert ("plan", "servers removed", "db-staging-1", "") in rows
    assert ("task", "status", "todo", "done") in rows
    assert ("plan", "status", "draft", "in_review") in rows
    assert {("maintenancewindow", "window")} <= {(t, f) for t, f, _o, _n in rows}
    cancelled = AuditEvent.objects.get(object_type="maintenancewindow", action="cancelled")
    assert cancelled.by == owner


@pytest.fixture
def frozen_march():
    from datetime import UTC, datetime

    import time_machine

    with time_machine.travel(datetime(2026, 3, 10, 12, 0, tzinfo=UTC), tick=False):
        yield


def test_the_history_reads_as_people_write_it(client_for, plan, owner, viewer, frozen_march):
    """Part and field names as on the forms, choice labels, times in the viewer's zone,
    and a filter by date (the plan was created before the frozen day)."""
    from datetime import UTC, datetime

    from tests import factories

    audit_event(plan=plan, action="status", field="status", old="draft", new="in_review", by=owner)
    window = factories.WindowFactory(plan=plan)
    audit_changes(
        plan=plan,
        obj=window,
        before={"actual_starts_at": None},
        after={"actual_starts_at": datetime(2026, 1, 2, 3, 4, tzinfo=UTC)},
        by=owner,
    )
    viewer.time_zone = "Europe/Berlin"
    viewer.save()
    c = client_for(viewer)
    page = c.get(f"/plans/{plan.pk}/history/").content.decode()
    assert "In review" in page and "in_review" not in page
    assert "Maintenance window" in page and "Actual start" in page
    assert "2 Jan 2026, 04:04 Europe/Berlin" in page and "03:04 UTC" not in page
    page = c.get(f"/plans/{plan.pk}/history/?until=2026-03-09").content.decode()
    assert page.count('data-testid="history-row"') == 0
    page = c.get(f"/plans/{plan.pk}/history/?since=2026-03-10&until=2026-03-10").content.decode()
    assert page.count('data-testid="history-row"') == 2

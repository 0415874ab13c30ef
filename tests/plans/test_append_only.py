"""History is append-only in the database: UPDATE and DELETE on sign-offs, audit
events, execution events, status changes (and the other history tables) are
refused by triggers, through the ORM and through raw SQL, on PostgreSQL and
SQLite (run this module once without DATABASE_URL for SQLite)."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError

from plans.history_guard import APPEND_ONLY_TABLES
from plans.models import (
    AuditEvent,
    ExecutionEvent,
    Milestone,
    Plan,
    PlanStatusChange,
    ServerExecution,
    SignOff,
)
from plans.services.plans import milestone_remove, plan_delete, plan_transition
from plans.services.signoff import signoff_give

from .run_helpers import make_plan, make_servers, make_window, milestone, record_listings

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(team, owner, approver):
    """A plan with one row in each history table."""
    plan = make_plan(team, owner)
    servers = make_servers(team, plan, owner)
    record_listings(servers)
    signoff_give(
        milestone=milestone(plan, "assessment"), by=approver, decision="reject", comment="No."
    )
    plan_transition(plan=plan, to_status="in_review", by=owner)
    window = make_window(plan, servers, owner)
    execution = ServerExecution.objects.create(plan=plan, window=window, server=servers[0])
    ExecutionEvent.objects.create(
        execution=execution, from_status="pending", to_status="in_progress", by=owner
    )
    return plan


def refused(fn):
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        fn()


MODELS = [SignOff, AuditEvent, ExecutionEvent, PlanStatusChange]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_the_orm_cannot_update_or_delete_history(history, model):
    assert model.objects.exists()
    field = {
        SignOff: "comment",
        AuditEvent: "new_value",
        ExecutionEvent: "note",
        PlanStatusChange: "note",
    }[model]
    refused(lambda: model.objects.update(**{field: "rewritten"}))
    row = model.objects.first()
    setattr(row, field, "rewritten")
    refused(row.save)
    refused(lambda: model.objects.all().delete())
    refused(model.objects.first().delete)
    assert not model.objects.filter(**{field: "rewritten"}).exists()


def test_a_rejection_cannot_be_turned_into_an_approval(history):
    refused(lambda: SignOff.objects.filter(decision="reject").update(decision="approve"))
    assert list(SignOff.objects.values_list("decision", flat=True)) == ["reject"]


@pytest.mark.parametrize("table", ["plans_signoff", "plans_auditevent", "plans_executionevent",
                                   "plans_planstatuschange"])  # fmt: skip
def test_raw_sql_cannot_update_or_delete_history(history, table):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 - a fixed list
        (count,) = cursor.fetchone()
    assert count
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET id = id")  # noqa: S608
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608
        assert cursor.fetchone() == (count,)


def test_every_history_table_has_its_triggers(history):
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT DISTINCT event_object_table FROM information_schema.triggers "
                "WHERE trigger_name = 'pp_append_only'"
            )
        else:
            cursor.execute(
                "SELECT DISTINCT tbl_name FROM sqlite_master "
                "WHERE type = 'trigger' AND name LIKE 'pp_append_only_delete_%'"
            )
        assert {r[0] for r in cursor.fetchall()} == set(APPEND_ONLY_TABLES)


def test_a_milestone_with_sign_offs_is_retired_not_deleted(history, owner):
    m = milestone(history, "assessment")
    with pytest.raises(ProtectedError), transaction.atomic():
        Milestone.objects.filter(pk=m.pk).delete()
    milestone_remove(milestone=m, by=owner)
    m.refresh_from_db()
    assert m.retired_at is not None and m.signoffs.count() == 1
    assert AuditEvent.objects.filter(action="retired", object_id=m.pk).exists()


def test_a_milestone_without_sign_offs_is_removed_with_a_history_row(history, owner):
    m = milestone(history, "review")
    milestone_remove(milestone=m, by=owner)
    assert not Milestone.objects.filter(pk=m.pk).exists()
    assert AuditEvent.objects.filter(action="deleted", old_value="review").exists()


def test_deleting_a_draft_plan_takes_its_whole_record(team, owner, approver):
    plan = make_plan(team, owner)
    record_listings(make_servers(team, plan, owner))
    signoff_give(milestone=milestone(plan, "assessment"), by=approver, decision="approve")
    plan_delete(plan=plan, by=owner)
    assert not Plan.objects.filter(pk=plan.pk).exists()
    assert not SignOff.objects.exists() and not AuditEvent.objects.exists()
    # ...and the permission to delete ended with it.
    other = make_plan(team, owner, title="Other")
    refused(lambda: AuditEvent.objects.filter(plan=other).delete())


def test_a_plan_that_ran_is_not_deleted(history, owner):
    Plan.objects.filter(pk=history.pk).update(status="in_progress")
    history.refresh_from_db()
    with pytest.raises(ValidationError):
        plan_delete(plan=history, by=owner)
    assert AuditEvent.objects.filter(plan=history).exists()


@pytest.mark.django_db(transaction=True)
def test_the_test_database_flush_still_empties_history(team, owner, approver):
    """Teardown of this test flushes the database: TRUNCATE on PostgreSQL (row triggers
    don't see it), row-by-row DELETE on SQLite (let through by the flush's purge row).
    A refused flush would error this test's teardown; the next test sees no rows."""
    plan = make_plan(team, owner)
    record_listings(make_servers(team, plan, owner))
    signoff_give(milestone=milestone(plan, "assessment"), by=approver, decision="approve")
    assert SignOff.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_after_the_flush_history_is_empty_and_guarded_again(team, owner):
    assert not SignOff.objects.exists() and not AuditEvent.objects.exists()
    make_plan(team, owner)
    refused(lambda: AuditEvent.objects.all().delete())

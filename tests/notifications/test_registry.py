"""What the plans app plugs into the outbox and the layers below it when Django
starts (plans.receivers), so that none of them imports plans (issue 18)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from patchplan.core import audit as core_audit
from patchplan.notifications import registry, services
from patchplan.notifications.models import Kind, Notification, Status
from plans.models import AuditEvent, ServerExecution
from servers.services import server_delete
from tests import factories

from .helpers import make_window_world

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


def test_the_beat_scan_runs_the_plans_scans_in_order_then_its_own(team, planner, engineer):
    make_window_world(team, owner=planner, engineer=engineer, starts_in=timedelta(minutes=30))
    figures = services.notifications_scan(now=timezone.now())
    assert list(figures) == [
        "windows",
        "tasks",
        "signoffs",
        "overruns",
        "go_requests",
        "reviews",
        "occurrences",
        "digests",
        "reclaimed",
        "queued",
    ]
    # The plans scan did its work through the registry: reminders for the window.
    assert figures["windows"] > 0
    assert Notification.objects.filter(kind=Kind.WINDOW_REMINDER).count() == figures["windows"]


def test_plan_kinds_get_the_plans_content_and_other_kinds_only_the_row(team, planner, engineer):
    task = factories.TaskFactory(plan=factories.PlanFactory(team=team, owner=planner))
    row = Notification(
        recipient=engineer,
        team=team,
        kind=Kind.TASK_ASSIGNED,
        object_type="task",
        object_id=task.pk,
        due_at=timezone.now(),
    )
    task.delete()
    # The plans builder reads the task fresh: gone, so the row no longer applies.
    with pytest.raises(services.Undeliverable) as gone:
        registry.content_for(row, timezone.get_current_timezone())
    assert gone.value.status == Status.CANCELLED
    advisory = Notification(recipient=engineer, team=team, kind=Kind.ADVISORY)
    content = registry.content_for(advisory, timezone.get_current_timezone())
    assert content.context == {} and content.attachments == []


def test_teams_and_servers_write_the_plans_audit_trail_through_core(team, planner):
    server = factories.ServerFactory(team=team, hostname="audit-01")
    server_delete(server=server, by=planner)
    event = AuditEvent.objects.get(team=team, field="server", action="deleted")
    assert event.old_value == "audit-01" and event.plan_id is None


def test_no_audit_writer_is_an_error_not_a_silent_skip(monkeypatch, team, planner):
    monkeypatch.setattr(core_audit, "_writer", None)
    with pytest.raises(RuntimeError, match="no audit writer"):
        core_audit.audit_event(team=team, action="changed", by=planner)


def test_plans_refuses_deleting_a_server_patched_in_a_window(team, planner, engineer):
    w = make_window_world(team, owner=planner, engineer=engineer, starts_in=timedelta(hours=1))
    server = w["window"].servers.first()
    assert server is not None
    ServerExecution.objects.create(plan=w["plan"], window=w["window"], server=server)
    with pytest.raises(ValidationError, match="was patched in a plan's window"):
        server_delete(server=server, by=planner)
    assert type(server).objects.filter(pk=server.pk).exists()

"""A team with one of everything a user can write text into, built through the
services (so notifications, audit events and snapshots exist as in real use)."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from patchplan.notifications.models import Notification
from patchplan.teams.services import freeze_create
from plans.models import ChecklistItem, Comment, PlanReference
from plans.services.evidence import (
    backup_record_create,
    change_approval_create,
    testrun_create,
)
from plans.services.log import log_entry_add
from plans.services.plans import (
    comment_post,
    milestone_add,
    plan_create,
    plan_scope_add,
    reference_parse,
)
from plans.services.tasks import task_create
from plans.services.windows import window_create
from servers.inventory import inventory_import
from servers.services import server_create, token_create

LISTING = "adduser\t3.134\tall\nopenssl\t3.0.19-1~deb12u2\tamd64\n"
LISTING_2 = "adduser\t3.134\tall\nopenssl\t3.0.19-1~deb12u3\tamd64\nzlib1g\t1:1.2.13\tamd64\n"
UPGRADABLE = (
    "Listing...\n"
    "openssl/stable-security 3.0.19-1~deb12u3 amd64 [upgradable from: 3.0.19-1~deb12u2]\n"
)


@pytest.fixture
def world(team, admin, planner, engineer, approver, viewer):
    server = server_create(
        team=team, hostname="web-01", tags=["frontend"], by=admin, notes="first web"
    )
    now = timezone.now()
    inventory_import(
        server=server, data=LISTING, source="paste", by=admin, taken_at=now - timedelta(days=2)
    )
    inventory_import(
        server=server, data=LISTING_2, source="paste", by=admin, taken_at=now - timedelta(days=1)
    )
    inventory_import(server=server, data=UPGRADABLE, source="paste", by=admin)
    plan = plan_create(
        team=team,
        title="Patch OpenSSL",
        owner=planner,
        by=planner,
        objective="Close the CVE.",
        success_criteria="All servers on deb12u3.",
        backup_plan="Snapshot.",
        test_procedure="Run the checks.",
        rollback_plan="Roll back.",
        communication_plan="Mail the owners.",
        references=[reference_parse("CVE-2024-0001"), reference_parse("https://example.com/a")],
        packages=["openssl"],
    )
    plan_scope_add(plan=plan, servers=[server], by=planner)
    milestone = milestone_add(plan=plan, name="rollout", by=planner)
    starts = now + timedelta(hours=1)
    window = window_create(
        plan=plan,
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        downtimes={server: 10},
        by=planner,
        title="Patch night",
        milestone=milestone,
    )
    task = task_create(
        plan=plan,
        title="Snapshot the VM",
        by=planner,
        description="Take it before.",
        milestone=milestone,
        assignee=engineer,
        due_on=now.date() + timedelta(days=1),
        checklist=["Stop the app", "Take the snapshot"],
    )
    comment = comment_post(plan=plan, body="Ready? @erin-engineer", by=planner)
    entry = log_entry_add(plan=plan, kind="note", body="Disk full on web-01", by=engineer)
    backup_record_create(
        plan=plan, server=server, what="/var/lib", location="s3://b", by=engineer, notes="ok"
    )
    testrun_create(plan=plan, result="pass", by=engineer, servers=[], notes="green")
    change_approval_create(
        plan=plan,
        change_id="CHG0031337",
        url="https://itsm.example.com/change/CHG0031337",
        approved_by="CAB of 1 Dec",
        approved_at=now - timedelta(hours=1),
        by=engineer,
    )
    freeze = freeze_create(
        team=team,
        starts_on=now.date() + timedelta(days=20),
        ends_on=now.date() + timedelta(days=22),
        reason="Year-end",
    )
    token, _raw = token_create(team=team, name="ci", by=admin)
    # One outbox row of each kind the emails render from an object, as the scans make them.
    start_key = window.starts_at.astimezone(UTC).isoformat()
    for kind, object_type, object_id, occurrence, context in [
        ("window_reminder", "window", window.pk, f"{start_key}/1440", {}),
        ("window_updated", "window", window.pk, "v2", {"by": "x"}),
        ("window_cancelled", "window", window.pk, "c", {"by": "x"}),
        ("window_overrunning", "window", window.pk, "o", {}),
        ("task_due", "task", task.pk, "d", {}),
        ("task_overdue", "task", task.pk, "o", {"days": 2}),
        ("signoff_requested", "milestone", milestone.pk, "r", {"by": "x"}),
        ("signoff_pending", "milestone", milestone.pk, "p", {}),
        ("milestone_signed_off", "milestone", milestone.pk, "s", {"by": "x", "comment": "x"}),
        ("milestone_rejected", "milestone", milestone.pk, "j", {"by": "x", "comment": "x"}),
        ("plan_status", "plan", plan.pk, "st", {"by": "x", "new_status": "x", "note": "x"}),
    ]:
        Notification.objects.create(
            recipient=engineer,
            team=team,
            kind=kind,
            object_type=object_type,
            object_id=object_id,
            occurrence=occurrence,
            context=context,
            due_at=now,
            status="sent",
        )
    Notification.objects.create(
        recipient=engineer,
        team=team,
        kind="digest",
        object_type="",
        object_id=0,
        due_at=now,
        status="sent",
    )
    return {
        "team": team,
        "server": server,
        "plan": plan,
        "milestone": milestone,
        "window": window,
        "task": task,
        "checklist": ChecklistItem.objects.filter(task=task),
        "comment": comment,
        "entry": entry,
        "freeze": freeze,
        "token": token,
        "references": PlanReference.objects.filter(plan=plan),
        "comments": Comment.objects.filter(plan=plan),
        "people": [admin, planner, engineer, approver, viewer],
    }

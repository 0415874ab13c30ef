"""The plan page's query count does not grow with the plan: 200 servers,
10 milestones, 20 windows, 300 tasks and 200 comments cost what a small plan
costs. `build_plan` is also used by docs/bench/plans_bench.py."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from plans.choices import PlanKind, PlanStatus, Risk, TaskStatus
from plans.models import (
    ChecklistItem,
    Comment,
    MaintenanceWindow,
    Milestone,
    Plan,
    PlanReference,
    PlanStatusChange,
    Task,
    WindowServer,
)
from servers.choices import Environment
from servers.models import InventorySnapshot, PendingUpdate, Server, Tag
from tests.pages import with_loaded_parts


def build_plan(team, owner, people, *, servers, milestones, windows, tasks, comments) -> Plan:
    """A plan with the given numbers of everything, made with bulk inserts."""
    n = Plan.objects.count()
    plan = Plan.objects.create(
        team=team,
        owner=owner,
        title=f"Big plan {n}",
        kind=PlanKind.SECURITY_PATCH,
        risk=Risk.CRITICAL,
        status=PlanStatus.IN_PROGRESS,
        objective="Patch **OpenSSL** everywhere.\n\n- web\n- db\n",
        backup_plan="Snapshots.",
        test_procedure="Smoke tests.",
        rollback_plan="Restore.",
        communication_plan="Email the list.",
        packages=["openssl", "libssl3"],
    )
    PlanReference.objects.create(
        plan=plan,
        kind="cve",
        identifier="CVE-2024-0001",
        url="https://www.cve.org/CVERecord?id=CVE-2024-0001",
    )
    tag, _ = Tag.objects.get_or_create(team=team, name="web")
    hosts = Server.objects.bulk_create(
        Server(
            team=team,
            hostname=f"p{plan.pk}-host-{i:04d}",
            environment=Environment.STAGING if i % 10 == 0 else Environment.PRODUCTION,
        )
        for i in range(servers)
    )
    plan.servers.add(*hosts)
    Server.tags.through.objects.bulk_create(
        Server.tags.through(server_id=s.pk, tag_id=tag.pk) for s in hosts
    )
    now = timezone.now()
    snaps = InventorySnapshot.objects.bulk_create(
        InventorySnapshot(
            server=s, taken_at=now, format="apt", source="upload", content_hash="x", data=""
        )
        for s in hosts
    )
    PendingUpdate.objects.bulk_create(
        PendingUpdate(
            server=s,
            snapshot=snap,
            name=name,
            current="3.0.1",
            candidate="3.0.2",
            suite="bookworm-security",
            is_security=True,
        )
        for s, snap in zip(hosts, snaps, strict=True)
        for name in ("openssl", "libssl3", "vim")
    )
    today = timezone.localdate()
    ms = Milestone.objects.bulk_create(
        Milestone(
            plan=plan,
            name=f"phase {i}",
            position=i,
            starts_on=today + dt.timedelta(days=3 * i),
            due_on=today + dt.timedelta(days=3 * i + 2),
        )
        for i in range(milestones)
    )
    for m in ms:
        m.signoff_users.add(*people[:2])
    wins = MaintenanceWindow.objects.bulk_create(
        MaintenanceWindow(
            plan=plan,
            milestone=ms[i % len(ms)] if ms else None,
            starts_at=now + dt.timedelta(days=i, hours=1),
            ends_at=now + dt.timedelta(days=i, hours=3),
        )
        for i in range(windows)
    )
    WindowServer.objects.bulk_create(
        WindowServer(window=w, server=s, expected_downtime_minutes=5)
        for i, w in enumerate(wins)
        for s in hosts[i * 10 : i * 10 + 10]
    )
    ts = Task.objects.bulk_create(
        Task(
            plan=plan,
            milestone=ms[i % len(ms)] if ms else None,
            title=f"Task {i}",
            assignee=people[i % len(people)],
            due_on=today + dt.timedelta(days=i % 30),
            status=TaskStatus.values[i % 4],
            position=i,
        )
        for i in range(tasks)
    )
    ChecklistItem.objects.bulk_create(
        ChecklistItem(task=t, text=f"step {k}", position=k) for t in ts for k in range(2)
    )
    cs = Comment.objects.bulk_create(
        Comment(
            plan=plan, author=people[i % len(people)], body=f"Comment {i} @{people[0].username}"
        )
        for i in range(comments)
    )
    Comment.mentions.through.objects.bulk_create(
        Comment.mentions.through(comment_id=c.pk, user_id=people[0].pk) for c in cs
    )
    PlanStatusChange.objects.bulk_create(
        PlanStatusChange(plan=plan, from_status=a, to_status=b, by=owner)
        for a, b in [("draft", "in_review"), ("in_review", "approved"), ("approved", "in_progress")]
    )
    return plan


SMALL = {"servers": 3, "milestones": 2, "windows": 2, "tasks": 3, "comments": 2}
LARGE = {"servers": 200, "milestones": 10, "windows": 20, "tasks": 300, "comments": 200}


@pytest.mark.django_db
def test_plan_page_queries_do_not_grow(
    client_for, team, planner, engineer, approver, django_assert_max_num_queries
):
    people = [planner, engineer, approver]
    client = client_for(planner)
    client.get("/plans/")  # warm the session
    for sizes in (SMALL, LARGE):
        plan = build_plan(team, planner, people, **sizes)
        # The page's first answer: session, user, memberships, plan (+owner, team, source
        # title, server count), references, milestones, their sign-off people, the
        # timeline's windows.
        with django_assert_max_num_queries(8):
            response = client.get(f"/plans/{plan.pk}/")
        assert response.status_code == 200
        page = response.content.decode()
        # The cards it loads right after itself (tests.pages), each with its own budget:
        # windows (session, user, memberships, plan, windows with their milestone, their
        # servers, the checks' team windows, off-peak, freezes, the edit right) and tasks
        # (session, user, memberships, plan, milestones, members, first page with count).
        # The scope's first 50 rows: session, user, memberships, plan, servers, their tags,
        # pending updates.
        for url, budget in (
            (f"/plans/{plan.pk}/live/windows/", 10),
            (f"/plans/{plan.pk}/live/tasks/", 7),
            (f"/plans/{plan.pk}/scope/rows/", 7),
        ):
            with django_assert_max_num_queries(budget):
                assert client.get(url).status_code == 200
        assert "data-task-row" not in page and 'data-testid="tasks-pending"' in page
        assert 'data-testid="scope-pending"' in page
        body = with_loaded_parts(client, page)
        assert body.count('data-testid="milestone-row"') == sizes["milestones"]
        assert "activity-comment" not in page and 'hx-trigger="load"' in page
        # The feed shows the latest 50 entries (comments and status changes).
        feed = client.get(f"/plans/{plan.pk}/activity/").content.decode()
        assert feed.count("activity-comment") == min(sizes["comments"], 47)
        assert ('data-testid="activity-more"' in feed) == (sizes is LARGE)
        # Tasks and servers in scope come 50 at a time; the rest as the user scrolls.
        assert body.count("data-task-row hx-vals") == min(sizes["tasks"], 50)
        assert ('data-testid="tasks-more"' in body) == (sizes is LARGE)
        assert ('data-testid="scope-more"' in body) == (sizes is LARGE)
        # Each picker's options once per page (a <template>), not once per row.
        pickers = re.findall(r'<select name="(?:status|assignee)".*?</select>', body)
        assert len(pickers) == 2 * min(sizes["tasks"], 50)
        assert all(p.count("<option") == 1 for p in pickers)
        assert body.count('<template id="picker-task-status">') == 1
        assert body.count(f'<template id="picker-task-assignee-{team.pk}">') == 1


@pytest.mark.django_db
def test_activity_partial_queries_do_not_grow(
    client_for, team, planner, engineer, django_assert_max_num_queries
):
    client = client_for(planner)
    client.get("/plans/")
    for sizes in (SMALL, LARGE):
        plan = build_plan(team, planner, [planner, engineer], **sizes)
        # session, user, memberships, plan, status changes, comments, mentions.
        with django_assert_max_num_queries(7):
            assert client.get(f"/plans/{plan.pk}/activity/").status_code == 200

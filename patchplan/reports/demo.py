"""Demo history for the reports, the calendar and the dashboard: half a year of
weekly update listings per server, monthly patch plans run to completion
(status changes, sign-offs with lead times, windows with actual times and
downtimes, one overrun), a cancelled and a rolled-back plan, and recent
activity on the current plans. Written with bulk_create; auto_now_add times
are backdated with bulk_update, which writes the values as set."""

from __future__ import annotations

import hashlib
from datetime import datetime, time, timedelta

from django.utils import timezone

from patchplan.notifications.models import Kind, Notification, Status
from patchplan.teams.models import Membership, Team
from plans.choices import (
    ExecutionStatus,
    PlanKind,
    PlanStatus,
    Raci,
    Risk,
    SignOffDecision,
    TaskStatus,
)
from plans.models import (
    AuditEvent,
    Comment,
    MaintenanceWindow,
    Milestone,
    Plan,
    PlanRole,
    PlanStatusChange,
    ServerExecution,
    SignOff,
    Task,
    WindowServer,
)
from servers.inventory import _updates_blob
from servers.models import InventorySnapshot, Server

WEEKS = 26
MILESTONES = ("assessment", "testing", "deployment", "review")
# (title, kind, months ago it ran, planned minutes, actual minutes, status)
HISTORY = [
    ("May patch cycle", PlanKind.ROUTINE_CYCLE, 6, 120, 110, PlanStatus.COMPLETED),
    ("June patch cycle", PlanKind.ROUTINE_CYCLE, 5, 120, 115, PlanStatus.COMPLETED),
    ("glibc security patch", PlanKind.SECURITY_PATCH, 4, 90, 85, PlanStatus.COMPLETED),
    # The overrun: a kernel upgrade planned for two hours took almost four.
    ("Kernel 6.1 upgrade", PlanKind.SOFTWARE_UPGRADE, 3, 120, 230, PlanStatus.COMPLETED),
    ("September patch cycle", PlanKind.ROUTINE_CYCLE, 2, 120, 100, PlanStatus.COMPLETED),
    ("Debian 12.7 point release", PlanKind.OS_UPGRADE, 1, 180, 170, PlanStatus.COMPLETED),
    ("Redis 7.2 upgrade", PlanKind.SOFTWARE_UPGRADE, 2, 60, None, PlanStatus.CANCELLED),
    ("nginx 1.26 upgrade", PlanKind.SOFTWARE_UPGRADE, 1, 60, 58, PlanStatus.ROLLED_BACK),
]
# Hours between sign-offs, per milestone, varied per plan (see demo_history_load).
LEAD_HOURS = [
    (20, 30, 6, 50),
    (8, 44, 3, 70),
    (30, 12, 2, 26),
    (52, 70, 5, 96),
    (6, 20, 4, 30),
    (16, 36, 8, 48),
]


def _hash(blob: str) -> str:
    return hashlib.sha256(f"updates\n{blob}".encode()).hexdigest()


def _update_history(servers: list[Server], now: datetime) -> None:
    """Weekly `apt list --upgradable` listings before each server's current one:
    security updates pile up through a month and drop after each patch cycle."""
    from servers.demo import _states

    updates = _states()[3]
    security = [u for u in updates if u.is_security]
    other = [u for u in updates if not u.is_security]
    blobs: dict[int, str] = {}
    rows = []
    for i, server in enumerate(servers):
        for week in range(WEEKS, 0, -1):
            # Weeks since the last monthly patch cycle, so counts rise then fall.
            phase = (week + i % 3) % 4
            # The week after a patch cycle: clean.
            count = 0 if phase == 3 else min(len(security), (3 - phase) * 20 + (i % 5) * 2 + 4)
            blob = blobs.get(count)
            if blob is None:
                blob = blobs[count] = _updates_blob(security[:count] + other[: 10 + count % 7])
            rows.append(
                InventorySnapshot(
                    server=server,
                    taken_at=now - timedelta(days=7 * week + 3, hours=i % 12),
                    format="apt-upgradable",
                    source="api",
                    content_hash=_hash(blob),
                    data=blob,
                    pending_count=count + 10 + count % 7,
                    security_count=count,
                )
            )
    InventorySnapshot.objects.bulk_create(rows, batch_size=2000)
    # Two servers stopped reporting weeks ago: stale inventories.
    stale = [s for s in servers if s.environment == "staging"][:2]
    for n, server in enumerate(stale):
        server.last_inventory_at = now - timedelta(days=12 + 9 * n)
    Server.objects.bulk_update(stale, ["last_inventory_at"])


def demo_history_load(*, team: Team) -> None:
    """Give the demo team months of history (see the module docstring)."""
    now = timezone.now()
    tz = team.tzinfo
    people = {
        m.user.username: m.user for m in Membership.objects.filter(team=team).select_related("user")
    }
    planner, approver, engineer = people["planner"], people["approver"], people["engineer"]
    admin = people["admin"]
    servers = list(Server.objects.filter(team=team).order_by("hostname"))
    _update_history(servers, now)

    plans = Plan.objects.bulk_create(
        Plan(
            team=team,
            title=title,
            kind=kind,
            status=status,
            risk=Risk.HIGH if kind == PlanKind.SECURITY_PATCH else Risk.MEDIUM,
            objective=f"{title}: patch the fleet and document it.",
            owner=planner,
            created_by=planner,
        )
        for title, kind, _months, _planned, _actual, status in HISTORY
    )
    changes, milestones, windows, signoff_rows = [], [], [], []
    plan_times = []
    for n, (plan, (_t, _k, months, planned, actual, status)) in enumerate(
        zip(plans, HISTORY, strict=True)
    ):
        run_day = (now - timedelta(days=30 * months - 3)).astimezone(tz).date()
        # Tuesday night: inside the demo team's weekday off-peak hours.
        run_day -= timedelta(days=(run_day.weekday() - 1) % 7)
        lead_days = (18, 35, 12, 44, 25, 60, 20, 15)[n % 8]
        leads = LEAD_HOURS[n % len(LEAD_HOURS)]
        window_start = datetime.combine(run_day, time(23, 0), tzinfo=tz)
        end = window_start + timedelta(minutes=actual or planned)
        # Sign-off times, each `leads[i]` hours after the previous one could be asked:
        # assessment and testing before the window (testing the evening before),
        # deployment after the window ran, the review after that.
        testing_at = window_start - timedelta(hours=20)
        assessment_at = testing_at - timedelta(hours=leads[1])
        in_review = assessment_at - timedelta(hours=leads[0])
        deployment_at = end + timedelta(hours=leads[2])
        review_at = deployment_at + timedelta(hours=leads[3])
        created = in_review - timedelta(days=lead_days)
        approved = assessment_at + timedelta(hours=2)
        path = [
            (PlanStatus.DRAFT, PlanStatus.IN_REVIEW, in_review),
            (PlanStatus.IN_REVIEW, PlanStatus.APPROVED, approved),
        ]
        completed_at = None
        if status == PlanStatus.CANCELLED:
            path.append((PlanStatus.APPROVED, PlanStatus.CANCELLED, approved + timedelta(days=3)))
        else:
            path.append((PlanStatus.APPROVED, PlanStatus.IN_PROGRESS, window_start))
            if status == PlanStatus.ROLLED_BACK:
                path.append((PlanStatus.IN_PROGRESS, PlanStatus.ROLLED_BACK, end))
            else:
                # The review's sign-off completes the plan.
                completed_at = review_at
                path.append((PlanStatus.IN_PROGRESS, PlanStatus.COMPLETED, completed_at))
        for old, new, when in path:
            changes.append(
                (
                    PlanStatusChange(
                        plan=plan,
                        from_status=old,
                        to_status=new,
                        by=planner if new != PlanStatus.COMPLETED else approver,
                    ),
                    when,
                )
            )
        plan_times.append((plan, created, completed_at))
        # A cancelled plan stopped after its assessment, a rolled-back one in deployment.
        stopped = {PlanStatus.CANCELLED: 1, PlanStatus.ROLLED_BACK: 2}.get(status, 4)
        sign_times = (assessment_at, testing_at, deployment_at, review_at)
        for position, name in enumerate(MILESTONES):
            signed = sign_times[position] if position < stopped else None
            milestones.append(
                Milestone(
                    plan=plan,
                    name=name,
                    position=position,
                    due_on=(created + timedelta(days=7 * (position + 1))).date(),
                    starts_on=(created + timedelta(days=7 * position)).date(),
                    signoff_roles=["approver"],
                    signed_off_at=signed,
                )
            )
        if status != PlanStatus.CANCELLED:
            windows.append((plan, n, window_start, planned, actual))
    Milestone.objects.bulk_create(milestones)
    for m in milestones:
        if m.signed_off_at:
            signoff_rows.append(
                (
                    SignOff(
                        milestone=m,
                        user=approver,
                        round=1,
                        decision=SignOffDecision.APPROVE,
                        comment="Checked, go ahead.",
                    ),
                    m.signed_off_at,
                )
            )
    # History is append-only: each row gets its time when it is inserted.
    for row, when in changes:
        row.at = when
    PlanStatusChange.objects.bulk_create([c for c, _w in changes])
    for row, when in signoff_rows:
        row.at = when
    SignOff.objects.bulk_create([s for s, _w in signoff_rows])
    for plan, created, completed_at in plan_times:
        plan.created_at = created
        plan.completed_at = completed_at
    Plan.objects.bulk_update(plans, ["created_at", "completed_at"])

    # Windows with their actual times; per-server downtime recorded.
    by_plan = {m.plan_id: m for m in milestones if m.name == "deployment"}
    made_windows = MaintenanceWindow.objects.bulk_create(
        MaintenanceWindow(
            plan=plan,
            milestone=by_plan[plan.pk],
            title=f"{plan.title}: production",
            starts_at=start,
            ends_at=start + timedelta(minutes=planned),
            actual_starts_at=start + timedelta(minutes=5),
            actual_ends_at=start + timedelta(minutes=5 + actual),
        )
        for plan, _n, start, planned, actual in windows
    )
    links, executions = [], []
    for window, (plan, n, _s, planned, actual) in zip(made_windows, windows, strict=True):
        hosts = servers[(n * 4) % len(servers) :][:4] or servers[:4]
        if plan.title.startswith("nginx"):
            # The rolled-back nginx upgrade ran on the hosts that run nginx.
            hosts = [s for s in servers if s.hostname.startswith("web")][:4] or hosts
        plan.servers.add(*hosts)
        for h in hosts:
            expected = planned // 6
            links.append(WindowServer(window=window, server=h, expected_downtime_minutes=expected))
            executions.append(
                ServerExecution(
                    plan=plan,
                    window=window,
                    server=h,
                    status=ExecutionStatus.ROLLED_BACK
                    if plan.status == PlanStatus.ROLLED_BACK
                    else ExecutionStatus.VERIFIED,
                    started_at=window.actual_starts_at,
                    finished_at=window.actual_ends_at,
                    downtime_minutes=round(expected * actual / planned),
                    updated_by=engineer,
                )
            )
    WindowServer.objects.bulk_create(links)
    ServerExecution.objects.bulk_create(executions)
    Task.objects.bulk_create(
        Task(
            plan=plan,
            milestone=by_plan.get(plan.pk),
            title=title,
            assignee=who,
            status=TaskStatus.DONE,
            completed_at=completed or now,
        )
        for plan, _c, completed in plan_times
        for title, who in (
            ("Patch production servers", engineer),
            ("Write the post-implementation review", planner),
        )
    )
    PlanRole.objects.bulk_create(
        PlanRole(plan=plan, user=user, raci=raci)
        for plan in plans
        for user, raci in ((planner, Raci.ACCOUNTABLE), (engineer, Raci.RESPONSIBLE))
    )
    _recent_activity(team, people, now)
    # One email that could not be delivered: team admins see it on the dashboard.
    Notification.objects.create(
        recipient=people["viewer"],
        team=team,
        kind=Kind.PLAN_STATUS,
        object_type="plan",
        object_id=plans[-1].pk,
        occurrence="demo",
        due_at=now - timedelta(hours=5),
        status=Status.FAILED,
        attempts=5,
        last_error="550 5.1.1 <viewer@demo.patchplan.invalid>: Recipient address rejected",
        context={"title": f"Status changed: {plans[-1].title}"},
    )
    del admin  # admins read the failure above


def _recent_activity(team: Team, people: dict, now: datetime) -> None:
    """Status moves, comments and audit events on the current plans, hours old."""
    current = list(
        Plan.objects.filter(
            team=team,
            completed_at__isnull=True,
            status__in=[PlanStatus.APPROVED, PlanStatus.IN_PROGRESS, PlanStatus.DRAFT],
        )
    )
    planner, engineer, approver = people["planner"], people["engineer"], people["approver"]
    rows = []
    for plan in current:
        if plan.status in (PlanStatus.APPROVED, PlanStatus.IN_PROGRESS):
            # Days before the staging window that ran last night (up to 47 hours ago).
            moves = [
                (PlanStatus.DRAFT, PlanStatus.IN_REVIEW, planner, 80),
                (PlanStatus.IN_REVIEW, PlanStatus.APPROVED, approver, 70),
            ]
            if plan.status == PlanStatus.IN_PROGRESS:
                moves.append((PlanStatus.APPROVED, PlanStatus.IN_PROGRESS, planner, 50))
            rows += [
                (PlanStatusChange(plan=plan, from_status=a, to_status=b, by=who), hours)
                for a, b, who, hours in moves
            ]
            rows += [
                (
                    Comment(
                        plan=plan,
                        author=engineer,
                        body="web-stg-26 is patched and verified, TLS smoke tests green. "
                        "Production backups: two of five so far.",
                    ),
                    6,
                ),
                (
                    Comment(
                        plan=plan,
                        author=approver,
                        body="Please add the load balancer drain step to the checklist.",
                    ),
                    3,
                ),
            ]
        rows.append(
            (
                AuditEvent(
                    plan=plan,
                    object_type="plan",
                    object_id=plan.pk,
                    object_repr=plan.title[:200],
                    action="changed",
                    field="rollback plan",
                    new_value="updated",
                    by=planner,
                ),
                10,
            )
        )
    for model, field in ((PlanStatusChange, "at"), (AuditEvent, "at")):
        # History is append-only: each row gets its time when it is inserted.
        batch = [(r, h) for r, h in rows if isinstance(r, model)]
        for row, hours in batch:
            setattr(row, field, now - timedelta(hours=hours))
        model.objects.bulk_create([r for r, _h in batch])
    batch = [(r, h) for r, h in rows if isinstance(r, Comment)]
    made = Comment.objects.bulk_create([r for r, _h in batch])
    for row, (_r, hours) in zip(made, batch, strict=True):
        row.created_at = now - timedelta(hours=hours)
    Comment.objects.bulk_update(made, ["created_at"])

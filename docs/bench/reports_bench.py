"""Benchmark of the dashboard, the calendar and the reports on PostgreSQL: prints
figures for docs/benchmarks.md (## Dashboard, calendar and reports).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pp_bench \
        .venv/bin/python docs/bench/reports_bench.py [--runs 30] [--scale 1.0]

Builds the issue's reference data in a scratch database "<db>_reports_bench"
(created and dropped here): 5,000 servers, a year of weekly update listings per
server (260,000 snapshots), 500 plans with 4 milestones each, 20,000 tasks,
2,000 windows of 10 servers with recorded times and downtimes, status changes,
sign-offs, comments and audit events. `--scale 0.2` builds a fifth of it.
Then it measures the median server time of each page through Django's test
client (whole middleware stack, no network), wall and CPU of this process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patchplan.settings.local")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")


def median_ms(fn, runs: int) -> tuple[float, float]:
    fn()  # warm caches (templates, connection)
    wall, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def build(scale: float) -> dict:  # noqa: PLR0915 - one linear data script
    from datetime import datetime, timedelta
    from datetime import time as dtime

    from django.db import connection
    from django.utils import timezone

    from patchplan.accounts.models import User
    from patchplan.notifications.models import Kind, Notification, Status
    from patchplan.teams.models import FreezePeriod, Membership, OffPeakPeriod, Team
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
    from servers.models import InventorySnapshot, Server

    n_servers, n_plans = int(5000 * scale), int(500 * scale)
    now = timezone.now()
    team = Team.objects.create(name="Bench", slug="bench", time_zone="Europe/Berlin")
    tz = team.tzinfo
    users = User.objects.bulk_create(
        User(username=f"u{i}", email=f"u{i}@bench.invalid", password="!")  # noqa: S106
        for i in range(20)
    )
    roles = ["admin", "approver"] + ["planner"] * 5 + ["engineer"] * 13
    Membership.objects.bulk_create(
        Membership(team=team, user=u, role=r) for u, r in zip(users, roles, strict=True)
    )
    admin, approver, planners, engineers = users[0], users[1], users[2:7], users[7:]
    OffPeakPeriod.objects.bulk_create(
        OffPeakPeriod(team=team, weekday=d, starts_at=dtime(22), ends_at=dtime(5)) for d in range(5)
    )
    FreezePeriod.objects.create(
        team=team,
        starts_on=now.date() + timedelta(days=10),
        ends_on=now.date() + timedelta(days=14),
        reason="Freeze",
    )
    envs, crits = ["production", "staging", "development"], ["critical", "high", "medium", "low"]
    servers = Server.objects.bulk_create(
        (
            Server(
                team=team,
                hostname=f"host-{i:05d}",
                environment=envs[i % 3],
                criticality=crits[i % 4],
                pending_security=(i * 7) % 13,
                pending_updates=(i * 7) % 13 + 5,
                last_inventory_at=now - timedelta(days=i % 15),
            )
            for i in range(n_servers)
        ),
        batch_size=5000,
    )
    t = time.perf_counter()
    batch = []
    for s in servers:
        for week in range(52, 0, -1):
            batch.append(
                InventorySnapshot(
                    server_id=s.pk,
                    taken_at=now - timedelta(days=7 * week, hours=s.pk % 24),
                    format="apt-upgradable",
                    source="api",
                    content_hash=f"{s.pk}-{week}",
                    data="",
                    security_count=(s.pk + week) % 9,
                    pending_count=(s.pk + week) % 9 + 5,
                )
            )
        if len(batch) >= 20000:
            InventorySnapshot.objects.bulk_create(batch, batch_size=5000)
            batch = []
    InventorySnapshot.objects.bulk_create(batch, batch_size=5000)
    print(f"  snapshots written in {time.perf_counter() - t:.0f} s", file=sys.stderr)

    statuses = ["completed"] * 5 + ["in_progress", "approved", "in_review", "draft", "cancelled"]
    kinds = ["security_patch", "software_upgrade", "os_upgrade", "routine_cycle"]
    plans = Plan.objects.bulk_create(
        Plan(
            team=team,
            title=f"Plan {i}",
            kind=kinds[i % 4],
            status=statuses[i % 10],
            owner=planners[i % 5],
            completed_at=now - timedelta(days=i % 360) if statuses[i % 10] == "completed" else None,
        )
        for i in range(n_plans)
    )
    for i, p in enumerate(plans):
        p.created_at = now - timedelta(days=i % 360 + 20)
    Plan.objects.bulk_update(plans, ["created_at"], batch_size=1000)
    milestones = Milestone.objects.bulk_create(
        Milestone(
            plan=p,
            name=name,
            position=pos,
            signoff_roles=["approver"],
            due_on=(p.created_at + timedelta(days=5 * (pos + 1))).date(),
            signed_off_at=p.created_at + timedelta(days=4 * pos + 2)
            if p.status == "completed"
            else None,
        )
        for p in plans
        for pos, name in enumerate(("assessment", "testing", "deployment", "review"))
    )
    SignOff.objects.bulk_create(
        SignOff(milestone=m, user=approver, decision="approve")
        for m in milestones
        if m.signed_off_at
    )
    PlanStatusChange.objects.bulk_create(
        PlanStatusChange(plan=p, from_status=a, to_status=b, by=p.owner)
        for p in plans
        for a, b in (("draft", "in_review"), ("in_review", "approved"), ("approved", "in_progress"))
    )
    Comment.objects.bulk_create(
        Comment(plan=p, author=engineers[i % 13], body=f"Comment {i}") for i, p in enumerate(plans)
    )
    AuditEvent.objects.bulk_create(
        AuditEvent(plan=p, object_type="plan", action="changed", field="title", by=p.owner)
        for p in plans
    )
    PlanRole.objects.bulk_create(
        PlanRole(plan=p, user=engineers[i % 13], raci="responsible") for i, p in enumerate(plans)
    )
    deploy = {m.plan_id: m for m in milestones if m.name == "deployment"}
    windows = []
    for i in range(4 * n_plans):
        p = plans[i % n_plans]
        day = (now - timedelta(days=300) + timedelta(days=i * 365 / (4 * n_plans))).date()
        start = datetime.combine(day, dtime(23), tzinfo=tz)
        past = start < now - timedelta(days=1)
        windows.append(
            MaintenanceWindow(
                plan=p,
                milestone=deploy[p.pk],
                starts_at=start,
                ends_at=start + timedelta(hours=2),
                actual_starts_at=start if past else None,
                actual_ends_at=start + timedelta(minutes=100 + (i % 7) * 10) if past else None,
            )
        )
    windows = MaintenanceWindow.objects.bulk_create(windows, batch_size=2000)
    WindowServer.objects.bulk_create(
        (
            WindowServer(
                window=w, server=servers[(i * 10 + k) % n_servers], expected_downtime_minutes=15
            )
            for i, w in enumerate(windows)
            for k in range(10)
        ),
        batch_size=5000,
    )
    ServerExecution.objects.bulk_create(
        (
            ServerExecution(
                plan_id=w.plan_id,
                window=w,
                server=servers[(i * 10 + k) % n_servers],
                status="verified",
                downtime_minutes=10 + k,
            )
            for i, w in enumerate(windows)
            if w.actual_ends_at
            for k in range(10)
        ),
        batch_size=5000,
    )
    Task.objects.bulk_create(
        (
            Task(
                plan=plans[i % n_plans],
                milestone=deploy[plans[i % n_plans].pk],
                title=f"Task {i}",
                assignee=(engineers + planners)[i % 18],
                status=["todo", "in_progress", "done", "done"][i % 4],
                due_on=(now + timedelta(days=i % 60 - 20)).date(),
            )
            for i in range(int(20000 * scale))
        ),
        batch_size=5000,
    )
    Notification.objects.bulk_create(
        Notification(
            recipient=engineers[i % 13],
            team=team,
            kind=Kind.TASK_ASSIGNED,
            object_id=i,
            due_at=now,
            status=Status.FAILED,
        )
        for i in range(200)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {
        "admin": admin,
        "approver": approver,
        "planner": planners[0],
        "engineer": engineers[0],
        "team": team,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    import django
    from django.conf import settings

    if "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        sys.exit("needs PostgreSQL: set DATABASE_URL=postgres://...")
    settings.DATABASES["default"]["TEST"] = {
        "NAME": settings.DATABASES["default"]["NAME"] + "_reports_bench"
    }
    settings.ALLOWED_HOSTS = ["*"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    django.setup()

    import logging

    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    logging.getLogger("patchplan.security").setLevel(logging.WARNING)
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        started = time.perf_counter()
        people = build(args.scale)
        print(f"data built in {time.perf_counter() - started:.0f} s (scale {args.scale})")
        today = timezone.localdate()
        pages = [
            ("dashboard (planner: owns 100 plans)", "planner", "/"),
            ("dashboard (admin: failed notifications)", "admin", "/"),
            ("dashboard (approver: sign-offs)", "approver", "/"),
            ("dashboard activity card (planner)", "planner", "/dashboard/activity/"),
            ("calendar month", "planner", f"/calendar/?date={today}"),
            ("calendar week", "planner", f"/calendar/?view=week&date={today}"),
            ("calendar list", "planner", f"/calendar/?view=list&date={today}"),
            ("report: fleet posture (180 days)", "admin", "/reports/posture/"),
            ("report: fleet posture (180 days), cold cache", "admin", "/reports/posture/"),
            (
                "report: fleet posture (a year)",
                "admin",
                f"/reports/posture/?start={today.replace(year=today.year - 1)}&end={today}",
            ),
            ("report: plans (180 days)", "admin", "/reports/plans/"),
            ("report: downtime (180 days)", "admin", "/reports/downtime/"),
            (
                "report: downtime CSV (a year)",
                "admin",
                f"/reports/downtime/?format=csv&start={today.replace(year=today.year - 1)}",
            ),
        ]
        print("\n| page | queries | wall median | CPU median |\n|---|---|---|---|")
        for label, who, url in pages:
            client = Client()
            client.force_login(people[who])

            def get(client=client, url=url, cold="cold cache" in label):
                if cold:  # the trend and the aging rows are cached between requests
                    cache.clear()
                response = client.get(url)
                assert response.status_code == 200, (url, response.status_code)

            count = [0]

            def counter(execute, sql, params, many, context, count=count):
                count[0] += 1
                return execute(sql, params, many, context)

            with connection.execute_wrapper(counter):
                get()
            wall, cpu = median_ms(get, args.runs)
            print(f"| {label} | {count[0]} | {wall:.0f} ms | {cpu:.0f} ms |")
    finally:
        if not args.keep:
            connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()

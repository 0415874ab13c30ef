"""Benchmark of the plan page's schedule pieces (timeline, windows with their checks,
tasks) and "My tasks" on PostgreSQL: prints figures for docs/benchmarks.md.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pp_bench \
        .venv/bin/python docs/bench/schedule_bench.py

Builds the issue's reference plan (200 servers in scope, 10 milestones, 20
windows of 10 servers, 300 tasks with two checklist lines) in a scratch
database "<db>_schedule_bench" (created and dropped here), then measures the
median server time of rendering the three pieces, the whole plan page and
"My tasks" through Django's test client (whole middleware stack, no network).
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
    """Median wall time and median CPU time of this process (the CPU figure is what a
    loaded machine distorts least; PostgreSQL's own work is not in it)."""
    fn()  # warm caches (templates, connection)
    wall, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    import django
    from django.conf import settings

    if "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        sys.exit("needs PostgreSQL: set DATABASE_URL=postgres://...")
    settings.DATABASES["default"]["TEST"] = {
        "NAME": settings.DATABASES["default"]["NAME"] + "_schedule_bench"
    }
    settings.ALLOWED_HOSTS = ["*"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    django.setup()

    from datetime import datetime, timedelta
    from datetime import time as dtime
    from zoneinfo import ZoneInfo

    from django.db import connection
    from django.template import Context, Template
    from django.test import Client, RequestFactory

    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from patchplan.accounts.models import User
        from patchplan.teams.models import Membership, OffPeakPeriod, Team
        from plans.models import (
            ChecklistItem,
            MaintenanceWindow,
            Milestone,
            Plan,
            Task,
            WindowServer,
        )
        from servers.models import Server

        team = Team.objects.create(name="Bench", slug="bench", time_zone="Europe/Berlin")
        people = [
            User.objects.create_user(f"u{i}", f"u{i}@bench.invalid", "bench-password-123")
            for i in range(8)
        ]
        for i, u in enumerate(people):
            Membership.objects.create(team=team, user=u, role="planner" if i == 0 else "engineer")
        OffPeakPeriod.objects.bulk_create(
            OffPeakPeriod(team=team, weekday=d, starts_at=dtime(22), ends_at=dtime(5))
            for d in range(7)
        )
        servers = Server.objects.bulk_create(
            Server(
                team=team,
                hostname=f"web-{i:03d}",
                environment="staging" if i < 20 else "production",
            )
            for i in range(200)
        )
        plan = Plan.objects.create(team=team, title="Bench plan", owner=people[0])
        plan.servers.set(servers)
        milestones = Milestone.objects.bulk_create(
            Milestone(plan=plan, name=f"phase {i}", position=i) for i in range(10)
        )
        start = datetime(2030, 1, 1, 23, tzinfo=ZoneInfo("Europe/Berlin"))
        windows = MaintenanceWindow.objects.bulk_create(
            MaintenanceWindow(
                plan=plan,
                milestone=milestones[i % 10],
                starts_at=start + timedelta(days=i),
                ends_at=start + timedelta(days=i, hours=2),
            )
            for i in range(20)
        )
        WindowServer.objects.bulk_create(
            WindowServer(window=w, server=servers[(i * 10 + j) % 200], expected_downtime_minutes=5)
            for i, w in enumerate(windows)
            for j in range(10)
        )
        tasks = Task.objects.bulk_create(
            Task(plan=plan, title=f"task {i}", assignee=people[i % 8], milestone=milestones[i % 10])
            for i in range(300)
        )
        ChecklistItem.objects.bulk_create(
            ChecklistItem(task=t, text=f"line {j}") for t in tasks for j in range(2)
        )

        pieces = Template(
            "{% load plans_schedule %}{% plan_timeline plan %}{% plan_windows plan %}"
            "{% plan_tasks plan %}"
        )
        request = RequestFactory().get("/")
        request.user = people[0]
        fresh = Plan.objects.select_related("team", "owner").get(pk=plan.pk)
        client = Client()
        client.force_login(people[0])
        engineer = Client()
        engineer.force_login(people[1])

        def get(c, url):
            response = c.get(url)
            assert response.status_code == 200, (url, response.status_code)

        def piece(tag: str):
            t = Template("{% load plans_schedule %}{% " + tag + " plan %}")
            return lambda: t.render(Context({"plan": fresh, "request": request}))

        figures = {
            "schedule pieces (timeline + windows/checks + 300 task rows)": median_ms(
                lambda: pieces.render(Context({"plan": fresh, "request": request})), args.runs
            ),
            "  timeline": median_ms(piece("plan_timeline"), args.runs),
            "  windows card with checks": median_ms(piece("plan_windows"), args.runs),
            "  tasks card (300 rows)": median_ms(piece("plan_tasks"), args.runs),
            "whole plan page": median_ms(lambda: get(client, f"/plans/{plan.pk}/"), args.runs),
            "My tasks (engineer, ~38 tasks)": median_ms(
                lambda: get(engineer, "/plans/my-tasks/"), args.runs
            ),
        }
        for name, (wall, cpu) in figures.items():
            print(f"{name}: {wall:.1f} ms wall, {cpu:.1f} ms CPU (medians of {args.runs})")
        print(f"load average during the run: {os.getloadavg()[0]:.1f}")
    finally:
        connection.creation.destroy_test_db(settings.DATABASES["default"]["NAME"], verbosity=0)


if __name__ == "__main__":
    main()

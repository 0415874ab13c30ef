"""Benchmark of running a plan (issue 5) on PostgreSQL: prints figures for
docs/benchmarks.md, asserts nothing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pp_bench \
        .venv/bin/python docs/bench/run_bench.py --servers 100 --runs 20

Builds a plan with N servers in one window (each with a 1,500-package listing
before and after patching, an execution and recorded downtime), 50 backup
records, 20 test runs, 100 log entries (half edited) and 500 audit rows, in a
scratch database "<db>_run_bench" (created and dropped here), then measures the
median server time of: the run-mode board (what every watcher polls every 4 s),
with the listings' versions cached and cold; all readiness checks of the plan;
the report page; the Markdown export.
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


def median_ms(fn, runs: int, before=None) -> tuple[float, float]:
    """Median wall and CPU time of this process (CPU is what a loaded machine distorts
    least; PostgreSQL's own work is not in it)."""
    fn()
    wall, cpu = [], []
    for _ in range(runs):
        if before:
            before()
        started, started_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def listing(n: int, version: str) -> str:
    rows = [f"pkg-{i:04d}\t1.{i}-1" for i in range(n)]
    rows.append(f"postgresql-15\t{version}")
    return "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=100)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    import django
    from django.conf import settings

    if "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        sys.exit("needs PostgreSQL: set DATABASE_URL=postgres://...")
    settings.DATABASES["default"]["TEST"] = {
        "NAME": settings.DATABASES["default"]["NAME"] + "_run_bench"
    }
    settings.ALLOWED_HOSTS = ["*"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    django.setup()

    from datetime import timedelta

    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from patchplan.accounts.models import User
        from patchplan.teams.models import Membership, Team
        from plans.audit import audit_event
        from plans.models import BackupRecord, ServerExecution, TestRun, WindowServer
        from plans.readiness import plan_readiness
        from plans.services.log import log_entry_add, log_entry_edit
        from plans.services.plans import plan_create
        from plans.services.windows import window_create
        from servers.inventory import inventory_import
        from servers.models import Server

        team = Team.objects.create(name="Bench", slug="bench", time_zone="Europe/Berlin")
        user = User.objects.create_user("bench", password="x" * 20)
        Membership.objects.create(team=team, user=user, role="admin")
        plan = plan_create(
            team=team,
            title="Bench upgrade",
            owner=user,
            by=user,
            packages=["postgresql-15"],
            test_procedure="t",
            rollback_plan="r",
        )
        servers = Server.objects.bulk_create(
            Server(
                team=team,
                hostname=f"db-{i:04d}",
                environment="staging" if i % 10 == 0 else "production",
            )
            for i in range(args.servers)
        )
        plan.servers.set(servers)
        now = timezone.now()
        window = window_create(
            plan=plan,
            starts_at=now - timedelta(hours=3),
            ends_at=now - timedelta(hours=1),
            downtimes=dict.fromkeys(servers, 20),
            by=user,
        )
        window.actual_starts_at = window.starts_at
        window.save()
        before, after = listing(1500, "15.4-1"), listing(1500, "15.6-1")
        for s in servers:
            inventory_import(
                server=s, data=before, source="upload", taken_at=now - timedelta(days=1)
            )
            inventory_import(server=s, data=after, source="upload", taken_at=now)
        ServerExecution.objects.bulk_create(
            ServerExecution(
                plan=plan,
                window=window,
                server=s,
                status="verified",
                downtime_minutes=25,
                updated_by=user,
            )
            for s in servers
        )
        BackupRecord.objects.bulk_create(
            BackupRecord(plan=plan, server=s, what="db", location="nas", created_by=user)
            for s in servers[:50]
        )
        for _ in range(20):
            TestRun.objects.create(plan=plan, result="pass", run_by=user, run_at=now)
        for i in range(100):
            e = log_entry_add(plan=plan, kind="issue", body=f"entry {i}", by=user)
            if i % 2:
                log_entry_edit(entry=e, kind="resolution", body=f"fixed {i}", by=user)
        for i in range(500):
            audit_event(plan=plan, action="changed", field="title", old=i, new=i + 1, by=user)
        assert WindowServer.objects.filter(window=window).count() == args.servers

        client = Client()
        client.force_login(user)
        base = f"/plans/{plan.pk}"
        board = f"{base}/windows/{window.pk}/run/board/"
        plan = type(plan).objects.select_related("team").get(pk=plan.pk)
        figures = [
            ("run-mode board (polled), versions cached", lambda: client.get(board), None),
            ("run-mode board, versions not cached", lambda: client.get(board), cache.clear),
            ("all readiness checks of the plan", lambda: plan_readiness(plan), None),
            ("report page", lambda: client.get(f"{base}/report/"), None),
            ("Markdown export", lambda: client.get(f"{base}/report.md"), None),
            ("history page (100 of 500+ rows)", lambda: client.get(f"{base}/history/"), None),
        ]
        print(f"{args.servers} servers in one window, {args.runs} runs each")
        print("| what | wall median | CPU median |")
        print("|---|---|---|")
        for name, fn, setup in figures:
            wall, cpu = median_ms(fn, args.runs, setup)
            print(f"| {name} | {wall:.0f} ms | {cpu:.0f} ms |")
    finally:
        connection.creation.destroy_test_db(
            settings.DATABASES["default"]["NAME"], verbosity=0, keepdb=False
        )


if __name__ == "__main__":
    main()

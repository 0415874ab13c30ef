"""Notification benchmark: prints figures, asserts nothing (see docs/benchmarks.md).

1. 100,000 future maintenance windows and 100,000 future tasks on PostgreSQL:
   how long one scan takes (the first, which creates the reminders due now,
   and a repeat, which finds them all there already).
2. 1,000 reminder emails delivered by 2 Celery worker processes (solo pool)
   on Redis into a local SMTP server (aiosmtpd): messages per second, and a
   count per outbox row: nothing lost, no duplicates.

Run (PostgreSQL and Redis local; the database is created and dropped):
    BENCH_DB=pp_notify_bench CELERY_BROKER_URL=redis://127.0.0.1:6379/6 \\
        .venv/bin/python docs/bench/notifications_bench.py
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

DB = os.environ.get("BENCH_DB", "pp_notify_bench")
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
BROKER = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/6")
QUEUE = f"bench-notify-{uuid.uuid4().hex[:8]}"
WINDOWS = int(os.environ.get("BENCH_WINDOWS", 100_000))
TASKS = int(os.environ.get("BENCH_TASKS", 100_000))
EMAILS = int(os.environ.get("BENCH_EMAILS", 1_000))
WORKERS = 2

os.environ.update(
    DJANGO_SETTINGS_MODULE="patchplan.settings.local",
    DEBUG="false",
    SECRET_KEY="bench-only-" + "x" * 40,
    DATABASE_URL=f"{PG}/{DB}",
    CELERY_BROKER_URL=BROKER,
    CELERY_QUEUE=QUEUE,
    PATCHPLAN_VAR_DIR=str(ROOT / "var" / "bench-notify"),
    LOG_LEVEL="WARNING",
)


def _admin_sql(sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(f"{PG}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql)
    conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Box:
    def __init__(self):
        self.ids: Counter[int] = Counter()
        self.lock = threading.Lock()
        self.first = self.last = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        raw = envelope.original_content or envelope.content
        for line in raw.split(b"\r\n"):
            if line.startswith(b"X-PatchPlan-Notification:"):
                with self.lock:
                    self.ids[int(line.split(b":")[1])] += 1
                    now = time.perf_counter()
                    self.first = self.first or now
                    self.last = now
                break
        return "250 OK"


def populate(now):
    from patchplan.accounts.models import User
    from patchplan.teams.models import Membership, Team
    from plans.models import MaintenanceWindow, Milestone, Plan, PlanRole, Task

    team = Team.objects.create(name="Bench", slug="bench", time_zone="Europe/Berlin")
    users = User.objects.bulk_create(
        User(username=f"u{i}", email=f"u{i}@bench.test", password="!")  # noqa: S106
        for i in range(50)
    )
    Membership.objects.bulk_create(Membership(team=team, user=u, role="engineer") for u in users)
    plans = Plan.objects.bulk_create(
        Plan(team=team, owner=users[i % 50], title=f"Plan {i}", status="approved")
        for i in range(1000)
    )
    milestones = Milestone.objects.bulk_create(
        Milestone(plan=p, name="deployment", position=2) for p in plans
    )
    PlanRole.objects.bulk_create(
        [
            PlanRole(plan=p, user=users[(i + 1) % 50], raci="accountable")
            for i, p in enumerate(plans)
        ]
        + [PlanRole(plan=p, user=users[(i + 2) % 50], raci="informed") for i, p in enumerate(plans)]
    )
    rnd = random.Random(6)
    year = 365 * 24 * 60
    windows = []
    for i in range(WINDOWS):
        k = i % 1000
        starts = now + timedelta(minutes=30 + rnd.randrange(year))
        windows.append(
            MaintenanceWindow(
                plan=plans[k],
                milestone=milestones[k],
                starts_at=starts,
                ends_at=starts + timedelta(hours=2),
                title=f"Window {i}",
            )
        )
    MaintenanceWindow.objects.bulk_create(windows, batch_size=5000)
    Task.objects.bulk_create(
        (
            Task(
                plan=plans[i % 1000],
                milestone=milestones[i % 1000],
                title=f"Task {i}",
                assignee=users[i % 50],
                due_on=(now + timedelta(days=1 + rnd.randrange(365))).date(),
            )
            for i in range(TASKS)
        ),
        batch_size=5000,
    )
    return team, users


def main() -> None:
    _admin_sql(f'DROP DATABASE IF EXISTS "{DB}"')
    _admin_sql(f'CREATE DATABASE "{DB}"')
    try:
        run()
    finally:
        from django.db import connections

        connections.close_all()
        _admin_sql(f'DROP DATABASE IF EXISTS "{DB}"')


def run() -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from patchplan.celery import app
    from patchplan.notifications import services
    from patchplan.notifications.models import Notification, Status
    from plans.models import MaintenanceWindow, Milestone, Plan, Task
    from plans.notify import scans

    call_command("migrate", verbosity=0)
    now = timezone.now()
    t = time.perf_counter()
    team, users = populate(now)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    print(f"populated {WINDOWS:,} windows and {TASKS:,} tasks in {time.perf_counter() - t:.1f} s")

    # --- 1. The scan -----------------------------------------------------
    # A worker runs for days: load the URL conf (first reverse()) before timing.
    from django.urls import reverse

    reverse("plan_detail", kwargs={"plan_id": 1})
    times = []
    if os.environ.get("BENCH_PROFILE") == "first":
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.runcall(services.notifications_scan, now=now)
        pstats.Stats(prof).sort_stats("tottime").print_stats(20)
    if os.environ.get("BENCH_PROFILE") == "sql":
        timings = []

        def timer(execute, sql, params, many, context):
            t0 = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                timings.append((time.perf_counter() - t0, sql[:300]))

        services.notifications_scan(now=now)
        with connection.execute_wrapper(timer):
            services.notifications_scan(now=now)
        for took, sql in sorted(timings, reverse=True)[:8]:
            print(f"{took * 1000:7.1f} ms  {sql}")
    for label in ("first scan", "repeat scan", "repeat scan"):
        t = time.perf_counter()
        figures = services.notifications_scan(now=now)
        times.append(time.perf_counter() - t)
        print(f"{label}: {times[-1] * 1000:.0f} ms {figures}")
    if os.environ.get("BENCH_PROFILE"):
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.runcall(services.notifications_scan, now=now)
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(QUEUE)
    Notification.objects.update(status=Status.SENT)
    if os.environ.get("BENCH_PROFILE"):
        row = Notification.objects.first()
        Notification.objects.filter(pk=row.pk).update(status=Status.PENDING)
        prof = cProfile.Profile()
        from django.test.utils import override_settings

        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            prof.runcall(services.notification_deliver, notification_id=row.pk)
        pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
        Notification.objects.filter(pk=row.pk).update(status=Status.SENT)

    # --- 2. Delivery of EMAILS reminders by 2 workers --------------------
    plan = Plan.objects.create(team=team, owner=users[0], title="Delivery bench")
    milestones = Milestone.objects.bulk_create(
        Milestone(plan=plan, name=f"m{i}", position=i) for i in range(EMAILS)
    )
    starts = now + timedelta(minutes=50)
    MaintenanceWindow.objects.bulk_create(
        MaintenanceWindow(
            plan=plan, milestone=m, starts_at=starts, ends_at=starts + timedelta(hours=1)
        )
        for m in milestones
    )
    Task.objects.bulk_create(
        Task(plan=plan, milestone=m, title="t", assignee=users[i % 50])
        for i, m in enumerate(milestones)
    )
    scans.scan_window_reminders(timezone.now())
    expected = set(Notification.objects.filter(status=Status.PENDING).values_list("pk", flat=True))
    print(f"reminders to deliver: {len(expected)}")

    from aiosmtpd.controller import Controller

    box = Box()
    port = free_port()
    smtp = Controller(box, hostname="127.0.0.1", port=port)
    smtp.start()
    if os.environ.get("BENCH_PROFILE") == "deliver":
        import cProfile
        import pstats

        from django.test.utils import override_settings

        from patchplan.notifications.tasks import deliver_batch

        ids = sorted(expected)[:100]
        deliver_batch(ids[:5])  # warm: imports, templates
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=port,
        ):
            timings = []

            def timer(execute, sql, params, many, context):
                t0 = time.perf_counter()
                try:
                    return execute(sql, params, many, context)
                finally:
                    timings.append(time.perf_counter() - t0)

            prof = cProfile.Profile()
            t = time.perf_counter()
            with connection.execute_wrapper(timer):
                prof.runcall(deliver_batch, ids[5:])
            took = time.perf_counter() - t
        print(
            f"in-process: {len(ids) - 5} in {took:.2f} s; {len(timings)} queries, "
            f"{sum(timings) * 1000:.0f} ms in SQL"
        )
        pstats.Stats(prof).sort_stats("cumulative").print_stats(35)
        smtp.stop()
        return
    env = dict(os.environ, EMAIL_URL=f"smtp://127.0.0.1:{port}", CONN_MAX_AGE="60")
    celery = str(Path(sys.executable).with_name("celery"))
    workers = [
        subprocess.Popen(  # noqa: S603 - our own celery, fixed arguments
            [
                celery,
                "-A",
                "patchplan",
                "worker",
                "-Q",
                QUEUE,
                "--pool=solo",
                "--without-mingle",
                "--without-gossip",
                "--loglevel=WARNING",
                "-n",
                f"bench{i}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for i in range(WORKERS)
    ]
    try:
        time.sleep(6)  # let both workers start and connect
        t = time.perf_counter()
        services.queue_due(now=timezone.now())
        queued = time.perf_counter() - t
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if Notification.objects.filter(pk__in=expected, status=Status.SENT).count() == len(
                expected
            ):
                break
            time.sleep(0.2)
        elapsed = time.perf_counter() - t
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(timeout=30)
        smtp.stop()
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(QUEUE)
    got = set(box.ids)
    duplicates = sum(n - 1 for n in box.ids.values())
    print(f"queued {len(expected)} delivery tasks in {queued * 1000:.0f} ms")
    print(
        f"delivered {sum(box.ids.values())} messages for {len(got)} rows in {elapsed:.1f} s "
        f"by {WORKERS} workers: {len(expected) / elapsed:.0f} messages/s"
    )
    print(f"lost: {len(expected - got)}, duplicates: {duplicates}")


if __name__ == "__main__":
    main()

# ruff: noqa: S603, S607 - runs fixed local tools (psql, pg_ctlcluster, gunicorn,
# celery) with arguments built here; database names come from our own flags.
"""Redis restarted during a reminder batch: worker and beat recover, every due email arrives.

    .venv/bin/python docs/bench/restart_redis.py --windows 100

The long version of tests/notifications/test_faults.py's broker test, with
its helpers (tests/notifications/processes.py, the aiosmtpd Mailbox of
tests/notifications/conftest.py) and with beat running instead of the test
calling the scan:
1. a fresh database `pp_load_redis` (--db; dropped and created here), --windows
   maintenance windows starting in 50 minutes, each with an owner and an
   assigned engineer, so their 1-hour reminders are due now;
2. a PRIVATE redis-server on a free port (never 6379; no persistence, so a
   restart loses every queued message, the worst case), an SMTP server on
   loopback that takes --smtp-delay seconds per message, and `celery worker`
   and `celery beat` subprocesses against that Redis, with the production
   settings (their defaults: beat scans every 60 s, rows queued longer than
   5 minutes are re-queued by the scan);
3. once beat's first scan has queued the batch and --kill-after messages
   arrived, redis-server is killed (SIGKILL), left down --down seconds, and
   started again on the same port;
4. waits (up to --timeout) until every row is sent, then prints: due,
   arrived (distinct), duplicates, missing, when the last one arrived, and
   whether worker and beat reconnected by themselves. A worker that exits
   (kombu's known restore_unacked failure on a lost Redis connection, see
   test_faults.py) is started again as a supervisor would, and reported.
Every process started here is stopped at the end.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "patchplan.settings.production"
os.environ.setdefault("SECRET_KEY", "redis-restart-secret-key-" + "z" * 40)
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1")
os.environ.pop("DEBUG", None)
PG = "postgres://postgres@127.0.0.1:5432"


def psql(sql: str) -> None:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qAtc", sql],
        check=True,
        capture_output=True,
        timeout=120,
    )


class BeatProcess:
    """`celery -A patchplan beat` with its schedule file in a temp dir."""

    def __init__(self, env: dict[str, str], workdir: str):
        from tests.notifications.processes import CELERY

        self.log = Path(workdir) / "beat.log"
        self._out = open(self.log, "w")  # noqa: SIM115 - the process writes to it
        self.proc = subprocess.Popen(
            [
                CELERY,
                "-A",
                "patchplan",
                "beat",
                "--loglevel=INFO",
                "-s",
                str(Path(workdir) / "beat-schedule"),
            ],
            cwd=ROOT,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        import signal

        if self.alive():
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)
        self._out.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=100, help="2 due reminders each")
    parser.add_argument("--smtp-delay", type=float, default=0.1)
    parser.add_argument("--kill-after", type=int, default=40, help="messages before the kill")
    parser.add_argument("--down", type=float, default=3.0, help="seconds Redis stays down")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--db", default="pp_load_redis")
    args = parser.parse_args()
    if not 1 <= args.windows <= 2000 or args.timeout > 3600:
        sys.exit("--windows 1-2000, --timeout at most 3600 s")

    workdir = tempfile.mkdtemp(prefix="pp-restart-redis-")
    os.environ["PATCHPLAN_VAR_DIR"] = workdir
    os.environ["DATABASE_URL"] = f"{PG}/{args.db}"
    psql(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
    psql(f'CREATE DATABASE "{args.db}"')

    import django

    django.setup()
    import logging
    from datetime import timedelta

    from django.core.management import call_command

    from patchplan.notifications.models import Notification, Status
    from patchplan.teams.roles import Role
    from tests import factories
    from tests.notifications.conftest import Mailbox, free_port, ids_received
    from tests.notifications.helpers import make_window_world
    from tests.notifications.processes import RedisServer, WorkerProcess, child_env

    call_command("migrate", verbosity=0, interactive=False)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd: a line per connection
    team = factories.TeamFactory(name="Redis restart", slug="redis-restart")
    planner = factories.UserFactory(username="paul-planner")
    engineer = factories.UserFactory(username="erin-engineer")
    factories.MembershipFactory(team=team, user=planner, role=Role.PLANNER)
    factories.MembershipFactory(team=team, user=engineer, role=Role.ENGINEER)
    for _ in range(args.windows):
        make_window_world(team, owner=planner, engineer=engineer, starts_in=timedelta(minutes=50))

    smtp = Mailbox(free_port())
    smtp.delay = args.smtp_delay
    smtp.start()
    broker = RedisServer(free_port())
    broker.start()
    queue = f"restart-redis-{os.getpid()}"
    env = child_env(broker=broker.url, queue=queue, email_port=smtp.port)
    env.update(DJANGO_SETTINGS_MODULE="patchplan.settings.production", CONN_MAX_AGE="60")
    t0 = time.monotonic()

    def at() -> str:
        return f"{time.monotonic() - t0:6.1f} s"

    worker = WorkerProcess(env, queue, "restart")
    beat = BeatProcess(env, workdir)
    worker_restarts = 0
    try:
        print(f"{at()} redis on :{broker.port}, smtp on :{smtp.port}, worker and beat started")
        deadline = time.monotonic() + 180
        while Notification.objects.count() == 0 or len(smtp.messages) < args.kill_after:
            if time.monotonic() > deadline:
                sys.exit(f"the batch did not start:\n{beat.output()[-2000:]}")
            time.sleep(0.05)
        due = Notification.objects.count()
        print(f"{at()} beat's scan queued {due} due reminders; {len(smtp.messages)} arrived")
        broker.stop()
        killed_at = time.monotonic()
        print(f"{at()} redis-server killed (SIGKILL; queued messages lost)")
        time.sleep(args.down)
        during = len(smtp.messages)
        broker.start()
        print(f"{at()} redis-server started again; {during} arrived so far")
        deadline = time.monotonic() + args.timeout
        reconnected = beat_sent_after = False
        beat_lines_before = beat.output().count("Sending due task")
        while time.monotonic() < deadline:
            if not worker.alive():
                worker_restarts += 1
                died = "restore_unacked" in worker.output()
                print(
                    f"{at()} worker exited ({'kombu restore_unacked' if died else 'other cause'})"
                    "; started again as a supervisor would"
                )
                worker = WorkerProcess(env, queue, f"restart{worker_restarts}")
            if not reconnected and worker.output().count("Connected to redis") >= 2:
                reconnected = True
                print(f"{at()} worker reconnected to redis by itself")
            if not beat_sent_after and beat.output().count("Sending due task") > beat_lines_before:
                beat_sent_after = True
                print(f"{at()} beat sent a scan after the restart (beat alive: {beat.alive()})")
            sent = Notification.objects.filter(status=Status.SENT).count()
            if sent == due and len(set(ids_received(smtp))) == due:
                break
            time.sleep(0.5)
        done_at = time.monotonic()
        time.sleep(2)  # a late duplicate would land now
        received = ids_received(smtp)
        counts = collections.Counter(received)
        expected = set(Notification.objects.values_list("pk", flat=True))
        statuses = collections.Counter(Notification.objects.values_list("status", flat=True))
        print(f"\ndue {due}, arrived {len(set(received))} distinct ({len(received)} messages)")
        print(f"duplicates: {sum(c - 1 for c in counts.values())}")
        print(f"missing: {len(expected - set(received))}; row statuses: {dict(statuses)}")
        print(f"all arrived {done_at - killed_at:.0f} s after the kill ({at()} in all)")
        print(
            f"worker reconnected by itself: {reconnected}; worker restarts: {worker_restarts}; "
            f"beat alive: {beat.alive()}, scanned after the restart: {beat_sent_after}"
        )
    finally:
        worker.kill()
        beat.kill()
        broker.stop()
        smtp.stop()
        from django.db import connections

        connections.close_all()
        print(f"logs: {worker.log.name}, {beat.log}")


if __name__ == "__main__":
    main()

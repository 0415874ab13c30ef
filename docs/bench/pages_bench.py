"""Every main page in one run, next to a bare Django page on the same data: prints the
table for docs/benchmarks.md ("## Pages side by side").

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pp_bench \\
        .venv/bin/python docs/bench/pages_bench.py [--servers 5000 --packages 2000]

In a scratch database "<db>_pages" (created and dropped here) it builds a fleet with
COPY (servers_bench.build_fleet: N servers x P packages, 20 pending updates each), a
50-member team, the reference plan (200 servers, 10 milestones, 20 windows, 300 tasks,
200 comments) and 200 more plans. Then for each page:
- requests/s: wrk (apt-get install wrk) against gunicorn with 2 sync workers, logged in
  as the team's admin, --duration seconds with --connections connections;
- CPU per request, queries and bytes: the same page through Django's test client in this
  process (median CPU time of --runs requests: the web side without PostgreSQL's time).
The share of bare is each page's requests/s over the bare page's in the same run.
Run twice with --servers 5000 and --servers 20000 --only fleet to see fleet search grow;
--keep keeps the scratch database for the next run (build a big fleet once, measure it
later on a quiet machine). While working on a page: --no-wrk prints CPU, queries and
bytes only (and the CPU share: the bare page's CPU over the page's), --profile prints a
cProfile (CPU time) of the --only pages.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT), str(HERE)]
os.environ["DJANGO_SETTINGS_MODULE"] = "bench_settings"
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")


def cpu_median(fn, runs: int) -> float:
    fn()
    cpu = []
    for _ in range(runs):
        started = time.process_time()
        fn()
        cpu.append((time.process_time() - started) * 1000)
    return statistics.median(cpu)


def wrk(url: str, cookie: str, *, duration: int, connections: int) -> float:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "-H", f"Cookie: {cookie}", url]
    # Our own arguments; wrk found on PATH (checked in main()).
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603, S607
    if "Non-2xx" in out or "Requests/sec:" not in out or " 0 requests in" in out:
        sys.exit(f"{url}: wrk saw error answers:\n{out}")
    return float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_page(url: str, cookie: str, deadline: float) -> None:
    """Until gunicorn's workers answer the page (they boot after the port opens)."""
    import urllib.request

    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(url, headers={"Cookie": cookie})  # noqa: S310
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
                if response.status == 200 and not response.geturl().endswith("/login/"):
                    return
        except OSError:
            pass
        time.sleep(0.5)
    sys.exit(f"gunicorn did not answer {url}")


def machine() -> str:
    model = ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout  # noqa: S607
        model = re.search(r"Model name:\s+(.+)", out).group(1).strip()
    except (OSError, AttributeError):
        pass
    return (
        f"{os.cpu_count()} CPUs {model}, {platform.platform()}, Python {platform.python_version()}"
    )


def database_exists(name: str) -> bool:
    from django.db import connection

    with connection._nodb_cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return cursor.fetchone() is not None


def build(args):
    """The data; returns (admin user, {page label: path})."""
    from django.db import connection
    from servers_bench import build_fleet

    from patchplan.accounts.models import User
    from patchplan.teams.models import Membership
    from plans.choices import PlanKind, PlanStatus, Risk
    from plans.models import Plan
    from tests.plans.test_plan_queries import LARGE, build_plan

    team, admin, server_ids = build_fleet(args.servers, args.packages)
    admin.first_name, admin.last_name = "Ada", "Admin"
    admin.save()
    people = [admin]
    for i in range(49):  # a 50-member team: the assignee pickers' real size
        user = User.objects.create_user(
            f"member{i:02d}",
            f"m{i}@bench.invalid",
            "bench-password-123",
            first_name=f"Member {i:02d}",
        )
        Membership.objects.create(team=team, user=user, role="planner" if i < 5 else "engineer")
        people.append(user)
    big = build_plan(team, admin, people, **LARGE)
    kinds, risks, statuses = PlanKind.values, Risk.values, PlanStatus.values
    Plan.objects.bulk_create(
        Plan(
            team=team,
            owner=people[i % len(people)],
            title=f"Plan {i:04d}",
            kind=kinds[i % len(kinds)],
            risk=risks[i % len(risks)],
            status=statuses[i % len(statuses)],
        )
        for i in range(200)
    )
    # The reference plan's tasks go to the admin too, so My tasks and the dashboard have rows.
    big.tasks.filter(pk__in=list(big.tasks.values_list("pk", flat=True)[:40])).update(
        assignee=admin
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return admin, page_paths(args, server_ids[0], big.pk)


def reuse(args):
    """A kept database's admin user and pages (see --keep), after its migrations."""
    from django.core.management import call_command

    from patchplan.accounts.models import User
    from plans.models import Plan
    from servers.models import Server

    call_command("migrate", verbosity=0)
    admin = User.objects.get(username="bench")
    first_server = Server.objects.filter(team__slug="bench").order_by("pk").first()
    big = Plan.objects.get(team__slug="bench", title__startswith="Big plan")
    return admin, page_paths(args, first_server.pk, big.pk)


def page_paths(args, server_id: int, plan_id: int) -> dict[str, str]:
    return {
        "bare Django 50-row page": "/bench/bare/",
        "server list (50 rows)": "/servers/",
        f"server page ({args.packages:,} packages)": f"/servers/{server_id}/",
        'fleet search "openssl"': "/servers/fleet/?name=openssl",
        'fleet search "openssl" below 3.0.9': "/servers/fleet/?name=openssl&below=3.0.9",
        "plan list": "/plans/",
        "plan page (reference size)": f"/plans/{plan_id}/",
        # What the plan page loads right after itself (htmx, hx-trigger="load"): the
        # browser asks for these five at once; report() adds up the whole view.
        "plan page: scope rows": f"/plans/{plan_id}/scope/rows/",
        "plan page: windows card": f"/plans/{plan_id}/live/windows/",
        "plan page: tasks card": f"/plans/{plan_id}/live/tasks/",
        "plan page: readiness card": f"/plans/{plan_id}/signoff/?card=1",
        "plan page: activity feed": f"/plans/{plan_id}/activity/",
        "My tasks": "/plans/my-tasks/",
        "dashboard": "/",
        "calendar month": "/calendar/",
        "reports": "/reports/",
    }


def profile(client, label: str, path: str, runs: int) -> None:
    import cProfile
    import pstats

    prof = cProfile.Profile(time.process_time)
    prof.enable()
    for _ in range(runs):
        client.get(path)
    prof.disable()
    print(f"\n### {label}: {runs} requests", file=sys.stderr)
    stats = pstats.Stats(prof, stream=sys.stderr)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=5000)
    parser.add_argument("--packages", type=int, default=2000)
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per page")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--runs", type=int, default=20, help="requests for the CPU median")
    parser.add_argument("--only", default="", help="measure only pages whose label has this")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the scratch database (<db>_pages_<servers>x<packages>) and reuse it next "
        "time, migrated: build a 20,000-server fleet once, measure it when the machine is quiet",
    )
    parser.add_argument("--no-wrk", action="store_true", help="CPU, queries and bytes only")
    parser.add_argument("--profile", action="store_true", help="cProfile the --only pages")
    args = parser.parse_args()
    if not args.no_wrk and not shutil.which("wrk"):
        sys.exit("needs wrk: apt-get install -y wrk")

    import django
    from django.conf import settings

    if "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        sys.exit("needs PostgreSQL: set DATABASE_URL=postgres://...")
    base = settings.DATABASES["default"]["NAME"]
    scratch = base + (f"_pages_{args.servers}x{args.packages}" if args.keep else "_pages")
    settings.DATABASES["default"]["TEST"] = {"NAME": scratch}
    django.setup()

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    started_at = datetime.now(UTC)
    load_before = os.getloadavg()
    kept = args.keep and database_exists(scratch)
    if kept:
        connection.close()
        connection.settings_dict["NAME"] = scratch
    else:
        connection.creation.create_test_db(verbosity=0, autoclobber=True)
    gunicorn = None
    try:
        t0 = time.monotonic()
        try:
            admin, pages = reuse(args) if kept else build(args)
        except BaseException:
            # A half-built database must not be reused by the next --keep run.
            connection.creation.destroy_test_db(scratch, verbosity=0)
            raise
        print(
            f"data {'reused' if kept else 'built'} in {time.monotonic() - t0:.0f} s",
            file=sys.stderr,
        )
        pages = {k: v for k, v in pages.items() if args.only in k or k.startswith("bare")}
        client = Client()
        client.force_login(admin)
        cookie = (
            f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        )

        figures = {}
        for label, path in pages.items():
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            with CaptureQueriesContext(connection) as queries:
                client.get(path)
            figures[label] = {
                "bytes": len(response.content),
                "queries": len(queries),
                "cpu": cpu_median(lambda p=path: client.get(p), args.runs),
                "rps": 0.0,
            }
            if args.profile and not label.startswith("bare"):
                profile(client, label, path, args.runs)
        if args.no_wrk:
            return report(args, figures, started_at, load_before)

        port = free_port()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench_settings",
            "DATABASE_URL": re.sub(
                r"/[^/]*$", f"/{connection.settings_dict['NAME']}", os.environ["DATABASE_URL"]
            ),
            "PYTHONPATH": f"{ROOT}:{HERE}",
        }
        gunicorn = subprocess.Popen(  # noqa: S603 - the venv's gunicorn, our arguments
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "patchplan.wsgi:application",
                "--workers=2",
                "--worker-class=sync",
                f"--bind=127.0.0.1:{port}",
                "--log-level=warning",
            ],
            env=env,
            cwd=ROOT,
        )
        wait_for_page(f"http://127.0.0.1:{port}/bench/bare/", cookie, time.monotonic() + 90)
        for label, path in pages.items():
            url = f"http://127.0.0.1:{port}{path}"
            wrk(url, cookie, duration=2, connections=args.connections)  # warm both workers
            figures[label]["rps"] = wrk(
                url, cookie, duration=args.duration, connections=args.connections
            )
    finally:
        if gunicorn is not None:
            gunicorn.send_signal(signal.SIGTERM)
            gunicorn.wait(timeout=30)
        if not args.keep:
            connection.creation.destroy_test_db(scratch, verbosity=0)
    report(args, figures, started_at, load_before)


def report(args, figures, started_at, load_before) -> None:
    bare = figures["bare Django 50-row page"]["rps"] or 1.0
    load_after = os.getloadavg()
    print(f"Machine: {machine()}")
    print(
        f"Run: {started_at:%Y-%m-%d %H:%M} UTC; --servers {args.servers} --packages "
        f"{args.packages} --duration {args.duration} --connections {args.connections}; load "
        f"average {load_before[0]:.1f} before, {load_after[0]:.1f} after (1 min)"
    )
    print()
    bare_cpu = figures["bare Django 50-row page"]["cpu"]
    # "CPU share" is the bare page's CPU over the page's: what the requests/s share would
    # be if CPU were all (it leaves out PostgreSQL's time), the figure to read when the
    # machine is too busy for wrk, or with --no-wrk.
    print("| page | requests/s | share of bare | CPU per request | CPU share | HTML | queries |")
    print("|---|---|---|---|---|---|---|")
    for label, f in figures.items():
        rps = "— | —" if args.no_wrk else f"{f['rps']:.0f} | {100 * f['rps'] / bare:.0f}%"
        print(
            f"| {label} | {rps} | {f['cpu']:.1f} ms | {100 * bare_cpu / f['cpu']:.0f}% | "
            f"{f['bytes'] / 1024:.0f} KB | {f['queries']} |"
        )
    view = [f for label, f in figures.items() if label.startswith("plan page")]
    if len(view) > 1:
        # The whole plan page as a reader gets it: the first answer and its four parts
        # (requests/s is not additive: the parts run on both workers at once).
        cpu = sum(f["cpu"] for f in view)
        print(
            f"| plan page, whole view (the page and its {len(view) - 1} parts) | — | — | "
            f"{cpu:.1f} ms | {100 * bare_cpu / cpu:.0f}% | "
            f"{sum(f['bytes'] for f in view) / 1024:.0f} KB | {sum(f['queries'] for f in view)} |"
        )


if __name__ == "__main__":
    main()

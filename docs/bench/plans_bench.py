"""Benchmark of the plan page and the plan list on PostgreSQL: prints figures
for docs/benchmarks.md ("## Plans").

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pp_bench \
        .venv/bin/python docs/bench/plans_bench.py

In a scratch database "<db>_plans_bench" (created and dropped here) it builds
the issue's reference plan (200 servers in scope with pending updates for the
plan's packages, 10 milestones, 20 windows, 300 tasks with checklists, 200
comments) and 2,000 more plans, then measures the median server time of the
whole plan page, its activity partial (what htmx polls every 10 s) and the plan
list (50 a page: default order, a search, a filter, page 20) through Django's
test client: the whole middleware stack, no network.
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
    """Median wall time and median CPU time of this process (the web side,
    without PostgreSQL's own time), in ms. On a busy machine the CPU figure is
    the steadier one."""
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
    parser.add_argument("--plans", type=int, default=2000)
    # 50: an 8-member team hid the cost of per-row assignee pickers (issue 18).
    parser.add_argument("--members", type=int, default=50)
    args = parser.parse_args()

    import django
    from django.conf import settings

    if "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        sys.exit("needs PostgreSQL: set DATABASE_URL=postgres://...")
    settings.DATABASES["default"]["TEST"] = {
        "NAME": settings.DATABASES["default"]["NAME"] + "_plans_bench"
    }
    settings.ALLOWED_HOSTS = ["*"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    django.setup()

    from django.db import connection
    from django.test import Client

    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from patchplan.accounts.models import User
        from patchplan.teams.models import Membership, Team
        from plans.choices import PlanKind, PlanStatus, Risk
        from plans.models import Plan
        from tests.plans.test_plan_queries import LARGE, build_plan

        team = Team.objects.create(name="Bench", slug="bench", time_zone="Europe/Berlin")
        people = [
            User.objects.create_user(f"u{i}", f"u{i}@bench.invalid", "bench-password-123")
            for i in range(args.members)
        ]
        for i, u in enumerate(people):
            Membership.objects.create(team=team, user=u, role="planner" if i == 0 else "engineer")
        big = build_plan(team, people[0], people, **LARGE)
        kinds, risks, statuses = PlanKind.values, Risk.values, PlanStatus.values
        Plan.objects.bulk_create(
            Plan(
                team=team,
                owner=people[i % len(people)],
                title=f"Plan {i:04d} {'openssl' if i % 7 == 0 else 'kernel'}",
                kind=kinds[i % len(kinds)],
                risk=risks[(i // 4) % len(risks)],
                status=statuses[i % len(statuses)],
                objective="Patch things.",
            )
            for i in range(args.plans)
        )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        client = Client()
        client.force_login(people[0])

        def get(url):
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)

        html = client.get(f"/plans/{big.pk}/").content
        if os.environ.get("BENCH_DUMP"):  # a file to write the big plan page to
            Path(os.environ["BENCH_DUMP"]).write_bytes(html)
        print(f"big plan: /plans/{big.pk}/, {len(html):,} bytes")
        # Part B's pieces of the page (timeline, windows with checks, tasks), alone:
        # the plan page minus these is the plan document's own cost.
        from django.template import Context, Template
        from django.test import RequestFactory

        pieces = Template(
            "{% load plans_schedule %}{% plan_timeline plan %}{% plan_windows plan %}"
            "{% plan_tasks plan %}"
        )
        request = RequestFactory().get("/")
        request.user = people[0]
        fresh = Plan.objects.select_related("team", "owner").get(pk=big.pk)

        figures = {
            "  of which the schedule pieces (timeline, windows, tasks; issue 4 part B)": median_ms(
                lambda: pieces.render(Context({"plan": fresh, "request": request})), args.runs
            ),
            "plan page (200 servers, 10 milestones, 20 windows, 300 tasks, 200 comments)": (
                median_ms(lambda: get(f"/plans/{big.pk}/"), args.runs)
            ),
            "activity partial (htmx poll; 200 comments, 3 status changes)": median_ms(
                lambda: get(f"/plans/{big.pk}/activity/"), args.runs
            ),
            f"plan list, {args.plans + 1} plans, default order (page 1 of 50)": median_ms(
                lambda: get("/plans/"), args.runs
            ),
            "plan list, search 'openssl'": median_ms(lambda: get("/plans/?q=openssl"), args.runs),
            "plan list, kind + risk filter, sort by title": median_ms(
                lambda: get("/plans/?kind=security_patch&risk=critical&sort=title"), args.runs
            ),
            "plan list, page 20": median_ms(lambda: get("/plans/?page=20"), args.runs),
            "YAML export of the big plan": median_ms(
                lambda: get(f"/plans/{big.pk}/export.yaml"), args.runs
            ),
        }
        order = sorted(
            figures, key=lambda k: 0 if k.startswith("plan page") else 1 if k[0] == " " else 2
        )
        figures = {k: figures[k] for k in order}
        profile = os.environ.get("BENCH_PROFILE")  # a URL path: print where its time goes
        if profile:
            import cProfile
            import pstats
            import tempfile

            with tempfile.NamedTemporaryFile(suffix=".prof") as out:
                cProfile.runctx("get(path)", {"get": get, "path": profile}, {}, out.name)
                pstats.Stats(out.name).sort_stats(
                    os.environ.get("BENCH_SORT", "cumulative")
                ).print_stats(os.environ.get("BENCH_FILTER", ""), 40)
        print(f"load average before: {os.getloadavg()[0]:.2f}")
        for name, (wall, cpu) in figures.items():
            print(f"{name}: {wall:.1f} ms wall, {cpu:.1f} ms CPU (medians of {args.runs})")
    finally:
        connection.creation.destroy_test_db(settings.DATABASES["default"]["NAME"], verbosity=0)


if __name__ == "__main__":
    main()

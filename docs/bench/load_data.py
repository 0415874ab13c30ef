"""Reference data for the load run (docs/bench/load_run.py): run as a script, prints JSON.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pp_load \
        .venv/bin/python docs/bench/load_data.py

The fleet is servers_bench.py's (5,000 servers x 2,000 packages, one team
"bench"); load_run.py clones it from `pp_bench_servers_bench` with CREATE
DATABASE ... TEMPLATE, or builds it with servers_bench.build_fleet when that
database is missing. This script migrates, then adds (once; it is
idempotent) what the fleet lacks for a team at work: 50 members (1 admin,
4 planners, 40 engineers, 3 approvers, 2 viewers, all with the same
password) and 10 plans of the issue's reference plan size (200 servers in
scope, 10 milestones, 20 windows of 10 servers, 300 tasks with two checklist
lines, tasks assigned round-robin to the engineers). It prints what the load
users need: names, roles, plan ids, server ids and each user's task ids.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patchplan.settings.production")
os.environ.setdefault("SECRET_KEY", "load-only-secret-key-" + "x" * 40)

PASSWORD = "load-password-123"  # noqa: S105 - scratch reference data
USERS = 50
PLANS = 10


def _role(i: int) -> str:
    if i == 0:
        return "admin"
    if i < 5:
        return "planner"
    if i < 45:
        return "engineer"
    if i < 48:
        return "approver"
    return "viewer"


def populate() -> dict:
    """Members and plans for the load run; returns what the load users need."""
    from datetime import datetime, timedelta
    from datetime import time as dtime
    from zoneinfo import ZoneInfo

    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from patchplan.accounts.models import User
    from patchplan.teams.models import Membership, OffPeakPeriod, Team
    from plans.models import ChecklistItem, MaintenanceWindow, Milestone, Plan, Task, WindowServer
    from servers.models import Server

    team = Team.objects.filter(slug="bench").first()
    if team is None:  # no fleet cloned: build servers_bench's (slow: minutes)
        from servers_bench import build_fleet

        team, _user, _ids = build_fleet(5000, 2000)
    names = [f"load{i:02d}" for i in range(USERS)]
    if not User.objects.filter(username=names[-1]).exists():
        with transaction.atomic():
            hashed = make_password(PASSWORD)  # one Argon2 hash, shared by all
            people = User.objects.bulk_create(
                User(username=n, email=f"{n}@load.invalid", password=hashed) for n in names
            )
            Membership.objects.bulk_create(
                Membership(team=team, user=u, role=_role(i)) for i, u in enumerate(people)
            )
            if not OffPeakPeriod.objects.filter(team=team).exists():
                OffPeakPeriod.objects.bulk_create(
                    OffPeakPeriod(team=team, weekday=d, starts_at=dtime(22), ends_at=dtime(5))
                    for d in range(7)
                )
            engineers = [u for i, u in enumerate(people) if _role(i) == "engineer"]
            server_ids = list(
                Server.objects.filter(team=team).order_by("pk").values_list("pk", flat=True)
            )
            start = datetime(2030, 1, 1, 23, tzinfo=ZoneInfo("Europe/Berlin"))
            for p in range(PLANS):
                plan = Plan.objects.create(
                    team=team, title=f"Load plan {p}", owner=people[1 + p % 4]
                )
                scope = server_ids[p * 200 : (p + 1) * 200]
                plan.servers.add(*scope)
                milestones = Milestone.objects.bulk_create(
                    Milestone(plan=plan, name=f"phase {i}", position=i) for i in range(10)
                )
                windows = MaintenanceWindow.objects.bulk_create(
                    MaintenanceWindow(
                        plan=plan,
                        milestone=milestones[i % 10],
                        starts_at=start + timedelta(days=p * 20 + i),
                        ends_at=start + timedelta(days=p * 20 + i, hours=2),
                    )
                    for i in range(20)
                )
                WindowServer.objects.bulk_create(
                    WindowServer(
                        window=w, server_id=scope[(i * 10 + j) % 200], expected_downtime_minutes=5
                    )
                    for i, w in enumerate(windows)
                    for j in range(10)
                )
                tasks = Task.objects.bulk_create(
                    Task(
                        plan=plan,
                        title=f"task {i}",
                        assignee=engineers[(p * 300 + i) % len(engineers)],
                        milestone=milestones[i % 10],
                        position=i,
                    )
                    for i in range(300)
                )
                ChecklistItem.objects.bulk_create(
                    ChecklistItem(task=t, text=f"line {j}", position=j)
                    for t in tasks
                    for j in range(2)
                )
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    members = {
        m.user.username: m.role
        for m in Membership.objects.filter(team=team, user__username__in=names).select_related(
            "user"
        )
    }
    tasks: dict[str, list[int]] = {n: [] for n in names}
    for username, task_id in Task.objects.filter(plan__team=team).values_list(
        "assignee__username", "pk"
    ):
        if username in tasks:
            tasks[username].append(task_id)
    all_tasks = sorted(t for ids in tasks.values() for t in ids)
    for n in names:
        if members[n] in ("admin", "planner"):
            tasks[n] = all_tasks[:: len(names)]  # planners may move any task
    return {
        "password": PASSWORD,
        "users": [{"name": n, "role": members[n], "tasks": tasks[n]} for n in names],
        "plans": list(
            Plan.objects.filter(team=team, is_template=False).values_list("pk", flat=True)
        ),
        "servers": list(
            Server.objects.filter(team=team).order_by("pk").values_list("pk", flat=True)
        ),
    }


def main() -> None:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    print(json.dumps(populate()))


if __name__ == "__main__":
    main()

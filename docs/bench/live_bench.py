# ruff: noqa: S603, S607, S608 - runs fixed local tools (psql, gunicorn, redis-server) with
# arguments built here; database names come from our own flags.
"""Live plan pages under load: 200 watchers polling, one person saving; prints figures.

    .venv/bin/python docs/bench/live_bench.py                       # 200 watchers, 3 workers
    .venv/bin/python docs/bench/live_bench.py --watchers 20 --idle 15 --saves 3   # a quick try

What it does, all on 127.0.0.1:
1. a fresh database `pp_live_bench` (--db; dropped and created here), migrated, with one
   team, --plans plans (default 10) and one member per watcher (default 200), plus a
   planner who saves; each member gets a session (Django's session store, as a login
   makes one; no password hashing in the measurement);
2. a PRIVATE redis-server on a free port as the shared cache (CACHE_URL), and gunicorn
   (sync workers, --workers, default 3) with the production settings (DEBUG off,
   CONN_MAX_AGE, CACHE_URL=redis), as docker-compose runs it;
3. --watchers simulated open plan pages, spread over the plans, in one asyncio loop:
   each polls /plans/<id>/live/?rev=&here= every 1.5 s as static/js/live.js does
   (first one at a random offset), keeps the counter and presence tag it is given,
   and when a section it shows moved fetches that section (HX-Request), as live.js does;
4. after --warmup seconds, an idle phase (--idle seconds): nobody saves. Prints the
   poll rate, the answers (204 / 200), and the CPU the gunicorn processes (master
   and workers, from /proc) and redis-server used, per minute;
5. a save phase: the planner saves a plan's rollback plan --saves times, --save-every
   seconds apart (a different plan each time, round robin), while --page-clients
   clients request ordinary pages (plan page, plan list; think time 0.5-1.5 s).
   For each save and each watcher of that plan: the time from the save's answer
   (committed) until the watcher's poll reported the change, and until it had
   fetched the section. Prints p50/p95/max of both, the share within 2 s, and
   p50/p95 of the ordinary pages, against the same pages with no watchers
   (a baseline phase of the same length before the watchers start).
Wall-clock figures depend on the machine's load: the load average is printed, and the
CPU figures are process CPU time. gunicorn and redis-server are stopped at the end (by
pid); the database is left for a look (drop it with --drop).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
PY = str(ROOT / ".venv" / "bin" / "python")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
HOST = "127.0.0.1"
PG = "postgres://postgres@127.0.0.1:5432"
POLL_EVERY = 1.5  # seconds, as static/js/live.js
CLK = os.sysconf("SC_CLK_TCK")

SEED = r"""
import json, os, sys
sys.path.insert(0, os.environ["PP_ROOT"])
import django
django.setup()
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from patchplan.accounts.models import User
from patchplan.teams.models import Membership, Team
from patchplan.teams.roles import Role
from plans.services.plans import plan_create

watchers, plans = int(os.environ["PP_WATCHERS"]), int(os.environ["PP_PLANS"])
team = Team.objects.create(name="Live bench", slug="live-bench")
planner = User.objects.create(
    username="saver", email="saver@bench.invalid", first_name="Sam", last_name="Saver"
)
Membership.objects.create(team=team, user=planner, role=Role.PLANNER)
users = User.objects.bulk_create(
    User(username=f"watcher{i:03d}", email=f"watcher{i:03d}@bench.invalid",
         first_name="Watcher", last_name=f"{i:03d}")
    for i in range(watchers)
)
Membership.objects.bulk_create(Membership(team=team, user=u, role=Role.ENGINEER) for u in users)
plan_ids = [
    plan_create(
        team=team, title=f"Live bench plan {n}", owner=planner, by=planner,
        objective="Patch.", rollback_plan="Reboot into the old kernel.",
    ).pk
    for n in range(plans)
]

def session_for(user):
    s = SessionStore()
    s[SESSION_KEY] = str(user.pk)
    s[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    s[HASH_SESSION_KEY] = user.get_session_auth_hash()
    s["patchplan_team_id"] = team.pk
    s.create()
    return s.session_key

print(json.dumps({
    "plans": plan_ids,
    "saver": session_for(planner),
    "watchers": [session_for(u) for u in users],
}))
"""


def psql(sql: str, db: str = "postgres") -> str:
    done = subprocess.run(
        ["psql", "-h", HOST, "-U", "postgres", "-d", db, "-Atc", sql],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode:
        sys.exit(f"psql failed: {done.stderr}")
    return done.stdout.strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def cpu_seconds(pids) -> float:
    """utime + stime of the processes (from /proc; a process gone counts 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLK


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.append(int(entry.name))
    return found


def pct(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def http(
    port: int, method: str, path: str, cookies: dict, body: dict | None = None, **headers
) -> tuple[int, dict, str]:
    """One HTTP/1.1 request on its own connection (gunicorn's sync workers close each)."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        head = {
            "Host": f"{HOST}:{port}",
            "Connection": "close",
            "User-Agent": "patchplan-live-bench",
            "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
            **{k.replace("_", "-"): v for k, v in headers.items()},
        }
        data = b""
        if body is not None:
            data = urllib.parse.urlencode(body).encode()
            head["Content-Type"] = "application/x-www-form-urlencoded"
            head["Origin"] = f"http://{HOST}:{port}"
        head["Content-Length"] = str(len(data))
        lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in head.items()), "", ""]
        writer.write("\r\n".join(lines).encode() + data)
        await writer.drain()
        raw = await reader.read()
    finally:
        writer.close()
    head_raw, _, payload = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head_raw.decode("latin-1").split("\r\n")
    answer = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        if name.lower() == "set-cookie":
            key, _, rest = value.strip().partition("=")
            cookies[key] = rest.split(";", 1)[0]
        answer[name.lower()] = value.strip()
    return int(status_line.split()[1]), answer, payload.decode("utf-8", "replace")


@dataclass
class Watcher:
    plan_id: int
    cookies: dict
    rev: str = "0"
    here: str = ""
    known: dict = field(default_factory=dict)
    answers: dict = field(default_factory=dict)  # status -> count, for the current phase
    seen: dict = field(default_factory=dict)  # save number -> (reported at, fetched at)
    errors: int = 0


@dataclass
class Bench:
    port: int
    plans: list
    saves: list = field(default_factory=list)  # (number, plan_id, answered at)
    pages: list = field(default_factory=list)  # (phase, kind, ms, ok)
    stop: bool = False
    phase: str = "warmup"


async def watch(bench: Bench, w: Watcher, rng: random.Random) -> None:
    """live.js: poll every 1.5 s; fetch a section that moved."""
    await asyncio.sleep(rng.uniform(0, POLL_EVERY))
    while not bench.stop:
        started = time.monotonic()
        path = f"/plans/{w.plan_id}/live/?rev={w.rev}&here={w.here}&editing="
        try:
            status, _h, text = await http(
                bench.port, "GET", path, w.cookies, Accept="application/json"
            )
        except OSError:
            status, text = 0, ""
        w.answers[status] = w.answers.get(status, 0) + 1
        if status == 200:
            data = json.loads(text)
            w.rev, w.here = str(data["rev"]), data["here_tag"]
            moved = [
                name
                for name, entry in (data["sections"] or {}).items()
                if w.known.setdefault(name, entry["rev"]) != entry["rev"] or data["lost"]
            ]
            for name in moved:
                w.known[name] = data["sections"][name]["rev"]
            if "rollback_plan" in moved:
                reported = time.monotonic()
                section = f"/plans/{w.plan_id}/doc/rollback_plan/"
                status, _h, text = await http(
                    bench.port, "GET", section, w.cookies, HX_Request="true"
                )
                match = re.search(r"Save (\d+)\b", text)
                if status == 200 and match:
                    w.seen.setdefault(int(match[1]), (reported, time.monotonic()))
                elif status != 200:
                    w.errors += 1
        elif status not in (204,):
            w.errors += 1
        await asyncio.sleep(max(0.0, POLL_EVERY - (time.monotonic() - started)))


async def browse(bench: Bench, cookies: dict, rng: random.Random) -> None:
    """Ordinary page requests: the plan page and the plan list, with a think time."""
    while not bench.stop:
        kind = rng.choice(["plan_page", "plan_list"])
        path = f"/plans/{rng.choice(bench.plans)}/" if kind == "plan_page" else "/plans/"
        started = time.monotonic()
        try:
            status, _h, _t = await http(bench.port, "GET", path, cookies)
        except OSError:
            status = 0
        ms = (time.monotonic() - started) * 1000
        if bench.phase in ("baseline", "saves"):
            bench.pages.append((bench.phase, kind, ms, status == 200))
        await asyncio.sleep(rng.uniform(0.5, 1.5))


async def save_loop(bench: Bench, cookies: dict, count: int, every: float) -> None:
    """The planner saves each plan's rollback plan in turn: "Save N" in the text."""
    texts = dict.fromkeys(bench.plans, "Reboot into the old kernel.")
    for n in range(1, count + 1):
        plan_id = bench.plans[(n - 1) % len(bench.plans)]
        status, _h, _t = await http(bench.port, "GET", f"/plans/{plan_id}/", cookies)
        text = f"Save {n}: boot the previous kernel."
        body = {"rollback_plan": text, "base-rollback_plan": texts[plan_id]}
        status, _h, _t = await http(
            bench.port,
            "POST",
            f"/plans/{plan_id}/doc/rollback_plan/",
            cookies,
            body,
            HX_Request="true",
            X_CSRFToken=cookies.get("csrftoken", ""),
        )
        if status != 200:
            sys.exit(f"save {n} answered {status}")
        bench.saves.append((n, plan_id, time.monotonic()))
        texts[plan_id] = text
        await asyncio.sleep(every)


def summary(label: str, values: list[float]) -> str:
    return (
        f"{label}: n={len(values)} p50 {pct(values, 50):.0f} ms, p95 {pct(values, 95):.0f} ms, "
        f"max {max(values, default=float('nan')):.0f} ms"
    )


async def run(args, port: int, seeded: dict, pids) -> None:
    bench = Bench(port=port, plans=seeded["plans"])
    saver = {"sessionid": seeded["saver"]}
    browsers = [
        asyncio.create_task(browse(bench, {"sessionid": seeded["saver"]}, random.Random(i)))
        for i in range(args.page_clients)
    ]
    save_phase = args.saves * args.save_every
    # Baseline: the ordinary pages with nobody watching (after 3 s for the workers'
    # first requests: imports, connections).
    await asyncio.sleep(3)
    bench.phase = "baseline"
    await asyncio.sleep(save_phase)
    bench.phase = "warmup"
    for t in browsers:
        t.cancel()
    watchers = [
        Watcher(plan_id=bench.plans[i % len(bench.plans)], cookies={"sessionid": key})
        for i, key in enumerate(seeded["watchers"])
    ]
    tasks = [asyncio.create_task(watch(bench, w, random.Random(i))) for i, w in enumerate(watchers)]
    await asyncio.sleep(args.warmup)

    # Idle: nobody saves.
    for w in watchers:
        w.answers = {}
    bench.phase = "idle"
    cpu0, client0, t0 = cpu_seconds(pids()), time.process_time(), time.monotonic()
    await asyncio.sleep(args.idle)
    cpu1, client1, t1 = cpu_seconds(pids()), time.process_time(), time.monotonic()
    answers: dict = {}
    for w in watchers:
        for k, v in w.answers.items():
            answers[k] = answers.get(k, 0) + v
    polls = sum(answers.values())
    minutes = (t1 - t0) / 60
    print(
        f"\nidle, {len(watchers)} watchers, {t1 - t0:.0f} s: {polls / (t1 - t0):.1f} polls/s "
        f"(answers {dict(sorted(answers.items()))}); server CPU {(cpu1 - cpu0) / minutes:.1f} s "
        f"per minute ({(cpu1 - cpu0) / (t1 - t0) * 100:.0f}% of one core; gunicorn + redis), "
        f"client CPU {(client1 - client0) / minutes:.1f} s per minute",
        flush=True,
    )

    # Saves, with ordinary pages requested meanwhile.
    bench.phase = "saves"
    browsers = [
        asyncio.create_task(browse(bench, {"sessionid": seeded["saver"]}, random.Random(100 + i)))
        for i in range(args.page_clients)
    ]
    cpu2, t2 = cpu_seconds(pids()), time.monotonic()
    await save_loop(bench, saver, args.saves, args.save_every)
    await asyncio.sleep(3 * POLL_EVERY)  # the last save's answers
    cpu3, t3 = cpu_seconds(pids()), time.monotonic()
    bench.stop = True
    await asyncio.gather(*tasks, *browsers, return_exceptions=True)

    reported, fetched, missing = [], [], 0
    for n, plan_id, at in bench.saves:
        for w in watchers:
            if w.plan_id != plan_id:
                continue
            if n in w.seen:
                reported.append((w.seen[n][0] - at) * 1000)
                fetched.append((w.seen[n][1] - at) * 1000)
            else:
                missing += 1
    within = sum(1 for ms in fetched if ms <= 2000)
    print(f"\n{len(bench.saves)} saves, {len(reported) + missing} watcher-saves:")
    print("  " + summary("save answered -> watcher's poll reports it", reported))
    print("  " + summary("save answered -> watcher has the section", fetched))
    print(
        f"  within 2 s: {within} of {len(fetched) + missing} "
        f"({within / max(1, len(fetched) + missing) * 100:.1f}%); never seen: {missing}"
    )
    print(
        f"  server CPU during the save phase: {(cpu3 - cpu2) / ((t3 - t2) / 60):.1f} s per minute"
    )
    for phase, title in (("baseline", "no watchers"), ("saves", f"{len(watchers)} watchers")):
        for kind in ("plan_page", "plan_list"):
            ms = [m for p, k, m, ok in bench.pages if p == phase and k == kind and ok]
            bad = sum(1 for p, k, _m, ok in bench.pages if p == phase and k == kind and not ok)
            print(f"  {kind:<9} with {title:<13} " + summary("", ms)[2:] + f", errors {bad}")
    errors = sum(w.errors for w in watchers)
    print(f"  watcher errors (not 200/204, or a failed section fetch): {errors}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watchers", type=int, default=200)
    parser.add_argument("--plans", type=int, default=10, help="the watchers spread over them")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers (2-4)")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds")
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of the idle phase")
    parser.add_argument("--saves", type=int, default=10)
    parser.add_argument("--save-every", type=float, default=5.0, help="seconds between saves")
    parser.add_argument("--page-clients", type=int, default=4)
    parser.add_argument("--db", default="pp_live_bench")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    args = parser.parse_args()
    if not 1 <= args.watchers <= 1000 or not 1 <= args.plans <= args.watchers:
        sys.exit("--watchers 1-1000, --plans 1..watchers")
    if not re.fullmatch(r"pp_[a-z0-9_]+", args.db):
        sys.exit("--db must look like pp_name")

    from tests.notifications.processes import RedisServer

    var = ROOT / "var" / "live_bench"
    var.mkdir(parents=True, exist_ok=True)
    psql(f'DROP DATABASE IF EXISTS "{args.db}"')
    psql(f'CREATE DATABASE "{args.db}"')
    redis = RedisServer(free_port())
    redis.start()
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="patchplan.settings.production",
        DATABASE_URL=f"{PG}/{args.db}",
        CACHE_URL=redis.url,
        SECRET_KEY="live-bench-secret-key-" + "z" * 40,
        ALLOWED_HOSTS=HOST,
        SECURE_SSL_REDIRECT="false",
        PATCHPLAN_VAR_DIR=str(var),
        STATIC_ROOT=str(var / "staticfiles"),
        LOG_LEVEL="WARNING",
        PP_ROOT=str(ROOT),
        PP_WATCHERS=str(args.watchers),
        PP_PLANS=str(args.plans),
    )
    env.pop("DEBUG", None)
    gunicorn = None
    log_path = var / "gunicorn.log"
    try:
        for cmd in (["migrate", "-v0"], ["collectstatic", "--noinput", "-v0"]):
            subprocess.run([PY, "manage.py", *cmd], cwd=ROOT, env=env, check=True)
        done = subprocess.run(
            [PY, "-"], input=SEED, cwd=ROOT, env=env, capture_output=True, text=True
        )
        if done.returncode:
            sys.exit(f"seeding failed:\n{done.stderr}")
        seeded = json.loads(done.stdout)
        port = free_port()
        with open(log_path, "w") as log:
            gunicorn = subprocess.Popen(
                [GUNICORN, "patchplan.wsgi", "--workers", str(args.workers),
                 "--worker-class", "sync", "--bind", f"{HOST}:{port}", "--timeout", "60"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while not _answers(port):
            if time.monotonic() > deadline or gunicorn.poll() is not None:
                sys.exit(f"gunicorn did not start; see {log_path}")
            time.sleep(0.2)
        redis_pid = int(Path(redis.pidfile).read_text())

        def pids():
            return [gunicorn.pid, *children(gunicorn.pid), redis_pid]

        load_before = os.getloadavg()
        print(
            f"gunicorn {args.workers} sync workers on {HOST}:{port} (production settings, "
            f"CACHE_URL={redis.url}), db {args.db}; {args.watchers} watchers over "
            f"{args.plans} plans, polling every {POLL_EVERY} s; {args.page_clients} page "
            f"clients; load average {load_before[0]:.2f} ({os.cpu_count()} CPUs)",
            flush=True,
        )
        asyncio.run(run(args, port, seeded, pids))
        print(f"\nload average: {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after")
    finally:
        if gunicorn is not None and gunicorn.poll() is None:
            os.killpg(gunicorn.pid, signal.SIGTERM)
            try:
                gunicorn.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(gunicorn.pid, signal.SIGKILL)
        redis.stop()
        if args.drop:
            psql(f'DROP DATABASE IF EXISTS "{args.db}"')


def _answers(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1) as s:
            head = f"GET /healthz HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n"
            s.sendall(head.encode())
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


if __name__ == "__main__":
    main()

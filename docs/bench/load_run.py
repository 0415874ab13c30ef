# ruff: noqa: S603, S607, S608 - runs fixed local tools (psql, pg_ctlcluster, gunicorn,
# celery) with arguments built here; database names come from our own flags.
"""Load run: gunicorn on PostgreSQL on the reference data, 50 logged-in users; prints figures.

    .venv/bin/python docs/bench/load_run.py                      # 50 users, 300 s
    .venv/bin/python docs/bench/load_run.py --duration 60 --restart-postgres-at 20

What it does, all on 127.0.0.1:
1. the database `pp_load` (--db): cloned once from `pp_bench_servers_bench`
   (servers_bench.py --keep: 5,000 servers x 2,000 packages) with CREATE
   DATABASE ... TEMPLATE, then load_data.py migrates it and adds 50 members
   and 10 reference-size plans (see that file). Kept for the next run.
2. collectstatic, then gunicorn (sync workers, --workers, default 4) with
   the production settings: DEBUG off, SECRET_KEY set, ALLOWED_HOSTS
   127.0.0.1, SECURE_SSL_REDIRECT=false. The session and CSRF cookies stay
   Secure as in production: this client keeps cookies itself and sends them
   over plain HTTP (Secure only tells browsers), so no setting changes.
3. --users threads (default 50) each log in (GET the form, POST it with the
   CSRF token), then until --duration is over pick a page by weight and
   wait a think time (uniform --think-min..--think-max seconds): dashboard,
   plan list, plan page, server list, server page, and an htmx task status
   change (POST with X-CSRFToken and HX-Request, as htmx sends it; engineers
   move their own tasks, planners any, approvers and viewers only read).
   Any answer other than 200, and any connection error, is an error.
4. prints requests/s, errors, and p50/p95/p99 per page kind (and writes
   every request to var/load/samples-*.csv; gunicorn's log is var/load/gunicorn-*.log). With
   --restart-postgres-at S it restarts the PostgreSQL cluster S seconds in
   (pg_ctlcluster ... restart; it is shared, so only when asked), waits for
   pg_isready and prints errors per second around the restart, the error
   window and how long after PostgreSQL was back the first good answer came.
   gunicorn is not restarted: CONN_HEALTH_CHECKS replaces dead connections.
gunicorn is stopped at the end (its process group, by pid).
"""

from __future__ import annotations

import argparse
import collections
import csv
import http.client
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PY = str(ROOT / ".venv" / "bin" / "python")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
HOST = "127.0.0.1"
PG = "postgres://postgres@127.0.0.1:5432"
TEMPLATE_DB = "pp_bench_servers_bench"
# Page kinds and their share of the requests.
WEIGHTS = {
    "dashboard": 20,
    "plan_list": 15,
    "plan_page": 20,
    "server_list": 15,
    "server_page": 15,
    "task_status_htmx": 15,
}


@dataclass
class Sample:
    kind: str
    start: float  # seconds since the measurement began
    ms: float
    ok: bool
    detail: str = ""


@dataclass
class Results:
    samples: list[Sample] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, s: Sample) -> None:
        with self.lock:
            self.samples.append(s)


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


def prepare(db: str, env: dict[str, str]) -> dict:
    if not psql(f"SELECT 1 FROM pg_database WHERE datname = '{db}'"):
        if psql(f"SELECT 1 FROM pg_database WHERE datname = '{TEMPLATE_DB}'"):
            print(f"cloning {TEMPLATE_DB} into {db} ...", flush=True)
            psql(f'CREATE DATABASE "{db}" TEMPLATE "{TEMPLATE_DB}" STRATEGY FILE_COPY')
        else:
            print(f"{TEMPLATE_DB} missing: building the fleet (minutes) ...", flush=True)
            psql(f'CREATE DATABASE "{db}"')
    done = subprocess.run(
        [PY, str(HERE / "load_data.py")], env=env, capture_output=True, text=True, timeout=3600
    )
    if done.returncode:
        sys.exit(done.stderr)
    return json.loads(done.stdout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Session:
    """One user's cookies over plain HTTP/1.1 (gunicorn's sync workers close
    each connection, so each request opens its own)."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, body: dict | None = None, headers: dict | None = None
    ) -> tuple[int, str, dict]:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        try:
            h = {"Host": f"{HOST}:{self.port}", "User-Agent": "patchplan-load"}
            if self.cookies:
                h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            data = None
            if body is not None:
                data = urllib.parse.urlencode(body)
                h["Content-Type"] = "application/x-www-form-urlencoded"
                h["Origin"] = f"http://{HOST}:{self.port}"
            h.update(headers or {})
            conn.request(method, path, body=data, headers=h)
            resp = conn.getresponse()
            text = resp.read().decode("utf-8", "replace")
            for name, value in resp.getheaders():
                if name.lower() == "set-cookie":
                    k, _, rest = value.partition("=")
                    v = rest.split(";", 1)[0]
                    if v == '""' or "max-age=0" in value.lower():
                        self.cookies.pop(k, None)
                    else:
                        self.cookies[k] = v
            return resp.status, text, dict(resp.getheaders())
        finally:
            conn.close()

    def login(self, username: str, password: str) -> None:
        status, text, _ = self.request("GET", "/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text)
        if status != 200 or not token:
            raise RuntimeError(f"login form: {status}")
        status, _, headers = self.request(
            "POST",
            "/accounts/login/",
            {"username": username, "password": password, "csrfmiddlewaretoken": token[1]},
            {"Referer": f"http://{HOST}:{self.port}/accounts/login/"},
        )
        if status != 302 or "sessionid" not in self.cookies:
            raise RuntimeError(f"login {username}: {status} {headers.get('Location')}")


def user_loop(
    sess: Session,
    user: dict,
    data: dict,
    args,
    t0: float,
    stop_at: float,
    results: Results,
    seed: int,
) -> None:
    rng = random.Random(seed)
    kinds = list(WEIGHTS)
    weights = [WEIGHTS[k] for k in kinds]
    statuses = ["todo", "in_progress", "done", "blocked"]
    while time.monotonic() < stop_at:
        kind = rng.choices(kinds, weights)[0]
        if kind == "task_status_htmx" and not user["tasks"]:
            kind = "plan_page"  # approvers and viewers read instead
        method, body, headers = "GET", None, {}
        if kind == "dashboard":
            path = "/"
        elif kind == "plan_list":
            path = "/plans/"
        elif kind == "plan_page":
            path = f"/plans/{rng.choice(data['plans'])}/"
        elif kind == "server_list":
            path = "/servers/" + ("" if rng.random() < 0.5 else f"?page={rng.randint(2, 100)}")
        elif kind == "server_page":
            path = f"/servers/{rng.choice(data['servers'])}/"
        else:
            task = rng.choice(user["tasks"])
            path, method = f"/plans/tasks/{task}/status/", "POST"
            body = {"status": rng.choice(statuses)}
            headers = {
                "HX-Request": "true",
                "HX-Current-URL": f"http://{HOST}:{sess.port}/plans/my-tasks/",
                "X-CSRFToken": sess.cookies.get("csrftoken", ""),
            }
        start = time.monotonic()
        try:
            status, _text, _h = sess.request(method, path, body, headers)
            ok, detail = status == 200, str(status)
        except Exception as exc:  # noqa: BLE001 - every failure is a counted error
            ok, detail = False, type(exc).__name__
        end = time.monotonic()
        results.add(Sample(kind, start - t0, (end - start) * 1000, ok, detail))
        time.sleep(rng.uniform(args.think_min, args.think_max))


def restart_postgres(t0: float, at: float, cluster: list[str], marks: dict) -> None:
    time.sleep(max(0.0, t0 + at - time.monotonic()))
    marks["cmd_start"] = time.monotonic() - t0
    done = subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, "restart"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    marks["cmd_end"] = time.monotonic() - t0
    marks["cmd_rc"] = done.returncode
    marks["cmd_err"] = done.stderr.strip()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if subprocess.run(["pg_isready", "-q", "-h", HOST]).returncode == 0:
            break
        time.sleep(0.05)
    marks["ready"] = time.monotonic() - t0


def pct(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def report(results: Results, duration: float, marks: dict) -> None:
    samples = sorted(results.samples, key=lambda s: s.start)
    errors = [s for s in samples if not s.ok]
    print(
        f"\n{len(samples)} requests in {duration:.0f} s: {len(samples) / duration:.1f} req/s, "
        f"{len(errors)} errors"
    )
    print(f"{'kind':<18} {'count':>6} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    by_kind = collections.defaultdict(list)
    for s in samples:
        by_kind[s.kind].append(s)
    rows = [*WEIGHTS, "all"]
    for kind in rows:
        group = samples if kind == "all" else by_kind.get(kind, [])
        ms = [s.ms for s in group if s.ok]
        if not group:
            continue
        print(
            f"{kind:<18} {len(group):>6} {sum(not s.ok for s in group):>6} "
            f"{pct(ms, 50):>8.0f} {pct(ms, 95):>8.0f} {pct(ms, 99):>8.0f}"
        )
    if errors:
        kinds = collections.Counter(s.detail for s in errors)
        print("error answers:", dict(kinds))
    if "cmd_start" in marks:
        cs, ce, ready = marks["cmd_start"], marks["cmd_end"], marks["ready"]
        print(
            f"\nPostgreSQL restart: command at {cs:.2f} s, returned at {ce:.2f} s "
            f"(rc {marks['cmd_rc']} {marks['cmd_err']}), pg_isready at {ready:.2f} s"
        )
        print("second  requests  errors")
        for sec in range(int(cs) - 5, int(ready) + 11):
            in_sec = [s for s in samples if sec <= s.start < sec + 1]
            err = sum(not s.ok for s in in_sec)
            print(
                f"{sec:>6}  {len(in_sec):>8}  {err:>6}"
                + ("  <- down" if cs < sec + 1 and sec <= ready else "")
            )
        # Requests that ended before the restart command or began after PostgreSQL
        # was ready (plus 1 s for gunicorn's health check) must not fail.
        inside = [s for s in errors if cs <= s.start + s.ms / 1000 and s.start <= ready + 1.0]
        outside = [s for s in errors if s not in inside]
        if inside:
            first = min(s.start for s in inside)
            last = max(s.start + s.ms / 1000 for s in inside)
            print(
                f"{len(inside)} errors during the restart, from {first:.2f} s to {last:.2f} s "
                f"({last - first:.2f} s window)"
            )
        print(
            f"errors outside the down time: {len(outside)} "
            f"{dict(collections.Counter(s.kind for s in outside))}"
        )
        after = [s for s in samples if s.start >= ready and s.ok]
        if after:
            print(f"first good answer after ready: +{after[0].start - ready:.2f} s")
        late = [s for s in samples if s.start >= ready + 1.0]
        print(
            f"after ready+1 s: {len(late)} requests, {sum(not s.ok for s in late)} errors "
            "(gunicorn not restarted)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of load")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (2-4)")
    parser.add_argument("--think-min", type=float, default=1.0)
    parser.add_argument("--think-max", type=float, default=5.0)
    parser.add_argument("--db", default="pp_load")
    parser.add_argument("--restart-postgres-at", type=float, default=None, metavar="SECONDS")
    parser.add_argument("--pg-cluster", default="15 main", help="version and name")
    args = parser.parse_args()
    if not 0 < args.duration <= 3600 or not 1 <= args.users <= 200:
        sys.exit("--duration must be 0-3600 s and --users 1-200")
    if not 1 <= args.workers <= 8:
        sys.exit("--workers 1-8")
    if args.restart_postgres_at is not None and not 0 < args.restart_postgres_at < args.duration:
        sys.exit("--restart-postgres-at must fall inside --duration")

    var = ROOT / "var" / "load"
    var.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="patchplan.settings.production",
        DATABASE_URL=f"{PG}/{args.db}",
        SECRET_KEY="load-run-secret-key-" + "y" * 40,
        ALLOWED_HOSTS=HOST,
        SECURE_SSL_REDIRECT="false",
        PATCHPLAN_VAR_DIR=str(var),
        STATIC_ROOT=str(var / "staticfiles"),
        LOG_LEVEL="WARNING",
    )
    env.pop("DEBUG", None)
    data = prepare(args.db, env)
    subprocess.run(
        [PY, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    port = free_port()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    log_path = var / f"gunicorn-{stamp}.log"
    log = open(log_path, "w")  # noqa: SIM115 - gunicorn writes to it
    gunicorn = subprocess.Popen(
        [
            GUNICORN,
            "patchplan.wsgi",
            "--workers",
            str(args.workers),
            "--worker-class",
            "sync",
            "--bind",
            f"{HOST}:{port}",
            "--timeout",
            "60",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if Session(port).request("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or gunicorn.poll() is not None:
                sys.exit(f"gunicorn did not start; see {log_path}")
            time.sleep(0.2)
        users = data["users"][: args.users]
        sessions = [Session(port) for _ in users]
        for sess, user in zip(sessions, users, strict=True):
            sess.login(user["name"], data["password"])
        print(
            f"gunicorn {args.workers} sync workers on {HOST}:{port}, db {args.db}: "
            f"{len(data['servers'])} servers, {len(data['plans'])} plans; "
            f"{len(users)} users logged in; think {args.think_min}-{args.think_max} s; "
            f"{args.duration:.0f} s",
            flush=True,
        )
        results, marks = Results(), {}
        t0, wall0 = time.monotonic(), time.time()
        stop_at = t0 + args.duration
        threads = [
            threading.Thread(
                target=user_loop,
                args=(sess, user, data, args, t0, stop_at, results, i),
                daemon=True,
            )
            for i, (sess, user) in enumerate(zip(sessions, users, strict=True))
        ]
        if args.restart_postgres_at is not None:
            threads.append(
                threading.Thread(
                    target=restart_postgres,
                    args=(t0, args.restart_postgres_at, args.pg_cluster.split(), marks),
                    daemon=True,
                )
            )
        load_before = os.getloadavg()[0]
        for i, t in enumerate(threads):
            t.start()
            if i < len(users):
                time.sleep(min(2.0, args.duration / 10) / len(users))  # spread the first requests
        for t in threads:
            t.join(timeout=args.duration + 180)
        elapsed = time.monotonic() - t0
        report(results, elapsed, marks)
        # Every request, to read an error's cause against gunicorn.log afterwards.
        samples = var / f"samples-{stamp}.csv"
        with open(samples, "w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["utc", "start_s", "kind", "ms", "ok", "answer"])
            for s in sorted(results.samples, key=lambda s: s.start):
                utc = time.strftime("%H:%M:%S", time.gmtime(wall0 + s.start))
                writer.writerow([utc, f"{s.start:.3f}", s.kind, f"{s.ms:.1f}", s.ok, s.detail])
        print(f"samples: {samples}; server log: {log_path}")
        print(
            f"load average: {load_before:.1f} before, {os.getloadavg()[0]:.1f} after "
            f"({os.cpu_count()} CPUs)"
        )
    finally:
        if gunicorn.poll() is None:
            os.killpg(gunicorn.pid, signal.SIGTERM)
            try:
                gunicorn.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(gunicorn.pid, signal.SIGKILL)
        log.close()
        if args.restart_postgres_at is not None:
            ready = subprocess.run(["pg_isready", "-h", HOST], capture_output=True, text=True)
            print("pg_isready:", ready.stdout.strip())


if __name__ == "__main__":
    main()

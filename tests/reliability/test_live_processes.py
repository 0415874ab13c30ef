"""The live mechanism keeps nothing in a process: two web processes (two gunicorn
servers on their own ports, one PostgreSQL test database, one private Redis as
their shared cache) behind one address both deliver a change saved through either;
and after a Redis restart (all counters gone) open pages catch up: the poll says
"lost", and the page reloads every section and piece.

The Redis here is a redis-server this test starts on a free port and restarts
(never the shared one); gunicorn runs the production WSGI entry point with the
test settings."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

import pytest
from django.test import Client

from plans.models import Plan
from plans.services import plans as services
from tests.notifications import processes
from tests.notifications.conftest import free_port, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


class WebProcess:
    """`gunicorn patchplan.wsgi` with one sync worker on its own port."""

    def __init__(self, *, cache_url: str, name: str):
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - the process writes to it
            prefix=f"gunicorn-{name}-", suffix=".log", delete=False
        )
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="patchplan.settings.test",
            DATABASE_URL=processes.test_database_url(),
            CACHE_URL=cache_url,
            CONN_MAX_AGE="0",
        )
        self.proc = subprocess.Popen(
            [GUNICORN, "patchplan.wsgi", "-b", f"127.0.0.1:{self.port}", "-w", "1", "-t", "30"],
            cwd=processes.ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(
            lambda: processes._port_open(self.port) or self.proc.poll() is not None,
            timeout=60,
            explain=self.output,
        )
        assert self.proc.poll() is None, self.output()

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            self.proc.wait(timeout=30)


class Session:
    """One person's logged-in browser session, spoken over real HTTP to any server."""

    def __init__(self, user):
        client = Client()
        client.force_login(user)
        self.cookies = {"sessionid": client.cookies["sessionid"].value}

    def request(self, server: WebProcess, method: str, path: str, data=None):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if data is not None:
            body = urllib.parse.urlencode(data)
            headers.update(
                {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "HX-Request": "true",
                    "X-CSRFToken": self.cookies["csrftoken"],
                }
            )
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            content = response.read().decode()
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    key, _, rest = value.partition("=")
                    self.cookies[key] = rest.split(";", 1)[0]
            return response.status, content
        finally:
            conn.close()

    def poll(self, server, plan, rev, here=""):
        status, body = self.request(server, "GET", f"/plans/{plan.pk}/live/?rev={rev}&here={here}")
        return status, (json.loads(body) if status == 200 else None)

    def save(self, server, plan, field: str, text: str, base: str):
        if "csrftoken" not in self.cookies:
            assert self.request(server, "GET", f"/plans/{plan.pk}/")[0] == 200
        data = {field: text, f"base-{field}": base}
        return self.request(server, "POST", f"/plans/{plan.pk}/doc/{field}/", data)


@pytest.fixture
def cache_server():
    if not Path(GUNICORN).exists():
        pytest.fail(f"gunicorn is not installed at {GUNICORN}")
    server = processes.RedisServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def webs(require_postgres, cache_server):
    started = []
    try:
        for name in ("a", "b"):
            started.append(WebProcess(cache_url=cache_server.url, name=name))
        yield started
    finally:
        for web in started:
            web.stop()


@pytest.fixture
def plan(team, planner):
    return services.plan_create(
        team=team, title="Kernel update", owner=planner, by=planner, rollback_plan="Reboot."
    )


def test_a_save_through_one_process_is_seen_by_the_other(webs, plan, planner, admin):
    a, b = webs
    erik, amara = Session(planner), Session(admin)
    status, start = amara.poll(b, plan, 0)
    assert status == 200
    # Idle, as a page sees it between changes: 204.
    assert amara.poll(b, plan, start["rev"], start["here_tag"])[0] == 204
    status, _body = erik.save(a, plan, "rollback_plan", "Boot the old kernel.", "Reboot.")
    assert status == 200

    def seen():
        status, data = amara.poll(b, plan, start["rev"], start["here_tag"])
        return data if status == 200 and data["sections"] else None

    data = wait_until(seen, timeout=2)
    assert data["rev"] > start["rev"] and not data["lost"]
    assert data["sections"]["rollback_plan"]["by"] == planner.display_name
    before = (start["sections"] or {}).get("rollback_plan", {"rev": 0})["rev"]
    assert data["sections"]["rollback_plan"]["rev"] > before
    # Presence crosses processes too: Erik polled through A, Amara asks B.
    erik.poll(a, plan, 0)
    status, data = amara.poll(b, plan, 0)
    assert status == 200, status
    assert [p["name"] for p in data["here"]] == [planner.display_name]
    # What the page then fetches, through B, is the saved text.
    status, section = amara.request(b, "GET", f"/plans/{plan.pk}/doc/rollback_plan/")
    assert status == 200 and "Boot the old kernel." in section


def test_after_a_redis_restart_open_pages_catch_up(webs, cache_server, plan, planner, admin):
    a, b = webs
    erik, amara = Session(planner), Session(admin)
    assert erik.save(a, plan, "rollback_plan", "Boot the old kernel.", "Reboot.")[0] == 200
    status, held = amara.poll(b, plan, 0)
    assert status == 200 and held["rev"] > 0  # what Amara's open page holds

    cache_server.stop()
    # During the outage: the poll says "try again" (the page keeps its counter), a save
    # is kept, and the plan page still opens (its counter unknown: -1).
    assert amara.poll(b, plan, held["rev"], held["here_tag"])[0] == 503
    saved = erik.save(a, plan, "rollback_plan", "Restore the snapshot.", "Boot the old kernel.")
    assert saved[0] == 200
    assert Plan.objects.get(pk=plan.pk).rollback_plan == "Restore the snapshot."
    status, page = amara.request(b, "GET", f"/plans/{plan.pk}/")
    assert status == 200 and 'data-rev="-1"' in page

    cache_server.start()  # empty: every counter is gone

    def answered():
        status, data = amara.poll(b, plan, held["rev"], held["here_tag"])
        return data if status == 200 else None

    data = wait_until(answered, timeout=5)
    # Lost: the page reloads every section and piece, and so gets the outage's save.
    assert data["lost"] is True and data["rev"] < held["rev"]
    assert set(data["sections"]) >= {"rollback_plan", "activity", "readiness", "milestones"}
    status, section = amara.request(b, "GET", f"/plans/{plan.pk}/doc/rollback_plan/")
    assert status == 200 and "Restore the snapshot." in section
    # And from then on changes flow again, across the two processes.
    now = data["rev"]
    assert erik.save(a, plan, "backup_plan", "Snapshot first.", "")[0] == 200
    status, after = amara.poll(b, plan, now, data["here_tag"])
    assert status == 200 and after["rev"] > now and not after["lost"]
    assert after["sections"]["backup_plan"]["by"] == planner.display_name

"""A lost database connection, the short version of docs/bench/load_run.py's
PostgreSQL restart, without restarting the shared server: the live server's
own backend is ended with pg_terminate_backend() from a second connection,
as a restart or a failover ends it. With CONN_MAX_AGE and CONN_HEALTH_CHECKS
the request in flight at that moment fails and the next one is answered on a
new connection, without restarting the app.

The app is served over real HTTP by one long-lived thread, as a gunicorn sync
worker serves it: pytest-django's live_server answers each request in a new
thread and closes its connection afterwards, so it never keeps one to lose."""

from __future__ import annotations

import http.client
import threading
import time
import urllib.parse
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import psycopg2
import pytest
from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.db import connection
from django.test import Client

from plans.choices import TaskStatus
from plans.models import Task
from tests import factories

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


@pytest.fixture
def persistent_connections():
    """The deployed setting: connections kept between requests, health-checked."""
    db = settings.DATABASES["default"]
    saved = db["CONN_MAX_AGE"], db["CONN_HEALTH_CHECKS"]
    db["CONN_MAX_AGE"], db["CONN_HEALTH_CHECKS"] = 60, True
    yield
    db["CONN_MAX_AGE"], db["CONN_HEALTH_CHECKS"] = saved


class _Quiet(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@pytest.fixture
def sync_server(persistent_connections, transactional_db):
    """The app on 127.0.0.1 served by one thread that lives across requests
    (and so keeps its database connection, CONN_MAX_AGE)."""
    server = make_server("127.0.0.1", 0, get_wsgi_application(), WSGIServer, _Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


class Browser:
    """A logged-in session over real HTTP to the sync server."""

    def __init__(self, server, user):
        client = Client()
        client.force_login(user)
        self.host, self.port = server.server_address[:2]
        self.cookies = {"sessionid": client.cookies["sessionid"].value}

    def request(self, method: str, path: str, data: dict | None = None) -> int:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
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
            response.read()
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    key, _, rest = value.partition("=")
                    self.cookies[key] = rest.split(";", 1)[0]
            return response.status
        finally:
            conn.close()


def _second_connection():
    db = settings.DATABASES["default"]
    conn = psycopg2.connect(
        dbname=db["NAME"],
        user=db.get("USER") or "postgres",
        host=db.get("HOST") or "127.0.0.1",
        port=db.get("PORT") or 5432,
        password=db.get("PASSWORD") or None,
    )
    conn.autocommit = True
    return conn


def _app_backends(admin_conn) -> set[int]:
    """Backends of this test database other than the test's own and the admin one."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        own = cursor.fetchone()[0]
    with admin_conn.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND pid <> %s",
            [own],
        )
        return {row[0] for row in cursor.fetchall()}


def _terminate(admin_conn, pids: set[int]) -> None:
    with admin_conn.cursor() as cursor:
        for pid in pids:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.fixture
def world(team, engineer):
    plan = factories.PlanFactory(team=team, owner=engineer)
    task = factories.TaskFactory(plan=plan, assignee=engineer, status=TaskStatus.TODO)
    return {"task": task}


def test_next_request_after_the_connection_was_killed_succeeds(
    require_postgres, sync_server, engineer, outsider, world
):
    browser = Browser(sync_server, engineer)
    assert browser.request("GET", "/") == 200
    admin_conn = _second_connection()
    try:
        before = _app_backends(admin_conn)
        assert before, "the server kept no connection open (CONN_MAX_AGE)"
        _terminate(admin_conn, before)

        # The kept connection is dead; the health check replaces it.
        assert browser.request("GET", "/") == 200
        assert browser.request("GET", f"/plans/{world['task'].plan_id}/") == 200
        after = _app_backends(admin_conn)
        assert after and not (after & before)
    finally:
        admin_conn.close()
    # Access checks still hold on the new connection.
    assert Browser(sync_server, outsider).request("GET", f"/plans/{world['task'].plan_id}/") == 404


def test_only_the_request_in_flight_fails_when_its_connection_is_killed(
    require_postgres, sync_server, engineer, world
):
    task = world["task"]
    browser = Browser(sync_server, engineer)
    assert browser.request("GET", "/plans/my-tasks/") == 200  # sets the CSRF cookie
    locker, admin_conn = _second_connection(), _second_connection()
    answers: list[int] = []
    try:
        # Hold the task's row so the status change waits inside PostgreSQL.
        locker.autocommit = False
        with locker.cursor() as cursor:
            cursor.execute("SELECT id FROM plans_task WHERE id = %s FOR UPDATE", [task.pk])
        path = f"/plans/tasks/{task.pk}/status/"
        in_flight = threading.Thread(
            target=lambda: answers.append(browser.request("POST", path, {"status": "done"}))
        )
        in_flight.start()
        waiting: set[int] = set()
        deadline = time.monotonic() + 10
        while not waiting and time.monotonic() < deadline:
            with admin_conn.cursor() as cursor:
                cursor.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
                waiting = {row[0] for row in cursor.fetchall()}
            time.sleep(0.02)
        assert waiting, "the status change never waited for the lock"
        _terminate(admin_conn, waiting)
        in_flight.join(timeout=20)
        locker.rollback()

        assert answers == [500]  # the one request whose connection died
        assert Task.objects.get(pk=task.pk).status == TaskStatus.TODO  # nothing half-written
        assert browser.request("POST", path, {"status": "done"}) == 200
        assert Task.objects.get(pk=task.pk).status == TaskStatus.DONE
        assert browser.request("GET", "/") == 200
    finally:
        locker.close()
        admin_conn.close()

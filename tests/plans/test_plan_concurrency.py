"""20 people save the same version of a plan at the same moment, through the
live server on PostgreSQL: exactly one save wins, the other 19 get the
conflict page, and the plan's version rose by one."""

from __future__ import annotations

import re
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest
from django.test import Client

from plans.models import Plan
from plans.services import plans as services

N = 20


def _session(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def _request(url: str, cookies: dict, data: dict | None = None) -> tuple[int, str]:
    body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
    request = urllib.request.Request(url, data=body)  # noqa: S310 - the live server
    request.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()))
    if data is not None:
        request.add_header("Referer", url)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_saves_of_one_version_exactly_one_wins(
    require_postgres, live_server, team, planner, admin
):
    plan = services.plan_create(team=team, title="Contended", owner=planner, by=planner)
    url = f"{live_server.url}/plans/{plan.pk}/edit/"
    prepared = []
    # Each writer loads the form in their own session: CSRF cookie, token and version.
    for i in range(N):
        session = _session(planner if i % 2 else admin)
        request = urllib.request.Request(url)  # noqa: S310 - the live server
        request.add_header("Cookie", f"sessionid={session}")
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            set_cookie = response.headers.get_all("Set-Cookie") or []
            page = response.read().decode()
        csrf = next(
            c.split(";")[0].split("=", 1)[1] for c in set_cookie if c.startswith("csrftoken")
        )
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        version = re.search(r'name="version" value="(\d+)"', page).group(1)
        prepared.append(({"sessionid": session, "csrftoken": csrf}, token, version))
    assert {v for _c, _t, v in prepared} == {str(plan.version)}

    barrier = threading.Barrier(N)
    results: list[tuple[int, str]] = [None] * N  # type: ignore[list-item]

    def save(i: int) -> None:
        cookies, token, version = prepared[i]
        data = {
            "csrfmiddlewaretoken": token,
            "version": version,
            "title": f"Saved by writer {i}",
            "kind": "security_patch",
            "risk": "high",
            "owner": planner.pk,
            "objective": f"objective {i}",
        }
        barrier.wait()
        results[i] = _request(url, cookies, data)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    statuses = sorted(status for status, _body in results)
    assert statuses.count(302) == 1, statuses
    assert statuses.count(409) == N - 1, statuses
    winner = next(i for i, (status, _b) in enumerate(results) if status == 302)
    fresh = Plan.objects.get(pk=plan.pk)
    assert fresh.title == f"Saved by writer {winner}"
    assert fresh.version == plan.version + 1
    # Every loser sees the winner's value beside their own.
    for i, (status, body) in enumerate(results):
        if status == 409:
            assert f"Saved by writer {winner}" in body and f"Saved by writer {i}" in body

"""People save the plan document at the same moment, through the live server on
PostgreSQL: saves of different fields all win; of the same field exactly one wins
and every other saver gets the merge view for that field (theirs beside mine)."""

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


def _prepare(live_server, plan, users, section) -> list[tuple[dict, str]]:
    """Each writer opens the section's editor in their own session: CSRF cookie and token."""
    url = f"{live_server.url}/plans/{plan.pk}/doc/{section}/?edit=1"
    prepared = []
    for user in users:
        session = _session(user)
        request = urllib.request.Request(url)  # noqa: S310 - the live server
        request.add_header("Cookie", f"sessionid={session}")
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            set_cookie = response.headers.get_all("Set-Cookie") or []
            page = response.read().decode()
        csrf = next(
            c.split(";")[0].split("=", 1)[1] for c in set_cookie if c.startswith("csrftoken")
        )
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        prepared.append(({"sessionid": session, "csrftoken": csrf}, token))
    return prepared


def _all_at_once(saves) -> list[tuple[int, str]]:
    barrier = threading.Barrier(len(saves))
    results: list[tuple[int, str]] = [None] * len(saves)  # type: ignore[list-item]

    def run(i: int) -> None:
        url, cookies, data = saves[i]
        barrier.wait()
        results[i] = _request(url, cookies, data)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(saves))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


TEXTS = ("backup_plan", "test_procedure", "rollback_plan", "communication_plan")


@pytest.mark.django_db(transaction=True)
def test_concurrent_saves_of_different_fields_all_win(
    require_postgres, live_server, team, planner, admin
):
    plan = services.plan_create(team=team, title="Contended", owner=planner, by=planner)
    saves = []
    for i, field in enumerate(TEXTS):
        [(cookies, token)] = _prepare(live_server, plan, [planner if i % 2 else admin], field)
        data = {"csrfmiddlewaretoken": token, field: f"{field} by writer {i}", f"base-{field}": ""}
        saves.append((f"{live_server.url}/plans/{plan.pk}/doc/{field}/", cookies, data))
    results = _all_at_once(saves)
    assert [status for status, _b in results] == [302] * len(TEXTS)
    fresh = Plan.objects.get(pk=plan.pk)
    assert [getattr(fresh, f) for f in TEXTS] == [f"{f} by writer {i}" for i, f in enumerate(TEXTS)]


@pytest.mark.django_db(transaction=True)
def test_concurrent_saves_of_one_field_one_wins_the_others_get_its_merge_view(
    require_postgres, live_server, team, planner, admin
):
    plan = services.plan_create(
        team=team, title="Contended", owner=planner, by=planner, objective="Before"
    )
    url = f"{live_server.url}/plans/{plan.pk}/doc/objective/"
    users = [planner if i % 2 else admin for i in range(N)]
    saves = [
        (
            url,
            cookies,
            {
                "csrfmiddlewaretoken": token,
                "objective": f"objective by writer {i}",
                "base-objective": "Before",
                # In every form, unchanged: never written, never a conflict.
                "success_criteria": "",
                "base-success_criteria": "",
            },
        )
        for i, (cookies, token) in enumerate(_prepare(live_server, plan, users, "objective"))
    ]
    results = _all_at_once(saves)
    statuses = sorted(status for status, _body in results)
    assert statuses.count(302) == 1, statuses
    assert statuses.count(409) == N - 1, statuses
    winner = next(i for i, (status, _b) in enumerate(results) if status == 302)
    fresh = Plan.objects.get(pk=plan.pk)
    assert (fresh.objective, fresh.success_criteria) == (f"objective by writer {winner}", "")
    # Every other writer sees the merge view of that field: the winner's text, theirs, the base.
    for i, (status, body) in enumerate(results):
        if status == 409:
            assert 'data-testid="merge-objective"' in body
            assert 'data-testid="merge-success_criteria"' not in body
            assert f"objective by writer {winner}" in body and f"objective by writer {i}" in body

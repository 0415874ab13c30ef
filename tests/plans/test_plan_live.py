"""The open plan page's poll: a bodiless 204 when nothing changed and the same
people are here; the changed sections and who is here otherwise; presence gone
after its TTL."""

from __future__ import annotations

import pytest
import time_machine

from plans.services import plans as services

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan(team, planner):
    return services.plan_create(team=team, title="Kernel update", owner=planner, by=planner)


def _poll(client, plan, **params):
    return client.get(f"/plans/{plan.pk}/live/", params)


def test_idle_poll_is_a_204_in_few_queries(
    client_for, planner, plan, django_assert_max_num_queries
):
    client = client_for(planner)
    first = _poll(client, plan, rev=0).json()
    # Every request's session, user and current team, then the access check alone.
    with django_assert_max_num_queries(4):
        response = _poll(client, plan, rev=first["rev"], here=first["here_tag"])
    assert response.status_code == 204 and response.content == b""


def test_poll_names_the_sections_others_saved(
    client_for, planner, admin, plan, django_capture_on_commit_callbacks
):
    client = client_for(planner)
    start = _poll(client, plan, rev=0).json()
    with django_capture_on_commit_callbacks(execute=True):
        services.plan_update(plan=plan, by=admin, rollback_plan="Boot the old kernel")
    data = _poll(client, plan, rev=start["rev"], here=start["here_tag"]).json()
    assert data["rev"] == start["rev"] + 1 and not data["lost"]
    moved = {
        name: entry
        for name, entry in data["sections"].items()
        if entry["rev"] != (start["sections"] or {}).get(name, {"rev": 0})["rev"]
    }
    assert moved == {"rollback_plan": {"rev": 1, "by": admin.display_name}}


def test_a_lost_counter_asks_for_every_section(client_for, planner, plan):
    data = _poll(client_for(planner), plan, rev=7).json()
    assert data["rev"] == 0 and data["lost"] is True


def test_presence_shows_others_and_what_they_edit_then_expires(
    client_for, planner, admin, plan, settings
):
    settings.PLAN_PRESENCE_TTL = 30
    with time_machine.travel("2030-01-07 10:00 +00:00", tick=False) as traveller:
        _poll(client_for(admin), plan, rev=0, editing="rollback_plan")
        data = _poll(client_for(planner), plan, rev=0).json()
        assert [(p["name"], p["editing_label"]) for p in data["here"]] == [
            (admin.display_name, "Rollback plan")
        ]
        traveller.shift(31)
        data = _poll(client_for(planner), plan, rev=0).json()
        assert data["here"] == []


def test_poll_access(client_for, viewer, outsider, plan):
    assert _poll(client_for(viewer), plan, rev=0).status_code == 200
    assert _poll(client_for(outsider), plan, rev=0).status_code == 404

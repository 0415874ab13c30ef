"""The open plan page's poll: a bodiless 204 when nothing changed and the same
people are here; the changed sections and who is here otherwise; presence gone
after its TTL."""

from __future__ import annotations

import pytest
import time_machine

from plans import live
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
    assert data["rev"] > start["rev"] and not data["lost"]
    moved = {
        name: entry
        for name, entry in data["sections"].items()
        if entry["rev"] != (start["sections"] or {}).get(name, {"rev": 0})["rev"]
    }
    # The section, and the pieces every audited change moves (activity, readiness, run).
    assert set(moved) == {"rollback_plan", "activity", "readiness", "run"}
    assert moved["rollback_plan"] == {"rev": 1, "by": admin.display_name}


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


# --- the page's other live pieces ------------------------------------------------


def _moved(plan_id, before):
    _rev, sections, _lost = live.changes_since(plan_id=plan_id, since=-1)
    return {n for n, e in sections.items() if e["rev"] != before.get(n, {"rev": 0})["rev"]}


def test_each_change_moves_the_pieces_that_show_it(
    plan, planner, approver, django_capture_on_commit_callbacks
):
    from plans.models import Milestone
    from plans.services.signoff import signoff_give
    from plans.services.tasks import task_create

    assessment = Milestone.objects.get(plan=plan, name="assessment")
    steps = [
        (
            lambda: services.comment_post(plan=plan, body="Looks good", by=planner),
            {"activity", "readiness", "run"},
        ),
        (
            lambda: signoff_give(
                milestone=assessment, by=approver, decision="reject", comment="Add a server."
            ),
            {"activity", "readiness", "run", "milestones", "windows", "timeline"},
        ),
        (
            lambda: services.milestone_update(
                milestone=Milestone.objects.get(pk=assessment.pk),
                version=Milestone.objects.get(pk=assessment.pk).version,
                by=planner,
                name="Assess",
                starts_on=None,
                due_on=None,
            ),
            # Renamed: the task rows show its name.
            {"activity", "readiness", "run", "milestones", "windows", "timeline", "tasks"},
        ),
        (
            lambda: task_create(plan=plan, title="Snapshot", by=planner),
            {"activity", "readiness", "run", "tasks"},
        ),
    ]
    for change, expected in steps:
        before = live.section_revisions(plan.pk)
        with django_capture_on_commit_callbacks(execute=True):
            change()
        assert _moved(plan.pk, before) == expected


def test_a_rolled_back_change_moves_nothing(plan, planner, django_capture_on_commit_callbacks):
    from django.db import transaction

    rev = live.revision(plan.pk)
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.comment_post(plan=plan, body="Never mind", by=planner)
        raise RuntimeError
    assert live.revision(plan.pk) == rev


@pytest.mark.parametrize("part", ["milestones", "windows", "timeline", "tasks"])
def test_a_piece_renders_as_the_plan_page_shows_it(
    client_for, planner, viewer, outsider, plan, part, django_assert_max_num_queries
):
    url = f"/plans/{plan.pk}/live/{part}/"
    client = client_for(planner)
    client.get(url)  # the first request of a session writes it; not what is measured
    # Session, user, team (3), the plan (1), the piece's own reads (windows card: 7).
    with django_assert_max_num_queries(12):
        response = client.get(url, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    if part == "milestones":
        assert body.count('data-testid="milestone-row"') == plan.milestones.count() > 0
        assert 'data-testid="milestone-add"' in body  # a planner may add one
        assert 'data-testid="milestone-add"' not in client_for(viewer).get(url).content.decode()
    assert client_for(outsider).get(url).status_code == 404
    assert client_for(planner).get(f"/plans/{plan.pk}/live/nothing/").status_code == 404

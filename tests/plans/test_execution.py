"""Run mode: per-server status changes with events, actual times, downtime, the
package listing after patching, and the live board."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils import timezone

from plans.choices import PlanStatus
from plans.models import ExecutionEvent, MaintenanceWindow, ServerExecution
from plans.selectors.execution import server_verifications
from plans.services import execution as run
from servers.inventory import inventory_import
from tests import factories

from .run_helpers import DPKG_AFTER, DPKG_BEFORE, give_go, make_plan, make_servers, make_window

# "Now" is frozen for each test (at PATCHPLAN_TEST_CLOCK or the real instant):
# data placed relative to it and the code under test see the same instant.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


@pytest.fixture
def plan(team, owner):
    return make_plan(team, owner)


@pytest.fixture
def servers(team, plan, owner):
    return make_servers(team, plan, owner)


@pytest.fixture
def window(plan, servers, owner, approver):
    window = make_window(plan, servers, owner)
    give_go(plan, servers, planner=owner, approver=approver)
    return window


def move(window, server, status, by, **kw):
    return run.execution_set_status(window=window, server=server, status=status, by=by, **kw)


def test_each_status_change_is_an_event_with_who_and_when(window, servers, engineer):
    move(window, servers[1], "in_progress", engineer)
    move(window, servers[1], "patched", engineer)
    ex = ServerExecution.objects.get(window=window, server=servers[1])
    assert ex.status == "patched" and ex.started_at and ex.finished_at
    events = list(ExecutionEvent.objects.values_list("from_status", "to_status", "by"))
    assert events == [
        ("pending", "in_progress", engineer.pk),
        ("in_progress", "patched", engineer.pk),
    ]


def test_the_first_server_started_starts_the_window_and_an_approved_plan(
    plan, window, servers, engineer
):
    plan.status = PlanStatus.APPROVED
    plan.save()
    move(window, servers[0], "in_progress", engineer)
    window.refresh_from_db()
    plan.refresh_from_db()
    assert window.actual_starts_at is not None
    assert plan.status == PlanStatus.IN_PROGRESS


def test_a_status_change_on_a_server_outside_the_window_is_refused(team, plan, window, engineer):
    stranger = factories.ServerFactory(team=team, hostname="mail-1")
    with pytest.raises(ValidationError) as exc:
        move(window, stranger, "in_progress", engineer)
    assert "mail-1 is not in this window's scope" in str(exc.value)
    assert not ServerExecution.objects.exists() and not ExecutionEvent.objects.exists()


def test_a_move_that_skips_steps_is_refused(window, servers, engineer):
    with pytest.raises(ValidationError):
        move(window, servers[0], "verified", engineer)
    assert not ExecutionEvent.objects.exists()


def test_a_click_on_a_stale_status_is_refused(window, servers, engineer, planner):
    move(window, servers[0], "in_progress", planner, expected="pending")
    with pytest.raises(ValidationError) as exc:
        move(window, servers[0], "in_progress", engineer, expected="pending")
    assert "already moved" in str(exc.value)
    assert ExecutionEvent.objects.count() == 1


def test_a_cancelled_window_records_nothing(window, servers, engineer):
    MaintenanceWindow.objects.filter(pk=window.pk).update(cancelled_at=timezone.now())
    window.refresh_from_db()
    with pytest.raises(ValidationError):
        move(window, servers[0], "in_progress", engineer)


def test_actual_end_before_actual_start_is_refused(window, engineer):
    now = timezone.now()
    with pytest.raises(ValidationError) as exc:
        run.window_record_times(
            window=window,
            starts_at=now - timedelta(hours=1),
            ends_at=now - timedelta(hours=2),
            by=engineer,
        )
    assert "actual_ends_at" in exc.value.error_dict
    window.refresh_from_db()
    assert window.actual_starts_at is None and window.actual_ends_at is None


def test_start_and_finish_record_the_actual_times(window, engineer):
    run.window_start(window=window, by=engineer)
    run.window_finish(window=window, by=engineer)
    window.refresh_from_db()
    assert window.actual_ends_at >= window.actual_starts_at
    with pytest.raises(ValidationError):
        run.window_finish(window=window, by=engineer)


def test_downtime_per_server_is_recorded_and_bounded(window, servers, engineer):
    run.execution_record_downtime(window=window, server=servers[0], minutes=42, by=engineer)
    assert ServerExecution.objects.get(server=servers[0]).downtime_minutes == 42
    with pytest.raises(ValidationError):
        run.execution_record_downtime(window=window, server=servers[0], minutes=-1, by=engineer)


def _patched(window, server, by):
    move(window, server, "in_progress", by)
    move(window, server, "patched", by)


def test_verifying_needs_the_plans_packages_to_show_new_versions(window, servers, engineer):
    server = servers[0]
    inventory_import(
        server=server, data=DPKG_BEFORE, source="upload", taken_at=window.starts_at - timedelta(1)
    )
    _patched(window, server, engineer)
    with pytest.raises(ValidationError) as exc:
        move(window, server, "verified", engineer)
    assert "verification_note" in exc.value.error_dict
    run.execution_import_listing(window=window, server=server, data=DPKG_AFTER, by=engineer)
    move(window, server, "verified", engineer)
    assert ServerExecution.objects.get(server=server).status == "verified"


def test_a_server_is_verified_without_new_versions_only_with_a_reason(window, servers, engineer):
    _patched(window, servers[0], engineer)
    move(
        window,
        servers[0],
        "verified",
        engineer,
        verification_note="Package was pinned; hotfix applied",
    )
    ex = ServerExecution.objects.get(server=servers[0])
    assert ex.verification_note == "Package was pinned; hotfix applied"


def test_versions_before_and_after_are_shown_per_server(window, servers, engineer):
    server = servers[0]
    inventory_import(
        server=server, data=DPKG_BEFORE, source="upload", taken_at=window.starts_at - timedelta(1)
    )
    run.execution_import_listing(window=window, server=server, data=DPKG_AFTER, by=engineer)
    changes = server_verifications(
        window=window, server_ids=[server.pk, servers[1].pk], targets={"postgresql-15": None}
    )
    (change,) = changes[server.pk].packages
    assert (change.before, change.after, change.updated) == ("15.4-1", "15.6-0+deb12u1", True)
    (none,) = changes[servers[1].pk].packages
    assert (none.before, none.after, none.updated) == ("15.4-1", None, False)


def test_a_listing_for_a_server_outside_the_window_is_refused(team, window, engineer):
    stranger = factories.ServerFactory(team=team)
    with pytest.raises(ValidationError):
        run.execution_import_listing(window=window, server=stranger, data=DPKG_AFTER, by=engineer)
    assert not stranger.snapshots.exists()


# --- views ----------------------------------------------------------------------


def run_url(window, tail=""):
    return f"/plans/{window.plan_id}/windows/{window.pk}/run/{tail}"


def test_outsider_gets_404_in_run_mode(client_for, window, servers, outsider):
    c = client_for(outsider)
    assert c.get(run_url(window)).status_code == 404
    assert c.get(run_url(window, "board/")).status_code == 404
    response = c.post(
        run_url(window, f"servers/{servers[0].pk}/status/"), {"status": "in_progress"}
    )
    assert response.status_code == 404
    assert not ExecutionEvent.objects.exists()


def test_a_window_of_another_plan_is_404(client_for, team, owner, window, engineer):
    other = make_plan(team, owner, title="Other")
    assert (
        client_for(engineer).get(f"/plans/{other.pk}/windows/{window.pk}/run/").status_code == 404
    )


def test_viewer_watches_but_may_not_click(client_for, window, servers, viewer):
    c = client_for(viewer)
    page = c.get(run_url(window))
    assert page.status_code == 200
    assert b"db-prod-1" in page.content and b'data-testid="move-in_progress"' not in page.content
    response = c.post(
        run_url(window, f"servers/{servers[0].pk}/status/"), {"status": "in_progress"}
    )
    assert response.status_code == 403
    assert not ExecutionEvent.objects.exists()


def test_one_click_moves_a_server_and_returns_the_board(client_for, window, servers, engineer):
    response = client_for(engineer).post(
        run_url(window, f"servers/{servers[0].pk}/status/"),
        {"status": "in_progress", "expected": "pending"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert b'id="run-board"' in response.content
    assert b'data-testid="move-patched"' in response.content
    assert ServerExecution.objects.get(server=servers[0]).status == "in_progress"


def test_a_refused_click_shows_the_reason_at_the_row(client_for, team, window, servers, engineer):
    stranger = factories.ServerFactory(team=team, hostname="mail-1")
    response = client_for(engineer).post(
        run_url(window, f"servers/{stranger.pk}/status/"),
        {"status": "in_progress"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    assert b"mail-1 is not in this window" in response.content


def test_the_board_refreshes_through_the_plans_live_poll(client_for, window, viewer):
    # No timer of its own: js/live.js refreshes it when the plan's "run" part moves,
    # and at least every PATCHPLAN_RUN_REFRESH_SECONDS for what the clock changes.
    response = client_for(viewer).get(run_url(window, "board/"))
    assert b'hx-trigger="refresh" data-live-panel="run" data-live-max-age="60"' in response.content
    page = client_for(viewer).get(run_url(window, "")).content.decode()
    assert 'id="plan-live"' in page and "js/live.js" in page


def test_actual_times_form_refuses_end_before_start(client_for, window, engineer):
    response = client_for(engineer).post(
        run_url(window, "times/"),
        {
            "action": "set",
            "actual_starts_at": "2026-01-02T10:00",
            "actual_ends_at": "2026-01-02T09:00",
        },
    )
    assert response.status_code == 400
    assert b"can&#x27;t be before the actual start" in response.content
    window.refresh_from_db()
    assert window.actual_starts_at is None


def test_a_listing_is_uploaded_from_run_mode(client_for, window, servers, engineer):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("dpkg.txt", DPKG_AFTER.encode())
    response = client_for(engineer).post(
        run_url(window, f"servers/{servers[0].pk}/listing/"),
        {"file": upload},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert b"15.6-0+deb12u1" in response.content
    assert servers[0].snapshots.count() == 2  # the assessment's listing and this one


def test_a_bad_listing_is_refused_with_the_reason(client_for, window, servers, engineer):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("x.txt", b"\x00\x01 not a listing")
    response = client_for(engineer).post(
        run_url(window, f"servers/{servers[0].pk}/listing/"),
        {"file": upload},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    assert servers[0].snapshots.count() == 1  # only the assessment's listing


@pytest.mark.parametrize("size", [2, 20])
def test_run_mode_costs_the_same_queries_at_any_size(
    client_for, team, owner, engineer, approver, size, django_assert_max_num_queries
):
    plan = make_plan(team, owner)
    servers = make_servers(team, plan, owner, production=size, staging=1)
    window = make_window(plan, servers, owner)
    give_go(plan, servers, planner=owner, approver=approver)
    for s in servers:
        inventory_import(
            server=s, data=DPKG_BEFORE, source="upload", taken_at=window.starts_at - timedelta(1)
        )
        move(window, s, "in_progress", engineer)
        run.execution_import_listing(window=window, server=s, data=DPKG_AFTER, by=engineer)
    c = client_for(engineer)
    c.get(run_url(window, "board/"))  # warms the listing cache
    # session, user, memberships, window, window servers, executions,
    # listing ids (before/after), their formats and times, recent events
    with django_assert_max_num_queries(10):
        response = c.get(run_url(window, "board/"))
    assert response.content.count(b'data-testid="run-row"') == size + 1
    # The page adds nothing that grows: the same plus the listings when cold, and
    # the gate (gating milestone 2, the plan's gates 13, emergency changes, role).
    cache.clear()
    with django_assert_max_num_queries(28):
        assert c.get(run_url(window)).status_code == 200


def test_actual_times_in_the_future_are_refused_next_to_the_field(client_for, window, engineer):
    future = timezone.localtime(timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = client_for(engineer).post(
        run_url(window, "times/"), {"action": "set", "actual_starts_at": future}
    )
    assert response.status_code == 400
    assert b"can&#x27;t be in the future" in response.content
    window.refresh_from_db()
    assert window.actual_starts_at is None

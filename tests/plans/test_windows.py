"""Maintenance windows: services (sequence, events, scope, locking) and pages."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse

from plans.models import MaintenanceWindow, WindowServer
from plans.services import windows as services
from servers.choices import Environment
from tests import factories
from tests.pages import page_html

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def berlin(y, mo, d, h, mi=0):
    return datetime(y, mo, d, h, mi, tzinfo=BERLIN)


@pytest.fixture
def calls(monkeypatch):
    """Record the notification events (and whether a transaction was open)."""
    seen = []

    def record(name):
        def event(**kwargs):
            seen.append((name, kwargs, connection.in_atomic_block))

        return event

    monkeypatch.setattr(services.events, "window_changed", record("changed"))
    monkeypatch.setattr(services.events, "window_cancelled", record("cancelled"))
    return seen


@pytest.fixture
def plan(team, planner):
    team.time_zone = "Europe/Berlin"
    team.save()
    factories.OffPeakFactory(team=team, weekday=5, starts_at=time(22), ends_at=time(4))
    plan = factories.PlanFactory(team=team, owner=planner, title="OpenSSL patch")
    plan.servers.add(
        factories.ServerFactory(team=team, hostname="web-stg-01", environment=Environment.STAGING),
        factories.ServerFactory(team=team, hostname="web-prd-01"),
    )
    return plan


def servers_of(plan):
    return {s.hostname: s for s in plan.servers.all()}


# --- services --------------------------------------------------------------


def test_window_create_saves_servers_with_downtime_and_notifies_inside_the_transaction(
    plan, planner, calls
):
    s = servers_of(plan)
    window = services.window_create(
        plan=plan,
        starts_at=berlin(2026, 3, 7, 23),
        ends_at=berlin(2026, 3, 8, 1),
        downtimes={s["web-stg-01"]: 15},
        by=planner,
    )
    assert list(
        window.windowserver_set.values_list("server__hostname", "expected_downtime_minutes")
    ) == [("web-stg-01", 15)]
    assert [(name, kw["window"], kw["by"], atomic) for name, kw, atomic in calls] == [
        ("changed", window, planner, True)
    ]


def test_window_create_refuses_a_server_outside_the_plans_scope(plan, planner, team, calls):
    stray = factories.ServerFactory(team=team, hostname="db-01")
    with pytest.raises(ValidationError) as exc:
        services.window_create(
            plan=plan,
            starts_at=berlin(2026, 3, 7, 23),
            ends_at=berlin(2026, 3, 8, 1),
            downtimes={stray: 5},
            by=planner,
        )
    assert "servers" in exc.value.message_dict
    assert not MaintenanceWindow.objects.exists() and calls == []


def test_window_create_refuses_end_before_start(plan, planner, calls):
    with pytest.raises(ValidationError) as exc:
        services.window_create(
            plan=plan, starts_at=berlin(2026, 3, 7, 23), ends_at=berlin(2026, 3, 7, 23), by=planner
        )
    assert "ends_at" in exc.value.message_dict
    assert not MaintenanceWindow.objects.exists()


def test_window_update_raises_sequence_and_version_and_notifies(plan, planner, calls):
    s = servers_of(plan)
    window = services.window_create(
        plan=plan, starts_at=berlin(2026, 3, 7, 23), ends_at=berlin(2026, 3, 8, 1), by=planner
    )
    updated = services.window_update(
        window=window,
        version=window.version,
        starts_at=berlin(2026, 3, 7, 22),
        ends_at=berlin(2026, 3, 8, 1),
        downtimes={s["web-prd-01"]: 30},
        by=planner,
    )
    assert (updated.sequence, updated.version) == (1, 2)
    assert [name for name, _kw, _a in calls] == ["changed", "changed"]
    assert list(WindowServer.objects.values_list("server__hostname", flat=True)) == ["web-prd-01"]


def test_window_update_refuses_a_stale_version_and_changes_nothing(plan, planner, calls):
    window = services.window_create(
        plan=plan, starts_at=berlin(2026, 3, 7, 23), ends_at=berlin(2026, 3, 8, 1), by=planner
    )
    services.window_update(
        window=window,
        version=1,
        starts_at=berlin(2026, 3, 7, 22),
        ends_at=berlin(2026, 3, 8, 1),
        by=planner,
    )
    with pytest.raises(services.StaleEdit) as exc:
        services.window_update(
            window=window,
            version=1,
            starts_at=berlin(2026, 3, 7, 23, 30),
            ends_at=berlin(2026, 3, 8, 1),
            by=planner,
        )
    assert exc.value.current.starts_at == berlin(2026, 3, 7, 22)
    window.refresh_from_db()
    assert window.version == 2 and window.starts_at == berlin(2026, 3, 7, 22)


def test_window_cancel_keeps_the_row_raises_sequence_and_notifies(plan, planner, calls):
    window = services.window_create(
        plan=plan, starts_at=berlin(2026, 3, 7, 23), ends_at=berlin(2026, 3, 8, 1), by=planner
    )
    services.window_cancel(window=window, version=window.version, by=planner)
    window.refresh_from_db()
    assert window.cancelled_at is not None and window.sequence == 1
    assert [(name, atomic) for name, _kw, atomic in calls] == [
        ("changed", True),
        ("cancelled", True),
    ]
    # A cancelled window is not edited back to life by a save of its old version.
    with pytest.raises(services.StaleEdit):
        services.window_update(
            window=window,
            version=window.version,
            starts_at=berlin(2026, 3, 7, 23),
            ends_at=berlin(2026, 3, 8, 1),
            by=planner,
        )


# --- pages -----------------------------------------------------------------


def _post_data(plan, starts="2026-03-07T23:00", ends="2026-03-08T01:00", **extra):
    s = servers_of(plan)
    data = {
        "title": "Staging test",
        "starts_at": starts,
        "ends_at": ends,
        "servers": [s["web-stg-01"].pk],
        f"downtime_{s['web-stg-01'].pk}": "20",
    }
    data.update(extra)
    return data


def test_planner_creates_a_window_in_their_own_zone(client_for, plan, planner, calls):
    planner.time_zone = "America/New_York"
    planner.save()
    client = client_for(planner)
    page = client.get(reverse("window_create", args=[plan.pk]))
    assert "America/New_York (your time zone)" in page.content.decode()
    response = client.post(
        reverse("window_create", args=[plan.pk]),
        _post_data(plan, starts="2026-03-07T17:00", ends="2026-03-07T19:00"),
    )
    window = MaintenanceWindow.objects.get()
    assert response.status_code == 302
    # 17:00 in New York (EST) is 23:00 in Berlin (CET).
    assert window.starts_at == berlin(2026, 3, 7, 23)
    assert window.windowserver_set.get().expected_downtime_minutes == 20


def test_window_page_shows_times_in_each_viewers_zone_with_the_zone_named(
    client_for, plan, planner, engineer
):
    window = factories.WindowFactory(
        plan=plan, starts_at=berlin(2026, 3, 7, 23), ends_at=berlin(2026, 3, 8, 1)
    )
    engineer.time_zone = "America/New_York"
    engineer.save()
    berliner = client_for(planner).get(reverse("window_detail", args=[window.pk])).content.decode()
    assert "Sat 7 Mar 2026, 23:00" in berliner and "Europe/Berlin" in berliner
    new_yorker = (
        client_for(engineer).get(reverse("window_detail", args=[window.pk])).content.decode()
    )
    assert "Sat 7 Mar 2026, 17:00" in new_yorker and "America/New_York" in new_yorker


def test_posting_another_teams_server_id_is_refused(client_for, plan, planner, other_team, calls):
    theirs = factories.ServerFactory(team=other_team, hostname="their-web")
    response = client_for(planner).post(
        reverse("window_create", args=[plan.pk]), _post_data(plan, servers=[theirs.pk])
    )
    assert response.status_code == 400
    assert "not a server in this plan" in response.content.decode()
    assert not MaintenanceWindow.objects.exists()


def test_posting_an_out_of_scope_server_of_the_team_is_refused(
    client_for, plan, planner, team, calls
):
    stray = factories.ServerFactory(team=team, hostname="db-01")
    response = client_for(planner).post(
        reverse("window_create", args=[plan.pk]), _post_data(plan, servers=[stray.pk])
    )
    assert response.status_code == 400 and not MaintenanceWindow.objects.exists()


def test_form_refuses_end_before_start_next_to_the_field(client_for, plan, planner, calls):
    response = client_for(planner).post(
        reverse("window_create", args=[plan.pk]),
        _post_data(plan, starts="2026-03-07T23:00", ends="2026-03-07T22:00"),
    )
    assert response.status_code == 400
    assert "The window must end after it starts." in response.content.decode()
    assert not MaintenanceWindow.objects.exists()


def test_window_page_shows_warnings_with_reasons(client_for, plan, planner):
    s = servers_of(plan)
    window = factories.WindowFactory(
        plan=plan, starts_at=berlin(2026, 3, 4, 14), ends_at=berlin(2026, 3, 4, 15)
    )
    WindowServer.objects.create(window=window, server=s["web-prd-01"])
    body = client_for(planner).get(reverse("window_detail", args=[window.pk])).content.decode()
    assert 'data-code="outside_off_peak"' in body
    assert 'data-code="production_before_staging"' in body


def test_stale_window_save_is_refused_showing_current_values_and_keeping_input(
    client_for, plan, planner, calls
):
    window = services.window_create(
        plan=plan,
        starts_at=berlin(2026, 3, 7, 23),
        ends_at=berlin(2026, 3, 8, 1),
        by=planner,
        title="Old",
    )
    services.window_update(
        window=window,
        version=1,
        title="Theirs",
        starts_at=berlin(2026, 3, 7, 22),
        ends_at=berlin(2026, 3, 8, 1),
        by=planner,
    )
    response = client_for(planner).post(
        reverse("window_detail", args=[window.pk]), _post_data(plan, title="Mine", version="1")
    )
    body = response.content.decode()
    assert response.status_code == 409
    assert "Theirs" in body and 'value="Mine"' in body
    assert 'name="version" value="2"' in body
    window.refresh_from_db()
    assert window.title == "Theirs"


def test_cancel_from_the_window_page(client_for, plan, planner, calls):
    window = services.window_create(
        plan=plan, starts_at=berlin(2026, 3, 7, 23), ends_at=berlin(2026, 3, 8, 1), by=planner
    )
    response = client_for(planner).post(reverse("window_cancel", args=[window.pk]), {"version": 1})
    assert response.status_code == 302
    window.refresh_from_db()
    assert window.cancelled_at is not None and window.sequence == 1


@pytest.mark.parametrize("who, status", [("engineer", 403), ("viewer", 403), ("outsider", 404)])
def test_only_planners_change_windows(client_for, plan, planner, request, who, status, calls):
    window = factories.WindowFactory(
        plan=plan, starts_at=berlin(2026, 3, 7, 23), ends_at=berlin(2026, 3, 8, 1)
    )
    client = client_for(request.getfixturevalue(who))
    assert (
        client.post(reverse("window_create", args=[plan.pk]), _post_data(plan)).status_code
        == status
    )
    assert (
        client.post(reverse("window_detail", args=[window.pk]), _post_data(plan)).status_code
        == status
    )
    assert (
        client.post(reverse("window_cancel", args=[window.pk]), {"version": 1}).status_code
        == status
    )
    window.refresh_from_db()
    assert MaintenanceWindow.objects.count() == 1 and window.cancelled_at is None and calls == []


def test_outsider_gets_404_for_window_pages(client_for, plan, outsider):
    window = factories.WindowFactory(plan=plan)
    client = client_for(outsider)
    assert client.get(reverse("window_detail", args=[window.pk])).status_code == 404
    assert client.get(reverse("window_create", args=[plan.pk])).status_code == 404
    assert client.get(reverse("window_suggest", args=[plan.pk]), {"length": 60}).status_code == 404


def test_the_plan_page_lists_windows_with_their_warnings(client_for, plan, planner):
    s = servers_of(plan)
    window = factories.WindowFactory(
        plan=plan, starts_at=berlin(2026, 3, 4, 14), ends_at=berlin(2026, 3, 4, 15), title="Daytime"
    )
    WindowServer.objects.create(window=window, server=s["web-stg-01"], expected_downtime_minutes=7)
    body = page_html(client_for(planner), reverse("plan_detail", args=[plan.pk]))
    assert "Daytime" in body and 'data-code="outside_off_peak"' in body and "7 min" in body


def test_window_times_in_new_york_cross_dst_correctly(plan, planner, calls):
    # US DST starts 8 Mar 2026, Europe's on 29 Mar: in between, New York is 5 hours behind
    # Berlin, not 6.
    window = services.window_create(
        plan=plan,
        starts_at=datetime(2026, 3, 14, 18, tzinfo=NEW_YORK),
        ends_at=datetime(2026, 3, 14, 20, tzinfo=NEW_YORK),
        by=planner,
    )
    window.refresh_from_db()
    assert window.starts_at.astimezone(BERLIN).hour == 23
    assert window.ends_at - window.starts_at == timedelta(hours=2)


def test_a_stale_save_does_not_bring_a_cancelled_window_back(client_for, plan, planner, calls):
    window = services.window_create(
        plan=plan, starts_at=berlin(2026, 3, 7, 23), ends_at=berlin(2026, 3, 8, 1), by=planner
    )
    services.window_cancel(window=window, version=1, by=planner)
    response = client_for(planner).post(
        reverse("window_detail", args=[window.pk]), _post_data(plan, title="Mine", version="1")
    )
    assert response.status_code == 400
    assert "cancelled" in response.content.decode()
    window.refresh_from_db()
    assert window.cancelled_at is not None and window.title == ""


def test_a_local_time_that_does_not_exist_is_refused_next_to_the_field(
    client_for, plan, planner, calls
):
    # 29 Mar 2026 02:30 does not exist in Berlin (clocks jump from 02:00 to 03:00).
    response = client_for(planner).post(
        reverse("window_create", args=[plan.pk]),
        _post_data(plan, starts="2026-03-29T02:30", ends="2026-03-29T04:00"),
    )
    assert response.status_code == 400
    assert "does not exist or happens twice in Europe/Berlin" in response.content.decode()
    assert not MaintenanceWindow.objects.exists()

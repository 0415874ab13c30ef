"""Every date-time input names the zone it is read in, and reads the value in that zone
(the viewer's), on the days the clocks change too; a link never shows a UTC time beside
a local one."""

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from plans.models import BackupRecord, MaintenanceWindow
from plans.models import TestRun as RecordedTestRun
from servers.choices import Environment
from tests import factories

BERLIN = ZoneInfo("Europe/Berlin")

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _spring_2027():
    # Days around Berlin's DST changes of 2027 (28 March forward, 31 October back).
    with time_machine.travel(datetime(2027, 3, 20, 9, tzinfo=UTC), tick=False):
        yield


@pytest.fixture
def plan(team, planner):
    team.time_zone = "Europe/Berlin"
    team.save()
    factories.OffPeakFactory(team=team, weekday=6, starts_at=time(0), ends_at=time(6))
    plan = factories.PlanFactory(team=team, owner=planner, title="nginx security patch")
    plan.servers.add(
        factories.ServerFactory(team=team, hostname="web-stg-01", environment=Environment.STAGING)
    )
    return plan


def _window_post(plan, starts, ends):
    server = plan.servers.get()
    return {
        "title": "Staging",
        "starts_at": starts,
        "ends_at": ends,
        "servers": [server.pk],
        f"downtime_{server.pk}": "10",
    }


def test_the_window_form_names_the_viewers_zone_under_each_time(client_for, plan, planner):
    planner.time_zone = "America/New_York"
    planner.save()
    html = client_for(planner).get(reverse("window_create", args=[plan.pk])).content.decode()
    # Starts, Ends, and the suggestion's "Start after".
    assert html.count("America/New_York (your time zone)") == 3
    assert "Europe/Berlin (your time zone)" not in html


def test_a_window_typed_on_the_spring_dst_day_is_stored_as_that_local_time(
    client_for, plan, planner
):
    planner.time_zone = "Europe/Berlin"
    planner.save()
    response = client_for(planner).post(
        reverse("window_create", args=[plan.pk]),
        _window_post(plan, "2027-03-28T01:30", "2027-03-28T04:00"),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    window = MaintenanceWindow.objects.get()
    # 01:30 is still CET (+01:00); at 02:00 the clocks jumped to 03:00 CEST (+02:00).
    assert window.starts_at == datetime(2027, 3, 28, 0, 30, tzinfo=UTC)
    assert window.ends_at == datetime(2027, 3, 28, 2, 0, tzinfo=UTC)
    assert window.starts_at.astimezone(BERLIN).hour == 1
    assert window.ends_at.astimezone(BERLIN).hour == 4


@pytest.mark.parametrize(
    "typed", ["2027-03-28T02:30", "2027-10-31T02:30"], ids=["skipped", "repeated"]
)
def test_a_local_time_the_clock_change_skips_or_repeats_is_refused_at_the_field(
    client_for, plan, planner, typed
):
    planner.time_zone = "Europe/Berlin"
    planner.save()
    response = client_for(planner).post(
        reverse("window_create", args=[plan.pk]), _window_post(plan, typed, "2027-11-01T05:00")
    )
    assert response.status_code == 400
    assert "does not exist or happens twice in Europe/Berlin" in response.content.decode()
    assert not MaintenanceWindow.objects.exists()


def test_a_backup_verified_at_is_read_in_the_recorders_zone(client_for, plan, engineer):
    engineer.time_zone = "America/New_York"
    engineer.save()
    client = client_for(engineer)
    page = client.get(reverse("plan_evidence", args=[plan.pk])).content.decode()
    # "Verified at" (backups), "Run at" (test runs) and "Approved at" (change approvals).
    assert page.count("America/New_York (your time zone)") == 3
    server = plan.servers.get()
    response = client.post(
        reverse("backup_create", args=[plan.pk]),
        {
            "backup-servers": [server.pk],
            "backup-what": "/etc/nginx",
            "backup-location": "s3://backups/web",
            "backup-verified_by": engineer.pk,
            # New York moved to EDT on 14 March: 17:00 there is 21:00 UTC.
            "backup-verified_at": "2027-03-18T17:00",
        },
    )
    assert response.status_code == 302
    assert BackupRecord.objects.get().verified_at == datetime(2027, 3, 18, 21, tzinfo=UTC)


def test_a_test_run_time_is_read_in_the_recorders_zone(client_for, plan, engineer):
    engineer.time_zone = "Europe/Berlin"
    engineer.save()
    server = plan.servers.get()
    # A run is never in the future: record it a few days after the DST day.
    with time_machine.travel(datetime(2027, 4, 2, 9, tzinfo=UTC), tick=False):
        response = client_for(engineer).post(
            reverse("testrun_create", args=[plan.pk]),
            {
                "test-environment": "staging",
                "test-servers": [server.pk],
                "test-result": "pass",
                "test-run_at": "2027-03-28T03:15",
            },
        )
    assert response.status_code == 302
    assert RecordedTestRun.objects.get().run_at == datetime(2027, 3, 28, 1, 15, tzinfo=UTC)


def test_a_change_approval_time_is_read_in_the_recorders_zone(client_for, plan, engineer):
    from plans.models import ChangeApproval

    engineer.time_zone = "America/New_York"
    engineer.save()
    with time_machine.travel(datetime(2027, 4, 2, 9, tzinfo=UTC), tick=False):
        response = client_for(engineer).post(
            reverse("change_approval_create", args=[plan.pk]),
            {
                "approval-change_id": "CHG0031337",
                "approval-approved_by": "CAB",
                # EDT since 14 March: 17:00 in New York is 21:00 UTC.
                "approval-approved_at": "2027-03-18T17:00",
            },
        )
    assert response.status_code == 302
    assert ChangeApproval.objects.get().approved_at == datetime(2027, 3, 18, 21, tzinfo=UTC)


def test_suggest_after_is_read_in_the_viewers_zone(client_for, plan, planner):
    planner.time_zone = "Asia/Tokyo"
    planner.save()
    server = plan.servers.get()
    # Off-peak is Sunday 00:00-06:00 Berlin. 08:30 on Sunday 28 March in Tokyo is
    # 01:30 Berlin (CET): the first free slot starts then, not at Sunday 00:00.
    response = client_for(planner).get(
        reverse("window_suggest", args=[plan.pk]),
        {"length": "60", "servers": [server.pk], "after": "2027-03-28T08:30"},
    )
    assert response.status_code == 200
    buttons = response.content.decode()
    assert 'data-starts="2027-03-28T08:30"' in buttons  # Tokyo time, as typed
    assert "Asia/Tokyo" in buttons


def test_run_mode_links_show_the_window_in_the_viewers_zone_only(client_for, plan, planner):
    planner.time_zone = "America/New_York"
    planner.save()
    untitled = factories.WindowFactory(
        plan=plan,
        title="",
        starts_at=datetime(2027, 3, 28, 1, 30, tzinfo=UTC),
        ends_at=datetime(2027, 3, 28, 2, 30, tzinfo=UTC),
    )
    # The plan page's "Running the plan" card, as its htmx load fetches it.
    html = (
        client_for(planner)
        .get(reverse("plan_signoff", args=[plan.pk]), {"card": "1"}, HTTP_HX_REQUEST="true")
        .content.decode()
    )
    link = html.split('data-testid="run-links"')[1].split("</ul>")[0]
    assert reverse("plan_window_run", args=[plan.pk, untitled.pk]) in link
    # 01:30 UTC is 21:30 the evening before in New York (EDT), and says so.
    assert "Sat 27 Mar, 21:30 America/New_York" in link
    assert "01:30" not in link and "2027-03-28" not in link


def test_an_untitled_window_reads_in_the_active_zone_with_the_zone_named(plan):
    window = factories.WindowFactory(
        plan=plan, title="", starts_at=datetime(2027, 3, 28, 1, 30, tzinfo=UTC)
    )
    with timezone.override(ZoneInfo("America/New_York")):
        assert str(window) == "nginx security patch: 27 Mar 2027, 21:30 America/New_York"
    with timezone.override(BERLIN):
        assert str(window) == "nginx security patch: 28 Mar 2027, 03:30 Europe/Berlin"


def test_the_log_forms_window_choice_reads_in_the_viewers_zone(client_for, plan, engineer):
    engineer.time_zone = "America/New_York"
    engineer.save()
    factories.WindowFactory(plan=plan, title="", starts_at=datetime(2027, 3, 28, 1, 30, tzinfo=UTC))
    html = client_for(engineer).get(reverse("plan_log", args=[plan.pk])).content.decode()
    assert ">27 Mar 2027, 21:30 America/New_York</option>" in html


def test_the_early_start_question_names_the_zone_of_the_planned_start(plan, engineer):
    from django.core.exceptions import ValidationError

    from plans.services.execution import window_start

    plan.status = "approved"  # a window's work waits for the plan's approval
    plan.save(update_fields=["status"])
    window = factories.WindowFactory(
        plan=plan, title="Staging", starts_at=datetime(2027, 3, 28, 1, 30, tzinfo=UTC)
    )
    with timezone.override(ZoneInfo("America/New_York")), pytest.raises(ValidationError) as err:
        window_start(window=window, by=engineer)
    assert "Sat 27 Mar 2027, 21:30 America/New_York" in " ".join(err.value.messages)

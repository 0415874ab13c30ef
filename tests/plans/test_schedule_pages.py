"""Scheduling a template from its page: the card, good and bad input, who may."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine

from plans.models import PlanSchedule
from plans.services import plans as plan_services
from tests.pages import page_html

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def template(team, planner):
    return plan_services.plan_create(
        team=team, title="Debian point release", owner=planner, by=planner, is_template=True
    )


GOOD = {
    "frequency": "monthly_weekday",
    "week_of_month": "2",
    "weekday": "1",
    "starts_on": "2026-12-01",
    "lead_days": "14",
}


def test_planner_schedules_a_template_and_sees_its_next_date(client_for, planner, template):
    client = client_for(planner)
    page = page_html(client, f"/plans/{template.pk}/")
    assert 'data-testid="schedule-form"' in page
    response = client.post(f"/plans/{template.pk}/schedules/", GOOD, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Every month, second Tuesday" in body and "Next: Tue 8 Dec 2026" in body
    schedule = PlanSchedule.objects.get()
    assert (schedule.owner, schedule.weekday, schedule.week_of_month) == (planner, 1, 2)
    assert schedule.starts_on == date(2026, 12, 1)


def test_bad_input_is_refused_at_the_field_and_nothing_saved(client_for, planner, template):
    bad = {**GOOD, "weekday": ""}
    response = client_for(planner).post(
        f"/plans/{template.pk}/schedules/", bad, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    body = response.content.decode()
    # The message sits with the weekday field (crispy's invalid-feedback).
    weekday = body.split('id="div_id_weekday"')[1].split('id="div_id_day_of_month"')[0]
    assert "Choose a weekday." in weekday
    assert not PlanSchedule.objects.exists()


def test_a_plan_that_is_not_a_template_cannot_be_scheduled(client_for, team, planner):
    plan = plan_services.plan_create(team=team, title="one-off", owner=planner, by=planner)
    response = client_for(planner).post(
        f"/plans/{plan.pk}/schedules/", GOOD, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    assert "Only a template can be scheduled." in response.content.decode()
    assert not PlanSchedule.objects.exists()


def test_viewer_is_refused_and_outsider_gets_404(client_for, viewer, outsider, template):
    url = f"/plans/{template.pk}/schedules/"
    assert client_for(viewer).post(url, GOOD).status_code == 403
    assert client_for(outsider).post(url, GOOD).status_code == 404
    assert 'data-testid="schedule-form"' not in page_html(
        client_for(viewer), f"/plans/{template.pk}/"
    )
    assert not PlanSchedule.objects.exists()

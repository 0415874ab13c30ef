"""seed_demo gives every report, the calendar and the dashboard something real."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from patchplan.dashboard.selectors import milestones_awaiting_my_signoff, recent_activity
from patchplan.reports import charts, selectors
from patchplan.teams.models import Team
from plans.models import Plan, SignOff

# "Now" is frozen for each test (at PATCHPLAN_TEST_CLOCK or the real instant):
# data placed relative to it and the code under test see the same instant.
pytestmark = pytest.mark.usefixtures("frozen_now")


def test_demo_history_fills_every_chart(db):
    call_command("seed_demo", stdout=io.StringIO())
    team = Team.objects.get(slug="demo")
    # The history is loaded once: a second load doubled every past plan and window.
    history = Plan.objects.filter(team=team, title="Kernel 6.1 upgrade")
    assert history.count() == 1
    today = timezone.localdate()
    p = selectors.period(today - timedelta(days=180), today, team.tzinfo)

    posture = selectors.fleet_posture(team=team, p=p)
    values = [v for _d, v in posture.trend]
    assert min(values) < max(values) and len(set(values)) >= 4  # a real curve
    assert posture.with_security_total > 0 and posture.stale_total >= 2
    assert posture.aging and posture.aging[0].age_days > 0

    plans = selectors.plans_report(team=team, p=p)
    assert len(plans.completed) >= 5
    assert {s for s, _k in plans.by_status_kind} >= {"completed", "cancelled", "rolled_back"}
    assert {s.name for s in plans.lead_summary()} == {
        "assessment",
        "testing",
        "deployment",
        "review",
    }
    assert all(lead.hours > 0 for lead in plans.leads)

    downtime = selectors.downtime_report(team=team, p=p)
    assert len(downtime.recorded) >= 5
    assert downtime.overrun_count == 1  # the kernel upgrade
    assert downtime.worst[0].plan_title == "Kernel 6.1 upgrade"
    for chart in (
        *charts.posture_charts(posture).values(),
        *charts.plans_charts(plans).values(),
        *charts.downtime_charts(downtime).values(),
    ):
        assert not chart.empty, chart.title

    people = {m.user.username: m.user for m in team.memberships.select_related("user")}
    assert milestones_awaiting_my_signoff(user=people["approver"], team=team)
    assert recent_activity(user=people["planner"], team=team)
    # Sign-offs are dated in the past, not at seeding time.
    assert not SignOff.objects.filter(
        milestone__plan__status="completed", at__gte=timezone.now() - timedelta(days=1)
    ).exists()


def test_seed_demo_twice_changes_nothing(db):
    call_command("seed_demo", stdout=io.StringIO())
    count = Plan.objects.count()
    call_command("seed_demo", stdout=io.StringIO())
    assert Plan.objects.count() == count

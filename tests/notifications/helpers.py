"""A plan with a window, a milestone, an assigned engineer and RACI roles."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from plans.choices import Raci
from plans.models import PlanRole, WindowServer
from plans.services import plans as plan_services
from plans.services import windows as window_services
from servers.choices import Environment
from tests import factories


def make_window_world(team, *, owner, engineer, starts_in=timedelta(hours=24), servers=3):
    plan = factories.PlanFactory(team=team, owner=owner, title="openssl security patch")
    milestone = factories.MilestoneFactory(plan=plan, name="deployment", position=2)
    PlanRole.objects.create(plan=plan, user=owner, raci=Raci.ACCOUNTABLE)
    task = factories.TaskFactory(
        plan=plan, milestone=milestone, assignee=engineer, title="Patch the web tier"
    )
    starts = timezone.now() + starts_in
    window = factories.WindowFactory(
        plan=plan,
        milestone=milestone,
        title="openssl security patch",
        starts_at=starts,
        ends_at=starts + timedelta(hours=1),
    )
    for i in range(servers):
        server = factories.ServerFactory(team=team, hostname=f"web-{window.pk}-{i:02d}")
        WindowServer.objects.create(window=window, server=server)
    return {"plan": plan, "milestone": milestone, "task": task, "window": window}


def make_oncall_world(team, planner, engineer, approver, viewer, *, now):
    """A plan with 25 production servers and 1 staging server in a window of
    its deployment milestone starting 24 h (less a minute) after `now`: the
    engineer (in New York) has a task in it and is responsible, the approver
    signs the milestone off, the viewer is informed; the team is in Berlin."""
    from datetime import date

    engineer.time_zone = "America/New_York"
    engineer.save()
    team.time_zone = "Europe/Berlin"
    team.save()
    plan = factories.PlanFactory(team=team, owner=planner, title="openssl security patch")
    servers = [
        factories.ServerFactory(
            team=team, hostname=f"web-{i:02d}", environment=Environment.PRODUCTION
        )
        for i in range(25)
    ] + [factories.ServerFactory(team=team, hostname="stage-01", environment=Environment.STAGING)]
    spare = factories.ServerFactory(team=team, hostname="web-99")
    plan_services.plan_scope_add(plan=plan, servers=[*servers, spare], by=planner)
    testing = factories.MilestoneFactory(plan=plan, name="testing", position=1)
    deployment = factories.MilestoneFactory(plan=plan, name="deployment", position=2)
    deployment.signoff_users.set([approver])
    factories.TaskFactory(
        plan=plan,
        milestone=deployment,
        assignee=engineer,
        title="Patch the web tier",
        due_on=date(2026, 12, 4),
    )
    for user, raci in (
        (engineer, Raci.RESPONSIBLE),
        (planner, Raci.ACCOUNTABLE),
        (approver, Raci.INFORMED),
        (viewer, Raci.INFORMED),
    ):
        PlanRole.objects.create(plan=plan, user=user, raci=raci)
    starts = now + timedelta(hours=24) - timedelta(minutes=1)
    window = window_services.window_create(
        plan=plan,
        starts_at=starts,
        ends_at=starts + timedelta(hours=1),
        by=planner,
        title="openssl security patch",
        milestone=deployment,
        downtimes=dict.fromkeys(servers, 10),
    )
    return {
        "plan": plan,
        "window": window,
        "testing": testing,
        "deployment": deployment,
        "servers": servers,
        "spare": spare,
    }

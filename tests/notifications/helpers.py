"""A plan with a window, a milestone, an assigned engineer and RACI roles."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from plans.choices import Raci
from plans.models import PlanRole, WindowServer
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

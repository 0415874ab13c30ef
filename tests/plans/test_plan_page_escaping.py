"""The plan page's rows (templates for tasks, scope, windows, timeline, milestones,
activity) escape every user-supplied value."""

from __future__ import annotations

import pytest

from plans.models import Comment, MaintenanceWindow, Milestone, PlanStatusChange, Task
from servers.models import PendingUpdate, Server, Tag
from tests.pages import page_html
from tests.plans.test_plan_queries import SMALL, build_plan

EVIL = '<b x="1">&\'evil'
ESCAPED = "&lt;b x=&quot;1&quot;&gt;&amp;&#x27;evil"


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["planner", "engineer"])
def test_every_row_of_the_plan_page_escapes_user_text(client_for, team, planner, engineer, who):
    plan = build_plan(team, planner, [planner, engineer], **SMALL)
    Task.objects.filter(plan=plan).update(title=EVIL)
    for i, m in enumerate(Milestone.objects.filter(plan=plan)):
        m.name, m.signoff_roles = f"{EVIL}{i}", [EVIL]
        m.save()
    MaintenanceWindow.objects.filter(plan=plan).update(title=EVIL)
    for s in Server.objects.filter(plans=plan):
        s.hostname = f"{EVIL}{s.pk}"
        s.save()
    Tag.objects.filter(servers__plans=plan).update(name=EVIL)
    PendingUpdate.objects.filter(server__plans=plan).update(current=EVIL)
    # Status changes are append-only (no UPDATE): a new one carries the text.
    PlanStatusChange.objects.create(plan=plan, from_status="draft", to_status="draft", note=EVIL)
    Comment.objects.filter(plan=plan).update(body=EVIL)
    for person in (planner, engineer):
        person.first_name = EVIL
        person.save()

    user = {"planner": planner, "engineer": engineer}[who]
    body = page_html(client_for(user), f"/plans/{plan.pk}/")
    # The activity feed arrives by htmx right after the page.
    body += client_for(user).get(f"/plans/{plan.pk}/activity/").content.decode()

    assert "<b " not in body
    for section in (
        'id="tasks"',
        'id="scope"',
        'id="windows"',
        'id="timeline"',
        'id="milestones"',
        'data-testid="activity"',
    ):
        start = body.index(section)
        assert ESCAPED in body[start : start + 20000] or "&lt;b x" in body[start : start + 20000], (
            section
        )

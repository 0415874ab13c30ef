"""A team whose change process needs the CAB's approval: the deployment's gate checks
for it; an engineer records it on the Evidence page (a bad link is refused at its
field first) and the sign-off panel's check turns green (screenshots looked at)."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import expect

from plans.readiness import gate_codes
from plans.services.plans import milestone_update
from tests.plans.run_helpers import make_plan, make_servers, milestone

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_engineer_records_the_cabs_approval_and_the_gate_sees_it(
    page, live_server, login, shot, team, planner, engineer
):
    # The scope was set an hour ago; the change was approved after that.
    with time_machine.travel(timezone.now() - timedelta(hours=1), tick=False):
        plan = make_plan(team, planner)
        make_servers(team, plan, planner)
    deployment = milestone(plan, "deployment")
    entry, exit_ = gate_codes(deployment)
    milestone_update(
        milestone=deployment,
        version=deployment.version,
        by=planner,
        name=deployment.name,
        starts_on=deployment.starts_on,
        due_on=deployment.due_on,
        signoff_roles=deployment.signoff_roles,
        signoff_count=deployment.signoff_count,
        entry_checks=[*entry, "cab_approval"],
        exit_checks=exit_,
    )
    base = f"{live_server.url}/plans/{plan.pk}"
    login(page, engineer)

    page.goto(f"{base}/evidence/")
    form = page.get_by_test_id("approval-form")
    form.get_by_label("Change request").fill("CHG0031337")
    form.get_by_label("Link to the change").fill("itsm.example.com/CHG0031337")
    form.get_by_label("Approved by").fill("CAB of 1 Dec")
    # Typed in the team's zone (the page's).
    at = timezone.localtime(timezone.now() - timedelta(minutes=10), team.tzinfo)
    form.get_by_label("Approved at").fill(at.strftime("%Y-%m-%dT%H:%M"))
    form.get_by_role("button", name="Record approval").click()
    error = page.locator("#error_1_id_approval-url")
    expect(error).to_contain_text("Give an http(s) link to the change")
    expect(page.get_by_test_id("approval-row")).to_have_count(0)
    shot(page, "change-approval-01-bad-link")

    form = page.get_by_test_id("approval-form")
    form.get_by_label("Link to the change").fill("https://itsm.example.com/change/CHG0031337")
    form.get_by_role("button", name="Record approval").click()
    expect(page.get_by_text("Approval of CHG0031337 recorded.")).to_be_visible()
    row = page.get_by_test_id("approval-row")
    expect(row).to_have_count(1)
    expect(row.get_by_role("link", name="CHG0031337")).to_have_attribute(
        "href", "https://itsm.example.com/change/CHG0031337"
    )
    expect(row).to_contain_text("CAB of 1 Dec")
    shot(page, "change-approval-02-evidence")

    page.goto(f"{base}/signoff/")
    panel = page.locator('[data-testid="signoff-milestone"][data-milestone="deployment"]')
    check = panel.get_by_test_id("check-cab_approval")
    expect(check).to_have_attribute("data-passed", "yes")
    expect(check).to_contain_text("CHG0031337 approved on")
    shot(page, "change-approval-03-signoff")

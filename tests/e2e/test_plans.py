"""Browser tests of the plan document: the list, the plan page with every
section, the status workflow across two people, comments with @mentions that
appear in the other person's open page by themselves (htmx polling), the
stale-edit page, YAML import and templates. Screenshots: var/screenshots/plans-*.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from plans.choices import PlanStatus
from plans.models import Comment, Plan
from plans.services import plans as services
from servers.choices import Environment
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def setup(team, planner, approver, engineer):
    for who, first, last in (
        (planner, "Paul", "Planner"),
        (approver, "Arno", "Approver"),
        (engineer, "Erin", "Engineer"),
    ):
        who.first_name, who.last_name = first, last
        who.save()
    for host, env in [
        ("web-stg-01", Environment.STAGING),
        ("web-prd-01", Environment.PRODUCTION),
        ("db-prd-01", Environment.PRODUCTION),
    ]:
        factories.ServerFactory(team=team, hostname=host, environment=env)
    services.plan_create(
        team=team,
        title="Routine cycle May",
        owner=planner,
        by=planner,
        kind="routine_cycle",
        risk="low",
    )
    services.plan_create(
        team=team,
        title="PostgreSQL 16",
        owner=planner,
        by=planner,
        kind="software_upgrade",
        risk="high",
    )
    # fmt: skip


def test_plan_document_workflow_comments_and_conflict(
    page, browser, live_server, login, shot, setup, planner, approver
):
    url = live_server.url
    login(page, planner)
    page.goto(f"{url}/plans/new/")
    page.get_by_label("Title").fill("OpenSSL critical fix")
    page.get_by_label("Risk").select_option(label="Critical")
    page.get_by_label("Objective").fill(
        "Patch **every** web server.\n\n- staging first\n- then prod"
    )
    page.get_by_label("Packages").fill("openssl libssl3")
    page.get_by_label("References").fill("CVE-2024-0001\nDSA-5678-1")
    page.get_by_label("Rollback plan").fill("Restore the VM snapshot.")
    shot(page, "plans-1-new-plan-form")
    page.get_by_role("button", name="Create plan").click()
    plan = Plan.objects.get(title="OpenSSL critical fix")
    expect(page.locator("#goals strong")).to_have_text("every")
    expect(page.get_by_role("link", name="CVE-2024-0001")).to_have_attribute(
        "href", "https://www.cve.org/CVERecord?id=CVE-2024-0001"
    )
    expect(page.get_by_test_id("milestone-row")).to_have_count(4)

    # Scope by environment: staging marked.
    page.goto(f"{url}/plans/{plan.pk}/scope/?environment=staging")
    page.get_by_label("web-stg-01").check()
    page.get_by_role("button", name="Add ticked servers").click()
    expect(page.get_by_text("1 server added to the scope.")).to_be_visible()
    shot(page, "plans-2-scope")

    # Milestones: add one, move it up, in place (htmx).
    page.goto(f"{url}/plans/{plan.pk}/")
    page.get_by_label("Name").fill("verification")
    page.locator("#milestones").get_by_role("button", name="Add").click()
    expect(page.get_by_test_id("milestone-row")).to_have_count(5)
    page.get_by_role("button", name="Move verification up").click()
    expect(page.get_by_test_id("milestone-row").nth(3)).to_contain_text("verification")
    # Edit opens the row's form in place; its sign-off rule is on the full page.
    page.get_by_role("link", name="Edit verification").click()
    editor = page.locator("[data-row-editor]")
    expect(editor.get_by_label("Name")).to_be_focused()
    editor.get_by_role("link", name="All fields").click()
    page.get_by_label("Starts").fill("2030-02-01")
    page.get_by_label("Due").fill("2030-02-03")
    page.get_by_label("Approver", exact=True).check()
    page.get_by_label("Approvals needed").fill("2")
    shot(page, "plans-2b-milestone-form")
    page.get_by_role("button", name="Save milestone").click()
    expect(page.get_by_test_id("milestone-row").nth(3)).to_contain_text(
        "Sign-off: 2 approvals by approver"
    )

    # Send for review.
    page.get_by_role("button", name="Send for review").click()
    expect(page.get_by_test_id("plan-status")).to_have_text("In review")

    # The approver, in a second browser, has the page open...
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        other = context.new_page()
        login(other, approver)
        other.goto(f"{url}/plans/{plan.pk}/")
        # ...and the planner's comment appears there by itself (the page's live poll).
        page.get_by_label("Comment").fill(f"@{approver.username} please review the **rollback**.")
        page.get_by_role("button", name="Comment", exact=True).click()
        expect(page.get_by_test_id("activity")).to_contain_text("please review")
        expect(page.get_by_label("Comment")).to_have_value("")
        expect(other.get_by_test_id("activity")).to_contain_text("please review", timeout=2000)
        assert list(Comment.objects.get().mentions.all()) == [approver]
        other.get_by_test_id("status-moves").get_by_role("button", name="Approve plan").click()
        expect(other.get_by_test_id("plan-status")).to_have_text("Approved")
        shot(other, "plans-3-approved-by-approver")
    finally:
        context.close()
    assert Plan.objects.get(pk=plan.pk).status == PlanStatus.APPROVED

    # A stale edit: the planner's form was loaded before someone else saved.
    page.goto(f"{url}/plans/{plan.pk}/edit/")
    fresh = Plan.objects.get(pk=plan.pk)
    services.plan_update(plan=fresh, by=approver, objective="Theirs")
    page.get_by_label("Objective").fill("Mine")
    page.get_by_role("button", name="Save plan").click()
    # Only the field both changed is a conflict: theirs beside mine, and "keep mine".
    merge = page.get_by_test_id("merge-objective")
    expect(merge.get_by_test_id("merge-theirs")).to_have_text("Theirs")
    expect(merge.get_by_test_id("merge-mine")).to_have_text("Mine")
    shot(page, "plans-4-merge")
    merge.get_by_role("button", name="Keep mine").click()
    expect(page.locator("#goals")).to_contain_text("Mine")
    shot(page, "plans-5-plan-page")

    # The list: critical security first.
    page.goto(f"{url}/plans/")
    expect(page.get_by_test_id("plan-table").locator("tbody tr").first).to_contain_text(
        "OpenSSL critical fix"
    )
    shot(page, "plans-6-list")

    # Templates: save, then a plan from it.
    page.goto(f"{url}/plans/{plan.pk}/save-template/")
    page.get_by_label("Review by").fill("2030-01-31")
    page.get_by_role("button", name="Save template").click()
    expect(page.get_by_text("Template", exact=True)).to_be_visible()
    shot(page, "plans-7-template")
    page.get_by_role("link", name="Create plan from template").click()
    page.get_by_label("Title of the new plan").fill("OpenSSL fix, June")
    page.get_by_label("Timeline starts on").fill("2030-06-01")
    page.get_by_role("button", name="Create plan").click()
    expect(page.locator("h1")).to_contain_text("Servers in scope")

    # Import YAML with a problem: the line is named and nothing is created.
    page.goto(f"{url}/plans/import/")
    page.get_by_label("…or paste YAML").fill(
        "title: x\nmilestones:\n  - testing: '2023-10-05'\n  - deployment: '2023-10-01'\n"
    )
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_test_id("import-problems")).to_contain_text("line 4: deployment")
    shot(page, "plans-8-import-problem")
    assert not Plan.objects.filter(title="x").exists()

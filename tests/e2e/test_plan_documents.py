"""The plan's document texts in the browser: Markdown with a Preview tab in the
section editor (the typed text is kept while previewing), and every saved version
with who and when, and the diff between two. Screenshots: var/screenshots/documents-*.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from plans.models import Plan
from plans.services import plans as services

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def plan(team, planner, admin):
    planner.first_name, planner.last_name = "Erik", "Berg"
    planner.save()
    admin.first_name, admin.last_name = "Amara", "Okafor"
    admin.save()
    plan = services.plan_create(
        team=team,
        title="Kernel update",
        owner=planner,
        by=planner,
        rollback_plan="1. Reboot into the old kernel.\n2. Check `uname -r`.",
    )
    services.plan_update(
        plan=Plan.objects.get(pk=plan.pk),
        by=admin,
        rollback_plan="1. Reboot into the old kernel from GRUB.\n2. Check `uname -r`.\n"
        "3. Tell #ops.",
    )
    return plan


def test_preview_then_save_then_compare_versions(page, login, live_server, planner, plan, shot):
    login(page, planner)
    page.goto(f"{live_server.url}/plans/{plan.pk}/")
    section = page.get_by_test_id("section-rollback_plan")
    section.get_by_test_id("edit-rollback_plan").click()
    box = section.get_by_label("Rollback plan")
    typed = "1. **Boot** the old kernel from GRUB.\n2. Check `uname -r`.\n3. Tell #ops."
    box.fill(typed)
    section.get_by_role("tab", name="Preview").click()
    preview = section.get_by_test_id("document-preview-rollback_plan")
    expect(preview.locator("strong")).to_have_text("Boot")
    expect(preview.locator("ol > li")).to_have_count(3)
    expect(box).to_be_hidden()
    shot(page, "documents-1-preview")
    section.get_by_role("tab", name="Write").click()
    expect(box).to_have_value(typed)
    section.get_by_role("button", name="Save").click()
    expect(section.locator("strong")).to_have_text("Boot")

    section.get_by_test_id("versions-rollback_plan").click()
    expect(page.get_by_test_id("document-version")).to_have_count(3)
    diff = page.get_by_test_id("document-diff")
    expect(diff).to_contain_text("From version 2 to version 3")
    expect(diff.get_by_test_id("diff-del")).to_contain_text("Reboot into the old kernel from GRUB.")
    expect(diff.get_by_test_id("diff-add")).to_contain_text("**Boot** the old kernel from GRUB.")
    expect(page.get_by_test_id("document-versions")).to_contain_text("Amara Okafor")
    shot(page, "documents-2-diff-newest-two")

    page.get_by_role("radio", name="Compare from version 1").check()
    page.get_by_role("radio", name="Compare to version 2").check()
    page.get_by_test_id("compare").click()
    expect(diff).to_contain_text("From version 1 to version 2")
    expect(diff.get_by_test_id("diff-add")).to_have_count(2)
    page.get_by_role("link", name="Read version 1").click()
    expect(page.get_by_test_id("shown-version")).to_contain_text("Version 1, saved by Erik Berg")
    expect(page.get_by_test_id("shown-version").locator("ol > li")).to_have_count(2)
    expect(diff).to_contain_text("From version 1 to version 2")  # the comparison stays
    shot(page, "documents-3-one-version")


def test_lessons_learned_preview_and_versions(page, login, live_server, planner, plan, shot):
    login(page, planner)
    page.goto(f"{live_server.url}/plans/{plan.pk}/review/")
    form = page.get_by_test_id("lessons-form")
    form.get_by_label("Lessons learned").fill("- Freeze **earlier**\n- Test the replica")
    form.get_by_role("tab", name="Preview").click()
    preview = form.get_by_test_id("document-preview-lessons_learned")
    expect(preview.locator("li")).to_have_count(2)
    expect(preview.locator("strong")).to_have_text("earlier")
    shot(page, "documents-4-lessons-preview")
    form.get_by_role("button", name="Save lessons learned").click()
    page.get_by_test_id("versions-lessons_learned").click()
    expect(page.get_by_test_id("document-version")).to_have_count(1)
    page.get_by_role("link", name="Read version 1").click()
    expect(page.get_by_test_id("shown-version").locator("strong")).to_have_text("earlier")

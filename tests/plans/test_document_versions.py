"""The plan's document texts (backup, test, rollback, communication plans, lessons
learned) are Markdown with a preview, and keep every saved version in full (an
append-only table written in the save's transaction) with who and when, and a line
diff between any two."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.db.utils import InternalError

from plans.models import DocumentVersion, Plan
from plans.selectors.documents import line_diff
from plans.services import plans as services
from plans.services.review import plan_lessons_update

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def plan(team, planner, frozen_now):
    return services.plan_create(
        team=team, title="Kernel update", owner=planner, by=planner, rollback_plan="Reboot."
    )


def _save(plan, by, **fields):
    fresh = Plan.objects.get(pk=plan.pk)
    return services.plan_update(plan=fresh, by=by, **fields)


def _versions(plan, field):
    return list(
        DocumentVersion.objects.filter(plan=plan, field=field)
        .order_by("id")
        .values_list("text", "by__username")
    )


def test_each_save_of_a_document_text_is_a_version_with_who(plan, planner, admin):
    long_text = "\n".join(["step"] * 1000)  # longer than the audit trail keeps
    _save(plan, admin, rollback_plan=long_text)
    _save(plan, planner, objective="Patch.", rollback_plan=long_text)  # not a change
    assert _versions(plan, "rollback_plan") == [
        ("Reboot.", planner.username),
        (long_text, admin.username),
    ]
    assert _versions(plan, "objective") == []  # not a document text
    assert _versions(plan, "backup_plan") == []  # never written


def test_a_conflicting_field_writes_no_version(plan, planner, admin):
    _save(plan, admin, rollback_plan="Theirs.")
    result = services.plan_update(
        plan=Plan.objects.get(pk=plan.pk),
        by=planner,
        base={"rollback_plan": "Reboot.", "backup_plan": ""},
        rollback_plan="Mine.",
        backup_plan="Snapshot first.",
    )
    assert [c.field for c in result.conflicts] == ["rollback_plan"]
    assert [t for t, _ in _versions(plan, "rollback_plan")] == ["Reboot.", "Theirs."]
    assert _versions(plan, "backup_plan") == [("Snapshot first.", planner.username)]


def test_the_lessons_learned_keep_their_versions(plan, approver):
    plan_lessons_update(plan=plan, lessons_learned="Freeze earlier.", by=approver)
    plan_lessons_update(plan=plan, lessons_learned="Freeze earlier.", by=approver)
    assert _versions(plan, "lessons_learned") == [("Freeze earlier.", approver.username)]


def test_a_version_is_never_changed_nor_deleted(plan, require_postgres):
    version = DocumentVersion.objects.get(plan=plan)
    for statement in (
        "UPDATE plans_documentversion SET text = 'forged' WHERE id = %s",
        "DELETE FROM plans_documentversion WHERE id = %s",
    ):
        with (
            pytest.raises((IntegrityError, InternalError)),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, [version.pk])
    assert DocumentVersion.objects.get(pk=version.pk).text == "Reboot."


def test_a_failed_save_leaves_no_version(plan, planner):
    with pytest.raises(ValueError), transaction.atomic():
        services.plan_update(plan=plan, by=planner, rollback_plan="Half.", status="x")
    with pytest.raises(RuntimeError), transaction.atomic():
        _save(plan, planner, rollback_plan="Rolled back with the save.")
        raise RuntimeError
    assert [t for t, _ in _versions(plan, "rollback_plan")] == ["Reboot."]


def test_deleting_a_draft_takes_its_versions(plan, planner):
    services.plan_delete(plan=plan, by=planner)
    assert not DocumentVersion.objects.filter(plan_id=plan.pk).exists()


def test_line_diff_marks_removed_and_added_lines_with_context():
    old = "\n".join(f"line {i}" for i in range(1, 21))
    new = old.replace("line 2\n", "line two\n").replace("line 19", "line 19\nline 19b")
    diff = line_diff(old, new, context=1)
    assert [(d.kind, d.text, d.old_no, d.new_no) for d in diff] == [
        ("same", "line 1", 1, 1),
        ("del", "line 2", 2, None),
        ("add", "line two", None, 2),
        ("same", "line 3", 3, 3),
        ("gap", "", None, None),
        ("same", "line 19", 19, 19),
        ("add", "line 19b", None, 20),
        ("same", "line 20", 20, 21),
    ]


# --- pages ------------------------------------------------------------------------


def test_versions_page_lists_who_and_when_and_diffs_the_newest_two(
    client_for, plan, planner, admin, frozen_now, django_assert_max_num_queries
):
    with time_machine.travel(frozen_now + timedelta(hours=1), tick=False):
        _save(plan, admin, rollback_plan="Reboot.\nThen check `uname -r`.")
    for n in range(5):  # more versions, same number of queries
        _save(plan, planner, rollback_plan=f"Reboot.\nThen check `uname -r`.\nStep {n}.")
    _save(plan, admin, rollback_plan="Boot the old kernel.\nThen check `uname -r`.")
    client = client_for(planner)
    url = f"/plans/{plan.pk}/doc/rollback_plan/versions/"
    # Session, user, team (3); the plan with its access check (2); the versions, the
    # two texts compared (2).
    with django_assert_max_num_queries(9):
        response = client.get(url)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.count('data-testid="document-version"') == 8
    assert admin.display_name in body and planner.display_name in body
    assert "From version 7 to version 8" in body
    assert 'data-testid="diff-del"' in body and "Step 4." in body
    assert "Boot the old kernel." in body


def test_versions_page_diffs_any_two_and_shows_one(client_for, plan, planner, admin):
    _save(plan, admin, rollback_plan="Second **version**.")
    _save(plan, admin, rollback_plan="Third.")
    first, second, third = DocumentVersion.objects.filter(plan=plan).order_by("id")
    client = client_for(planner)
    url = f"/plans/{plan.pk}/doc/rollback_plan/versions/"
    body = client.get(url, {"a": first.pk, "b": third.pk}).content.decode()
    assert "From version 1 to version 3" in body
    assert "Reboot." in body and "Third." in body and "Second" not in body
    body = client.get(url, {"show": second.pk}).content.decode()
    assert "<strong>version</strong>" in body and "Version 2, saved by" in body


def test_versions_of_another_plan_or_text_are_not_compared(client_for, team, plan, planner):
    other = services.plan_create(
        team=team, title="Other", owner=planner, by=planner, rollback_plan="Elsewhere."
    )
    foreign = DocumentVersion.objects.get(plan=other)
    mine = DocumentVersion.objects.get(plan=plan)
    response = client_for(planner).get(
        f"/plans/{plan.pk}/doc/rollback_plan/versions/", {"a": mine.pk, "b": foreign.pk}
    )
    assert response.status_code == 400 and "Elsewhere." not in response.content.decode()
    assert "Choose two versions" in response.content.decode()


def test_versions_page_access(client_for, viewer, outsider, plan):
    url = f"/plans/{plan.pk}/doc/rollback_plan/versions/"
    assert client_for(viewer).get(url).status_code == 200
    assert client_for(outsider).get(url).status_code == 404
    assert client_for(viewer).get(f"/plans/{plan.pk}/doc/objective/versions/").status_code == 404


def test_a_document_section_links_its_versions(client_for, planner, plan):
    body = client_for(planner).get(f"/plans/{plan.pk}/doc/rollback_plan/", **HX).content.decode()
    assert f'href="/plans/{plan.pk}/doc/rollback_plan/versions/"' in body
    body = client_for(planner).get(f"/plans/{plan.pk}/doc/objective/", **HX).content.decode()
    assert "/versions/" not in body


# --- preview ----------------------------------------------------------------------


def test_the_editor_of_a_document_text_has_write_and_preview(client_for, planner, plan):
    body = (
        client_for(planner).get(f"/plans/{plan.pk}/doc/backup_plan/?edit=1", **HX).content.decode()
    )
    assert 'data-md-tab="write"' in body and 'data-md-tab="preview"' in body
    assert f'hx-post="/plans/{plan.pk}/doc/preview/"' in body


def test_preview_renders_through_the_safe_renderer_and_saves_nothing(
    client_for, planner, plan, django_assert_max_num_queries
):
    client = client_for(planner)
    text = "**Snapshot** first <script>alert(1)</script> [x](javascript:alert(1))"
    # Session, user, team (3); the access check (1).
    with django_assert_max_num_queries(4):
        response = client.post(
            f"/plans/{plan.pk}/doc/preview/", {"field": "backup_plan", "backup_plan": text}, **HX
        )
    body = response.content.decode()
    assert response.status_code == 200 and "<strong>Snapshot</strong>" in body
    assert "<script" not in body and "javascript:" not in body
    assert Plan.objects.get(pk=plan.pk).backup_plan == ""


def test_preview_refuses_what_is_not_a_document_text(client_for, planner, plan):
    response = client_for(planner).post(
        f"/plans/{plan.pk}/doc/preview/", {"field": "title", "title": "x"}, **HX
    )
    assert response.status_code == 400


def test_preview_access(client_for, viewer, outsider, plan):
    data = {"field": "backup_plan", "backup_plan": "*x*"}
    assert client_for(viewer).post(f"/plans/{plan.pk}/doc/preview/", data).status_code == 403
    assert client_for(outsider).post(f"/plans/{plan.pk}/doc/preview/", data).status_code == 404


def test_the_lessons_learned_editor_has_a_preview_and_its_versions(client_for, planner, plan):
    body = client_for(planner).get(f"/plans/{plan.pk}/review/").content.decode()
    assert 'data-md-tab="preview"' in body and 'name="lessons_learned"' in body
    assert f'href="/plans/{plan.pk}/doc/lessons_learned/versions/"' in body

"""The plan document merges rather than refuses: each save carries the value every
edited field had when its editor started; only a field someone else changed
meanwhile is a conflict, and nothing writes a field its user did not change."""

from __future__ import annotations

import pytest

from plans import live
from plans.models import AuditEvent, Plan
from plans.services import plans as services
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan(team, planner):
    return services.plan_create(
        team=team,
        title="Kernel update",
        owner=planner,
        by=planner,
        rollback_plan="Reboot into the old kernel.",
        communication_plan="Mail the team.",
        objective="Patch.",
    )


def _loaded(plan) -> Plan:
    """A second editor's copy, loaded now."""
    return Plan.objects.get(pk=plan.pk)


def test_two_editors_changing_different_fields_both_keep_their_edit(plan, planner, admin):
    erik, amara = _loaded(plan), _loaded(plan)
    first = services.plan_update(
        plan=erik,
        by=planner,
        base={"rollback_plan": erik.rollback_plan, "communication_plan": erik.communication_plan},
        rollback_plan="Boot the previous kernel from GRUB.",
        communication_plan=erik.communication_plan,  # in the form, not changed
    )
    second = services.plan_update(
        plan=amara,
        by=admin,
        base={"rollback_plan": amara.rollback_plan, "communication_plan": amara.communication_plan},
        rollback_plan=amara.rollback_plan,  # stale copy in her form: not hers to write
        communication_plan="Post in #ops before and after.",
    )
    assert (first.saved, first.conflicts) == (["rollback_plan"], [])
    assert (second.saved, second.conflicts) == (["communication_plan"], [])
    fresh = _loaded(plan)
    assert fresh.rollback_plan == "Boot the previous kernel from GRUB."
    assert fresh.communication_plan == "Post in #ops before and after."
    changed = AuditEvent.objects.filter(plan=plan, action="changed").order_by("pk")
    assert [(e.field, e.by_id) for e in changed] == [
        ("rollback_plan", planner.pk),
        ("communication_plan", admin.pk),
    ]


def test_same_field_is_a_conflict_for_that_field_only_and_the_others_are_saved(
    plan, planner, admin
):
    erik, amara = _loaded(plan), _loaded(plan)
    services.plan_update(
        plan=erik, by=planner, base={"rollback_plan": erik.rollback_plan}, rollback_plan="Erik's"
    )
    result = services.plan_update(
        plan=amara,
        by=admin,
        base={"rollback_plan": amara.rollback_plan, "objective": amara.objective},
        rollback_plan="Amara's",
        objective="Patch every host.",
    )
    assert result.saved == ["objective"]
    [conflict] = result.conflicts
    assert (conflict.field, conflict.base, conflict.mine, conflict.theirs) == (
        "rollback_plan",
        "Reboot into the old kernel.",
        "Amara's",
        "Erik's",
    )
    fresh = _loaded(plan)
    assert (fresh.rollback_plan, fresh.objective) == ("Erik's", "Patch every host.")


def test_keep_mine_after_a_conflict_writes_only_that_field(plan, planner, admin):
    amara = _loaded(plan)
    services.plan_update(plan=_loaded(plan), by=planner, rollback_plan="Erik's")
    services.plan_update(plan=_loaded(plan), by=planner, objective="Erik's objective")
    result = services.plan_update(
        plan=amara, by=admin, base={"rollback_plan": amara.rollback_plan}, rollback_plan="Amara's"
    )
    [conflict] = result.conflicts
    before = AuditEvent.objects.count()
    # "Keep mine": the merge view posts her value with theirs as the base.
    kept = services.plan_update(
        plan=_loaded(plan),
        by=admin,
        base={"rollback_plan": conflict.theirs},
        rollback_plan="Amara's",
    )
    assert (kept.saved, kept.conflicts) == (["rollback_plan"], [])
    fresh = _loaded(plan)
    assert (fresh.rollback_plan, fresh.objective) == ("Amara's", "Erik's objective")
    [event] = AuditEvent.objects.order_by("pk")[before:]
    assert (event.field, event.old_value, event.new_value) == ("rollback_plan", "Erik's", "Amara's")


def test_a_field_already_at_the_users_value_is_no_conflict(plan, planner, admin):
    amara = _loaded(plan)
    services.plan_update(plan=_loaded(plan), by=planner, rollback_plan="Same words")
    result = services.plan_update(
        plan=amara,
        by=admin,
        base={"rollback_plan": amara.rollback_plan},
        rollback_plan="Same words",
    )
    assert (result.saved, result.conflicts) == ([], [])


def test_line_ends_and_outer_blanks_are_not_a_change(plan, admin):
    loaded = _loaded(plan)
    result = services.plan_update(
        plan=loaded,
        by=admin,
        base={"rollback_plan": "Reboot into the old kernel.\r\n"},
        rollback_plan=" Reboot into the old kernel. ",
    )
    assert (result.saved, result.conflicts) == ([], [])


def test_scope_change_then_a_text_edit_from_before_it_is_no_conflict(plan, team, planner, admin):
    loaded = _loaded(plan)
    services.plan_scope_add(plan=plan, servers=[factories.ServerFactory(team=team)], by=planner)
    result = services.plan_update(
        plan=loaded, by=admin, base={"objective": loaded.objective}, objective="Patch all."
    )
    assert (result.saved, result.conflicts) == (["objective"], [])
    assert _loaded(plan).objective == "Patch all."


def test_references_merge_as_one_field(plan, planner, admin):
    cve = services.reference_parse("CVE-2024-1234")
    amara = _loaded(plan)
    services.plan_update(plan=_loaded(plan), by=planner, references=[cve])
    result = services.plan_update(
        plan=amara,
        by=admin,
        base={"references": []},
        references=[cve, services.reference_parse("DSA-5678-1")],
    )
    [conflict] = result.conflicts
    assert conflict.field == "references"
    assert [r.identifier for r in plan.references.all()] == ["CVE-2024-1234"]


def test_a_save_marks_its_sections_changed_for_open_pages(
    plan, planner, django_capture_on_commit_callbacks
):
    rev = live.revision(plan.pk)
    with django_capture_on_commit_callbacks(execute=True):
        services.plan_update(plan=_loaded(plan), by=planner, rollback_plan="New", objective="New")
    new_rev, sections, lost = live.changes_since(plan_id=plan.pk, since=rev)
    assert new_rev > rev and not lost
    moved = {name: entry["by"] for name, entry in sections.items() if entry["rev"]}
    # The two sections, and the pieces every audited change moves.
    assert moved == dict.fromkeys(
        ["rollback_plan", "objective", "activity", "readiness", "run"], planner.display_name
    )
    assert live.changes_since(plan_id=plan.pk, since=new_rev) == (new_rev, None, False)


def test_a_save_that_writes_nothing_changes_nothing(
    plan, admin, django_capture_on_commit_callbacks
):
    rev = live.revision(plan.pk)
    before = AuditEvent.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        result = services.plan_update(
            plan=_loaded(plan), by=admin, base={"objective": "Patch."}, objective="Patch."
        )
    assert result.saved == [] and AuditEvent.objects.count() == before
    assert live.revision(plan.pk) == rev


def test_a_save_of_a_deleted_plan_is_gone(plan, planner):
    stale = _loaded(plan)
    services.plan_delete(plan=plan, by=planner)
    with pytest.raises(services.Gone):
        services.plan_update(plan=stale, by=planner, title="Back?")
    assert not Plan.objects.filter(pk=plan.pk).exists()

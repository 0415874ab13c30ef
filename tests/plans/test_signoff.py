"""Sign-off: required people approve or reject in order; overrides need a reason;
four eyes; a rejection reopens; the last sign-off completes; one row per person."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from patchplan.notifications.models import Kind, Notification
from patchplan.teams.roles import Role
from plans.choices import PlanStatus
from plans.models import Milestone, PlanStatusChange, SignOff
from plans.services.signoff import signoff_give
from tests import factories

from .run_helpers import make_plan, make_servers, milestone, record_listings


@pytest.fixture
def plan(team, owner):
    return make_plan(team, owner)


@pytest.fixture
def servers(team, plan, owner):
    servers = make_servers(team, plan, owner)
    record_listings(servers)  # the assessment's exit: a fresh listing of each
    return servers


def approve(m, user, **kw):
    return signoff_give(milestone=m, by=user, decision="approve", **kw)


def codes(exc: ValidationError) -> set:
    if hasattr(exc, "error_dict"):
        return {e.code for errs in exc.error_dict.values() for e in errs}
    return {e.code for e in exc.error_list}


@pytest.mark.django_db
def test_an_approver_signs_off_a_milestone_whose_checks_pass(plan, servers, approver, owner):
    m = milestone(plan, "assessment")
    signoff = approve(m, approver, comment="Scope is right.")
    m.refresh_from_db()
    assert m.signed_off_at is not None
    assert signoff.round == 1 and signoff.overridden_checks == []
    assert Notification.objects.filter(
        recipient=owner, kind=Kind.MILESTONE_SIGNED_OFF, object_id=m.pk
    ).exists()


@pytest.mark.django_db
def test_signing_off_a_milestone_asks_the_next_ones_approvers(team, plan, servers, approver, owner):
    second = factories.MembershipFactory(team=team, role=Role.APPROVER).user
    assessment, testing = milestone(plan, "assessment"), milestone(plan, "testing")
    assert not Notification.objects.filter(kind=Kind.SIGNOFF_REQUESTED).exists()
    approve(assessment, approver)
    asked = {
        n.recipient
        for n in Notification.objects.filter(kind=Kind.SIGNOFF_REQUESTED, object_id=testing.pk)
    }
    # The other approver is asked; the one who just signed and the owner are not.
    assert asked == {second}


@pytest.mark.django_db
def test_signing_off_out_of_order_is_refused_and_writes_nothing(plan, servers, approver):
    with pytest.raises(ValidationError) as exc:
        approve(milestone(plan, "testing"), approver)
    assert "order" in codes(exc.value)
    assert "assessment" in str(exc.value)
    assert not SignOff.objects.exists()


@pytest.mark.django_db
def test_someone_the_milestone_does_not_require_is_refused(plan, servers, approver, engineer):
    m = milestone(plan, "assessment")
    Milestone.objects.filter(pk=m.pk).update(signoff_roles=[Role.ADMIN])
    m.refresh_from_db()
    with pytest.raises(ValidationError) as exc:
        approve(m, approver)
    assert "not_required" in codes(exc.value)
    with pytest.raises(ValidationError):
        approve(m, engineer)  # no sign-off role at all
    assert not SignOff.objects.exists()


@pytest.mark.django_db
def test_a_named_person_signs_off_whatever_their_role(team, plan, servers, engineer, approver):
    m = milestone(plan, "assessment")
    m.signoff_users.add(engineer)
    with pytest.raises(ValidationError):
        approve(m, approver)  # named people only, and the approver is not one
    approve(m, engineer)
    m.refresh_from_db()
    assert m.signed_off_at is not None


@pytest.mark.django_db
def test_four_eyes_nobody_signs_off_their_own_plan(team, owner, approver):
    plan = make_plan(team, approver)  # the approver owns this one
    make_servers(team, plan, approver)
    with pytest.raises(ValidationError) as exc:
        approve(milestone(plan, "assessment"), approver)
    assert "four_eyes" in codes(exc.value)
    assert not SignOff.objects.exists()


@pytest.mark.django_db
def test_without_four_eyes_the_owner_may_sign_off(team, owner, approver):
    team.four_eyes = False
    team.save()
    plan = make_plan(team, approver)
    record_listings(make_servers(team, plan, approver))
    approve(milestone(plan, "assessment"), approver)
    assert SignOff.objects.count() == 1


@pytest.mark.django_db
def test_failing_checks_without_an_override_reason_are_refused(plan, approver):
    # No servers in scope: the assessment's check fails.
    with pytest.raises(ValidationError) as exc:
        approve(milestone(plan, "assessment"), approver, override_reason="   ")
    assert "checks_fail" in codes(exc.value)
    assert "Servers in scope" in str(exc.value)
    assert not SignOff.objects.exists()


@pytest.mark.django_db
def test_a_sign_off_never_overrides_failing_exit_checks(plan, approver):
    m = milestone(plan, "assessment")
    with pytest.raises(ValidationError) as exc:
        approve(m, approver, override_reason="Servers are added at the testing phase.")
    assert "checks_fail" in codes(exc.value)
    m.refresh_from_db()
    assert m.signed_off_at is None and not SignOff.objects.exists()


@pytest.mark.django_db
def test_testing_is_not_signed_off_before_a_passing_staging_run(plan, servers, approver, owner):
    from plans.services.evidence import testrun_create

    approve(milestone(plan, "assessment"), approver)
    testing = milestone(plan, "testing")
    with pytest.raises(ValidationError, match="Passing test run on staging"):
        approve(testing, approver)
    testrun_create(plan=plan, result="pass", by=owner, servers=[servers[1]])
    approve(testing, approver)
    testing.refresh_from_db()
    assert testing.signed_off_at is not None


@pytest.mark.django_db
def test_an_override_reason_is_dropped_when_nothing_fails(plan, servers, approver):
    signoff = approve(milestone(plan, "assessment"), approver, override_reason="just in case")
    assert signoff.override_reason == "" and signoff.overridden_checks == []


@pytest.mark.django_db
def test_rejecting_needs_a_comment(plan, servers, approver):
    with pytest.raises(ValidationError) as exc:
        signoff_give(milestone=milestone(plan, "assessment"), by=approver, decision="reject")
    assert "comment" in exc.value.error_dict
    assert not SignOff.objects.exists()


@pytest.mark.django_db
def test_rejecting_reopens_in_a_new_round_and_tells_the_owner(plan, servers, approver, owner):
    m = milestone(plan, "assessment")
    signoff_give(milestone=m, by=approver, decision="reject", comment="Add the replica.")
    m.refresh_from_db()
    assert m.signoff_round == 2 and m.signed_off_at is None
    assert Notification.objects.filter(
        recipient=owner, kind=Kind.MILESTONE_REJECTED, object_id=m.pk
    ).exists()
    # The same approver signs again in the new round; the rejection stays on record.
    approve(m, approver)
    assert list(SignOff.objects.order_by("pk").values_list("decision", "round")) == [
        ("reject", 1),
        ("approve", 2),
    ]


@pytest.mark.django_db
def test_a_milestone_needing_two_approvals_waits_for_the_second(team, plan, servers, approver):
    m = milestone(plan, "assessment")
    Milestone.objects.filter(pk=m.pk).update(signoff_count=2)
    m.refresh_from_db()
    approve(m, approver)
    m.refresh_from_db()
    assert m.signed_off_at is None
    second = factories.UserFactory(username="second-approver")
    factories.MembershipFactory(team=team, user=second, role=Role.APPROVER)
    approve(m, second)
    m.refresh_from_db()
    assert m.signed_off_at is not None


@pytest.mark.django_db
def test_a_second_sign_off_by_the_same_person_is_refused(team, plan, servers, approver):
    m = milestone(plan, "assessment")
    Milestone.objects.filter(pk=m.pk).update(signoff_count=2)
    approve(m, approver)
    with pytest.raises(ValidationError) as exc:
        approve(m, approver)
    assert "duplicate" in codes(exc.value)
    assert SignOff.objects.count() == 1


@pytest.mark.django_db
def test_a_signed_off_milestone_is_not_signed_again(plan, servers, approver, admin):
    m = milestone(plan, "assessment")
    approve(m, approver)
    with pytest.raises(ValidationError) as exc:
        approve(m, admin)
    assert "done" in codes(exc.value)


@pytest.mark.django_db
def test_the_last_sign_off_completes_an_in_progress_plan(team, owner, approver, admin):
    plan = make_plan(team, owner)
    Milestone.objects.filter(plan=plan).exclude(name="assessment").delete()
    record_listings(make_servers(team, plan, owner))
    plan.status = PlanStatus.IN_PROGRESS
    plan.save()
    approve(milestone(plan, "assessment"), approver)
    plan.refresh_from_db()
    # No server was verified: completed, with exceptions that name them.
    assert plan.status == PlanStatus.COMPLETED_EXC and plan.completed_at is not None
    change = PlanStatusChange.objects.get(plan=plan)
    assert (change.from_status, change.to_status, change.by) == (
        "in_progress",
        "completed_exc",
        approver,
    )
    assert "db-prod-1" in change.note and "db-staging-1" in change.note


@pytest.mark.django_db(transaction=True)
def test_two_clicks_at_once_make_one_sign_off(require_postgres, team, owner, approver):
    """Two connections sign the same milestone as the same person at the same moment:
    the unique (milestone, user, round) constraint lets exactly one row in."""
    plan = make_plan(team, owner)
    record_listings(make_servers(team, plan, owner))
    m = milestone(plan, "assessment")
    Milestone.objects.filter(pk=m.pk).update(signoff_count=2)  # neither click completes it
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def click():
        try:
            barrier.wait()
            approve(Milestone.objects.get(pk=m.pk), approver)
            outcomes.append("ok")
        except ValidationError as exc:
            outcomes.append(" ".join(exc.messages))
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes)[-1] == "ok"
    assert "already signed off" in sorted(outcomes)[0]
    assert SignOff.objects.filter(milestone=m, user=approver).count() == 1


# --- views ----------------------------------------------------------------------


@pytest.mark.django_db
def test_outsider_gets_404_for_the_panel_and_the_sign_off(client_for, plan, outsider):
    c = client_for(outsider)
    m = milestone(plan, "assessment")
    assert c.get(f"/plans/{plan.pk}/signoff/").status_code == 404
    assert (
        c.post(f"/plans/{plan.pk}/milestones/{m.pk}/signoff/", {"decision": "approve"}).status_code
        == 404
    )
    assert not SignOff.objects.exists()


@pytest.mark.django_db
def test_viewer_sees_the_checks_but_may_not_sign(client_for, plan, servers, viewer):
    c = client_for(viewer)
    m = milestone(plan, "assessment")
    page = c.get(f"/plans/{plan.pk}/signoff/")
    assert page.status_code == 200
    assert b'data-testid="check-scope"' in page.content
    assert b'data-testid="signoff-form"' not in page.content
    response = c.post(f"/plans/{plan.pk}/milestones/{m.pk}/signoff/", {"decision": "approve"})
    assert response.status_code == 403
    assert not SignOff.objects.exists()


@pytest.mark.django_db
def test_approver_signs_off_in_place_with_htmx(client_for, plan, servers, approver):
    c = client_for(approver)
    m = milestone(plan, "assessment")
    response = c.post(
        f"/plans/{plan.pk}/milestones/{m.pk}/signoff/",
        {"decision": "approve", "comment": "Looks right"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert b"Signed off" in response.content and b"Looks right" in response.content


@pytest.mark.django_db
def test_a_refused_sign_off_shows_the_reason_where_it_was_given(client_for, plan, approver):
    c = client_for(approver)
    m = milestone(plan, "assessment")
    response = c.post(
        f"/plans/{plan.pk}/milestones/{m.pk}/signoff/",
        {"decision": "approve"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    assert b'data-testid="signoff-error"' in response.content
    assert b"signed off as done yet" in response.content
    assert not SignOff.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("size", [1, 6])
def test_the_panel_costs_the_same_queries_at_any_size(
    client_for, team, owner, approver, size, django_assert_max_num_queries
):
    plan = make_plan(team, owner)
    record_listings(make_servers(team, plan, owner, production=size, staging=size))
    for i in range(size):
        factories.MilestoneFactory(plan=plan, name=f"extra {i}", position=10 + i)
    approve(milestone(plan, "assessment"), approver)
    c = client_for(approver)
    # session, user, memberships, plan, milestones, sign-off people, sign-offs,
    # gates (scope, go approvals, window times, follow-ups, backups, latest run,
    # executions, 5 window-check reads), team for four eyes, windows
    with django_assert_max_num_queries(23):
        response = c.get(f"/plans/{plan.pk}/signoff/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200

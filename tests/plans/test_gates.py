"""Gates at the moment of action: a window's work waits for its milestone's entry
checks (the go for deployment); an approver's emergency change; early starts;
reasons and the execution log; completion only by the review."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from plans.choices import LogKind, PlanStatus, SignOffStage
from plans.models import (
    AuditEvent,
    ExecutionEvent,
    FollowUp,
    GateOverride,
    LogEntry,
    MaintenanceWindow,
    Plan,
)
from plans.readiness import plan_gates
from plans.services import execution as run
from plans.services.gates import window_override_gate
from plans.services.plans import plan_transition, plan_update
from plans.services.review import (
    followup_accept_risk,
    plan_create_follow_up,
    plan_lessons_update,
)
from plans.services.signoff import signoff_give

from .run_helpers import (
    DPKG_AFTER,
    approve,
    give_go,
    make_plan,
    make_servers,
    make_window,
    milestone,
    record_listings,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 2, 22, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def draft(team, owner):
    from plans.services.plans import Reference

    return make_plan(
        team, owner, references=[Reference("cve", "CVE-2024-0001", "https://x.test/1")]
    )


@pytest.fixture
def plan(draft, owner, approver):
    """Reviewed and approved: what a window's work waits for beyond its milestone."""
    return approve(draft, planner=owner, approver=approver)


@pytest.fixture
def servers(team, plan, owner):
    return make_servers(team, plan, owner)


@pytest.fixture
def window(plan, servers, owner):
    return make_window(plan, servers, owner, starts=NOW - timedelta(minutes=5))


def codes(exc):
    return {e.code for e in exc.error_list} if hasattr(exc, "error_list") else set()


def test_a_production_window_does_not_start_before_the_go(window, engineer):
    with pytest.raises(ValidationError) as exc:
        run.window_start(window=window, by=engineer)
    assert "gate" in codes(exc.value)
    assert "The go from the milestone's approvers" in str(exc.value)
    window.refresh_from_db()
    assert window.actual_starts_at is None


def test_no_server_status_changes_before_the_go(window, servers, engineer):
    with pytest.raises(ValidationError) as exc:
        run.execution_set_status(
            window=window, server=servers[0], status="in_progress", by=engineer
        )
    assert "gate" in codes(exc.value)
    assert not ExecutionEvent.objects.exists() and not LogEntry.objects.exists()
    with pytest.raises(ValidationError):
        run.window_record_times(window=window, starts_at=NOW, ends_at=None, by=engineer)


def test_after_the_go_the_window_starts(plan, window, servers, owner, approver, engineer):
    deployment = give_go(plan, servers, planner=owner, approver=approver)
    assert deployment.go_given_at == NOW
    assert plan_gates(plan)[deployment.pk].may_start
    run.window_start(window=window, by=engineer)
    window.refresh_from_db()
    assert window.actual_starts_at == NOW and not window.started_early


def test_the_go_is_refused_while_other_entry_checks_fail(plan, servers, approver):
    record_listings(servers)
    signoff_give(milestone=milestone(plan, "assessment"), by=approver, decision="approve")
    with pytest.raises(ValidationError, match="Testing signed off"):
        signoff_give(
            milestone=milestone(plan, "deployment"),
            by=approver,
            decision="approve",
            stage=SignOffStage.ENTRY,
        )


def test_an_approver_orders_an_emergency_change(plan, window, servers, approver, engineer):
    with pytest.raises(PermissionDenied):
        window_override_gate(window=window, by=engineer, reason="Hurry")
    with pytest.raises(ValidationError):
        window_override_gate(window=window, by=approver, reason="  ")
    assert not GateOverride.objects.exists()
    override = window_override_gate(window=window, by=approver, reason="Exploited in the wild.")
    assert "go_approval" in [c["code"] for c in override.failed_checks]
    run.window_start(window=window, by=engineer)
    run.execution_set_status(window=window, server=servers[0], status="in_progress", by=engineer)
    assert AuditEvent.objects.filter(action="emergency", new_value="Exploited in the wild.")


def test_a_start_on_an_emergency_change_tells_the_plans_people_before_the_go(
    plan, window, servers, owner, approver, engineer
):
    """Work started before its milestone's go (an approver's emergency change),
    on time: the plan's people hear it started early, before the go, and why."""
    from patchplan.notifications.models import Kind, Notification

    window_override_gate(window=window, by=approver, reason="Exploited in the wild.")
    run.window_start(window=window, by=engineer)
    rows = Notification.objects.filter(kind=Kind.WORK_STARTED_EARLY)
    assert owner.pk in set(rows.values_list("recipient", flat=True))
    assert engineer.pk not in set(rows.values_list("recipient", flat=True))
    context = rows.filter(recipient=owner).get().context
    assert context["before_go"] is True
    assert context["reason"] == (
        f"Emergency change ordered by {approver.display_name}: Exploited in the wild."
    )
    from django.core import mail

    from patchplan.notifications.services import notification_deliver

    notification_deliver(notification_id=rows.filter(recipient=owner).get().pk)
    message = mail.outbox[-1]
    assert message.subject.startswith(f"Work started before the go: {window.title or plan.title}")
    assert "started early, before the go of its milestone" in message.body
    assert "Reason: Emergency change ordered by" in message.body


def test_the_signoff_panel_says_how_work_started_not_that_it_may_not_start(
    client_for, plan, window, servers, approver, engineer
):
    """Before the go the deployment "may not start yet"; once an emergency change
    started it, the panel says so (who, when, why), not "may not start yet"."""
    url = f"/plans/{plan.pk}/signoff/"
    page = client_for(engineer).get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'data-testid="may-not-start"' in page and "Emergency change" not in page
    window_override_gate(window=window, by=approver, reason="Exploited in the wild.")
    run.window_start(window=window, by=engineer)
    page = client_for(engineer).get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'data-testid="may-not-start"' not in page
    assert 'data-testid="started-emergency"' in page
    assert f"by {approver.display_name}, 2 Dec 2026" in page
    assert "Reason: Exploited in the wild." in page
    assert "“The go from the milestone" in page


def test_an_early_start_asks_for_confirmation_and_is_recorded(
    plan, servers, owner, approver, engineer
):
    window = make_window(plan, servers, owner, starts=NOW + timedelta(minutes=16))
    give_go(plan, servers, planner=owner, approver=approver)
    with pytest.raises(ValidationError) as exc:
        run.window_start(window=window, by=engineer)
    assert "early" in codes(exc.value)
    # Nor may a status change start it early behind the person's back.
    with pytest.raises(ValidationError):
        run.execution_set_status(
            window=window, server=servers[0], status="in_progress", by=engineer
        )
    run.window_start(window=window, by=engineer, confirm_early=True)
    window.refresh_from_db()
    assert window.started_early and window.actual_starts_at == NOW
    assert AuditEvent.objects.filter(action="early start", object_id=window.pk).exists()


def test_fifteen_minutes_ahead_is_not_early(plan, servers, owner, approver, engineer):
    window = make_window(plan, servers, owner, starts=NOW + timedelta(minutes=15))
    give_go(plan, servers, planner=owner, approver=approver)
    run.window_start(window=window, by=engineer)
    assert not MaintenanceWindow.objects.get(pk=window.pk).started_early


def test_a_staging_window_of_an_approved_plan_without_a_milestone_is_not_gated(
    plan, servers, owner, engineer
):
    staging = make_window(plan, [servers[1]], owner, starts=NOW - timedelta(minutes=1))
    run.window_start(window=staging, by=engineer)


def test_a_testing_window_waits_for_the_test_procedure(plan, servers, owner, engineer):
    testing = milestone(plan, "testing")
    staging = make_window(plan, [servers[1]], owner, starts=NOW, milestone=testing)
    plan_update(plan=plan, by=owner, test_procedure="")
    with pytest.raises(ValidationError, match="Test procedure written"):
        run.window_start(window=staging, by=engineer)


def test_failed_and_rolled_back_need_a_reason_and_every_change_is_logged(
    plan, window, servers, owner, approver, engineer
):
    give_go(plan, servers, planner=owner, approver=approver)
    server = servers[0]
    run.execution_set_status(window=window, server=server, status="in_progress", by=engineer)
    with pytest.raises(ValidationError) as exc:
        run.execution_set_status(window=window, server=server, status="failed", by=engineer)
    assert "note" in exc.value.error_dict
    run.execution_set_status(
        window=window, server=server, status="failed", by=engineer, note="dpkg lock held"
    )
    entries = list(
        LogEntry.objects.filter(kind=LogKind.STATUS).values_list(
            "author", "server", "window", "body"
        )
    )
    assert entries == [
        (engineer.pk, server.pk, window.pk, "db-prod-1: Pending → In progress"),
        (engineer.pk, server.pk, window.pk, "db-prod-1: In progress → Failed. dpkg lock held"),
    ]


def _run_to_review(plan, window, servers, owner, approver, engineer, *, roll_back: bool):
    """Deploy: staging verified; production verified or rolled back; window ended."""
    give_go(plan, servers, planner=owner, approver=approver)
    run.window_start(window=window, by=engineer)
    prod, staging = servers
    for s in servers:
        run.execution_set_status(window=window, server=s, status="in_progress", by=engineer)
        run.execution_import_listing(window=window, server=s, data=DPKG_AFTER, by=engineer)
        run.execution_set_status(window=window, server=s, status="patched", by=engineer)
    run.execution_set_status(window=window, server=staging, status="verified", by=engineer)
    if roll_back:
        run.execution_set_status(
            window=window, server=prod, status="rolled_back", by=engineer, note="App errors"
        )
    else:
        run.execution_set_status(window=window, server=prod, status="verified", by=engineer)
    run.window_finish(window=window, by=engineer)
    signoff_give(milestone=milestone(plan, "deployment"), by=approver, decision="approve")


def test_a_plan_completes_when_its_review_is_signed_off(
    client_for, plan, window, servers, owner, approver, engineer
):
    _run_to_review(plan, window, servers, owner, approver, engineer, roll_back=False)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.IN_PROGRESS
    review = milestone(plan, "review")
    with pytest.raises(ValidationError, match="Lessons learned"):
        signoff_give(milestone=review, by=approver, decision="approve")
    with pytest.raises(ValidationError, match="review is signed off"):
        plan_transition(plan=plan, to_status=PlanStatus.COMPLETED, by=owner)
    plan_lessons_update(plan=plan, lessons_learned="Test the replica first.", by=owner)
    signoff_give(milestone=review, by=approver, decision="approve")
    assert Plan.objects.get(pk=plan.pk).status == PlanStatus.COMPLETED
    assert (
        'data-testid="plan-exceptions"'
        not in client_for(owner).get(f"/plans/{plan.pk}/").content.decode()
    )


def test_a_rolled_back_server_completes_with_exceptions_and_a_follow_up(
    client_for, plan, window, servers, owner, approver, engineer
):
    _run_to_review(plan, window, servers, owner, approver, engineer, roll_back=True)
    plan_lessons_update(plan=plan, lessons_learned="Pin the app first.", by=owner)
    review = milestone(plan, "review")
    with pytest.raises(ValidationError, match="follow-up"):
        signoff_give(milestone=review, by=approver, decision="approve")
    follow_up = plan_create_follow_up(plan=plan, by=owner)
    signoff_give(milestone=review, by=approver, decision="approve")
    plan.refresh_from_db()
    assert plan.status == PlanStatus.COMPLETED_EXC
    assert "db-prod-1" in plan.status_changes.last().note
    assert list(follow_up.servers.values_list("hostname", flat=True)) == ["db-prod-1"]
    assert follow_up.packages == plan.packages and follow_up.status == PlanStatus.DRAFT
    assert list(follow_up.references.values_list("identifier", flat=True)) == ["CVE-2024-0001"]
    assert FollowUp.objects.get().follow_up_plan == follow_up
    # Every server has a follow-up now: a second one is refused.
    with pytest.raises(ValidationError):
        plan_create_follow_up(plan=plan, by=owner)
    # The plan page says which server is the exception, how it ended, what follows.
    page = client_for(engineer).get(f"/plans/{plan.pk}/").content.decode()
    [row] = re.findall(r'<li data-testid="plan-exception">(.*?)</li>', page)
    assert "db-prod-1</a>" in row and "(rolled back)" in row
    assert f'href="/plans/{follow_up.pk}/"' in row
    assert "db-staging-1" not in page.split('data-testid="plan-exceptions"')[1].split("</dd>")[0]


def test_an_accepted_risk_is_a_follow_up(
    client_for, plan, window, servers, owner, approver, engineer
):
    _run_to_review(plan, window, servers, owner, approver, engineer, roll_back=True)
    plan_lessons_update(plan=plan, lessons_learned="Pin the app first.", by=owner)
    with pytest.raises(ValidationError):
        followup_accept_risk(plan=plan, server=servers[0], reason=" ", by=approver)
    followup_accept_risk(
        plan=plan, server=servers[0], reason="Host retires next month.", by=approver
    )
    signoff_give(milestone=milestone(plan, "review"), by=approver, decision="approve")
    assert Plan.objects.get(pk=plan.pk).status == PlanStatus.COMPLETED_EXC
    page = client_for(engineer).get(f"/plans/{plan.pk}/").content.decode()
    [row] = re.findall(r'<li data-testid="plan-exception">(.*?)</li>', page)
    assert "db-prod-1</a>" in row and "risk accepted" in row


def test_deployment_is_not_signed_off_while_a_server_is_open(
    plan, window, servers, owner, approver, engineer
):
    give_go(plan, servers, planner=owner, approver=approver)
    run.execution_set_status(window=window, server=servers[0], status="in_progress", by=engineer)
    with pytest.raises(ValidationError, match="Every server in a final state"):
        signoff_give(milestone=milestone(plan, "deployment"), by=approver, decision="approve")


def test_a_team_adds_a_check_from_the_catalogue(client_for, plan, servers, owner, approver):
    """A team that wants the test procedure re-checked before testing is signed off adds
    it to the milestone's exit checks on the milestone form."""
    testing = milestone(plan, "testing")
    page = client_for(owner).get(f"/plans/milestones/{testing.pk}/").content.decode()
    assert 'data-testid="gate-checks"' in page and "Rollback plan written" in page
    response = client_for(owner).post(
        f"/plans/milestones/{testing.pk}/",
        {
            "name": "testing",
            "signoff_count": 1,
            "version": testing.version,
            "entry_checks": ["test_procedure", "staging_servers"],
            "exit_checks": ["staging_test", "rollback_plan"],
        },
    )
    assert response.status_code == 302
    testing.refresh_from_db()
    assert testing.exit_checks == ["staging_test", "rollback_plan"]
    assert AuditEvent.objects.filter(object_id=testing.pk, field="exit_checks").exists()
    record_listings(servers)
    signoff_give(milestone=milestone(plan, "assessment"), by=approver, decision="approve")
    from plans.services.evidence import testrun_create

    testrun_create(plan=plan, result="pass", by=owner, servers=[servers[1]])
    plan_update(plan=plan, by=owner, rollback_plan="")
    with pytest.raises(ValidationError, match="Rollback plan written"):
        signoff_give(milestone=testing, by=approver, decision="approve")


def _panel_check(page: str, code: str) -> tuple[str, str]:
    """(data-passed, text) of one check on the sign-off panel."""
    at = page.index(f'data-testid="check-{code}"')
    item = page[at : page.index("</li>", at)]
    passed = re.search(r'data-passed="(\w+)"', item).group(1)
    mark, text = " ".join(re.sub(r"<[^>]+>", " ", item[item.index(">") + 1 :]).split()).split(
        " ", 1
    )
    assert mark == {"yes": "✔", "no": "✘"}[passed]
    return passed, text


def test_a_team_adds_a_second_test_run_and_the_cabs_approval(
    client_for, plan, servers, owner, approver
):
    """The two checks teams asked for are in the milestone form's catalogue; once
    picked, the sign-off panel shows each with whether it passes and why."""
    from plans.services.evidence import change_approval_create, testrun_create

    testing, deployment = milestone(plan, "testing"), milestone(plan, "deployment")
    c = client_for(owner)
    form = c.get(f"/plans/milestones/{testing.pk}/").content.decode()
    assert 'value="second_staging_test"' in form and 'value="cab_approval"' in form
    assert "Two passing test runs on staging since the last scope change" in form
    assert "Change approved by the CAB since the last scope change" in form
    for m, entry, exit_ in [
        (testing, ["test_procedure", "staging_servers"], ["staging_test", "second_staging_test"]),
        (
            deployment,
            ["testing_signed_off", "rollback_plan", "backups", "windows", "cab_approval"]
            + ["go_approval"],
            ["final_states"],
        ),
    ]:
        response = c.post(
            f"/plans/milestones/{m.pk}/",
            {
                "name": m.name,
                "signoff_count": 1,
                "version": m.version,
                "entry_checks": entry,
                "exit_checks": exit_,
            },
        )
        assert response.status_code == 302
    testrun_create(plan=plan, result="pass", by=owner, servers=[servers[1]])
    page = c.get(f"/plans/{plan.pk}/signoff/").content.decode()
    assert _panel_check(page, "second_staging_test") == (
        "no",
        "Two passing test runs on staging since the last scope change — 1 passing test run "
        "on staging since the scope changed (2 Dec 2026, 23:00 Europe/Berlin): two are "
        "needed.",
    )
    assert _panel_check(page, "cab_approval") == (
        "no",
        "Change approved by the CAB since the last scope change — No change approval is recorded.",
    )
    record_listings(servers)
    signoff_give(milestone=milestone(plan, "assessment"), by=approver, decision="approve")
    with pytest.raises(ValidationError, match="Two passing test runs"):
        signoff_give(milestone=testing, by=approver, decision="approve")

    testrun_create(plan=plan, result="pass", by=owner, servers=[servers[1]])
    change_approval_create(
        plan=plan, change_id="CHG0031337", approved_by="CAB", approved_at=NOW, by=owner
    )
    page = c.get(f"/plans/{plan.pk}/signoff/").content.decode()
    assert _panel_check(page, "second_staging_test")[0] == "yes"
    assert _panel_check(page, "cab_approval") == (
        "yes",
        "Change approved by the CAB since the last scope change — CHG0031337 approved on "
        "2 Dec 2026, 23:00 Europe/Berlin.",
    )


# --- the plan's approval: no window of a draft or a plan in review does any work ---


def test_no_window_of_a_draft_plan_starts_even_an_ungated_one(draft, owner, engineer):
    servers = make_servers(draft.team, draft, owner)
    staging = make_window(draft, [servers[1]], owner, starts=NOW - timedelta(minutes=1))
    testing = milestone(draft, "testing")
    assert plan_gates(draft)[testing.pk].may_start  # the milestone's own checks pass
    tested = make_window(draft, [servers[1]], owner, starts=NOW, milestone=testing)
    for window in (staging, tested):
        with pytest.raises(ValidationError, match="The plan is a draft: send it for review") as e:
            run.window_start(window=window, by=engineer)
        assert "gate" in codes(e.value)
        with pytest.raises(ValidationError, match="draft"):
            run.execution_set_status(
                window=window, server=servers[1], status="in_progress", by=engineer
            )
        with pytest.raises(ValidationError, match="draft"):
            run.window_record_times(window=window, starts_at=NOW, ends_at=None, by=engineer)
    assert not MaintenanceWindow.objects.exclude(actual_starts_at=None).exists()
    assert not ExecutionEvent.objects.exists() and not LogEntry.objects.exists()
    assert Plan.objects.get(pk=draft.pk).status == PlanStatus.DRAFT


def test_a_plan_in_review_waits_for_the_approval(draft, owner, approver, engineer):
    servers = make_servers(draft.team, draft, owner)
    staging = make_window(draft, [servers[1]], owner, starts=NOW - timedelta(minutes=1))
    plan_transition(plan=draft, to_status=PlanStatus.IN_REVIEW, by=owner)
    with pytest.raises(ValidationError, match="in review: an approver must approve it"):
        run.window_start(window=staging, by=engineer)
    plan_transition(plan=draft, to_status=PlanStatus.APPROVED, by=approver)
    run.window_start(window=staging, by=engineer)
    assert Plan.objects.get(pk=draft.pk).status == PlanStatus.IN_PROGRESS


def test_an_emergency_change_does_not_skip_the_plans_review(draft, owner, approver):
    servers = make_servers(draft.team, draft, owner)
    window = make_window(draft, servers, owner, starts=NOW - timedelta(minutes=5))
    with pytest.raises(ValidationError, match="draft"):
        window_override_gate(window=window, by=approver, reason="Exploited in the wild.")
    assert not GateOverride.objects.exists()


def test_run_mode_of_a_draft_says_what_is_missing_and_keeps_the_page_whole(
    client_for, draft, owner, engineer
):
    from django.urls import reverse

    servers = make_servers(draft.team, draft, owner)
    staging = make_window(draft, [servers[1]], owner, starts=NOW - timedelta(minutes=1))
    client = client_for(engineer)
    url = reverse("plan_window_run", args=[draft.pk, staging.pk])
    page = client.get(url).content.decode()
    assert 'data-testid="gate-blocked"' in page and 'data-testid="gate-open"' not in page
    assert "waits for the plan's approval" in page
    assert "The plan is a draft: send it for review and get it approved first." in page
    assert 'aria-describedby="start-blocked" >Start window now' not in page
    assert 'disabled aria-describedby="start-blocked">Start window now' in page
    assert "Record the emergency change" not in page
    # The clicks themselves are refused, the page stays whole.
    started = client.post(reverse("run_times", args=[draft.pk, staging.pk]), {"action": "start"})
    assert started.status_code == 302
    assert "get it approved first" in client.get(url).content.decode()
    board = client.post(
        reverse("run_status", args=[draft.pk, staging.pk, servers[1].pk]),
        {"status": "in_progress", "expected": "pending"},
        HTTP_HX_REQUEST="true",
    )
    assert board.status_code == 400 and board["HX-Retarget"] == "#run-board"
    html = board.content.decode()
    row = html[html.index(f'id="run-{servers[1].pk}"') :]
    assert 'data-testid="run-error"' in row and "The plan is a draft" in row
    assert not ExecutionEvent.objects.exists()
    assert MaintenanceWindow.objects.get(pk=staging.pk).actual_starts_at is None

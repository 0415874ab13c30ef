"""Evidence: backup records and test runs, through services and the evidence page."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from plans.models import BackupRecord, ChangeApproval
from plans.models import TestRun as Run
from plans.selectors.evidence import plan_evidence
from plans.services import evidence
from tests import factories

from .run_helpers import make_plan, make_servers

# "Now" is frozen for each test (at PATCHPLAN_TEST_CLOCK or the real instant):
# data placed relative to it and the code under test see the same instant.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


@pytest.fixture
def plan(team, owner):
    return make_plan(team, owner)


@pytest.fixture
def servers(team, plan, owner):
    return make_servers(team, plan, owner)


def test_a_backup_of_a_server_in_scope_is_recorded(plan, servers, engineer):
    record = evidence.backup_record_create(
        plan=plan,
        server=servers[0],
        what="Database 'orders'",
        location="backup-nas:/pg/orders-2026-11-28.sql",
        command="pg_dump orders > db_backup.sql",
        restore_tested=True,
        verified_by=engineer,
        by=engineer,
    )
    assert record.verified_at is not None and record.restore_tested
    assert record.command == "pg_dump orders > db_backup.sql"


def test_a_backup_of_a_server_outside_the_scope_is_refused(team, plan, servers, engineer):
    stranger = factories.ServerFactory(team=team, hostname="mail-1")
    with pytest.raises(ValidationError) as exc:
        evidence.backup_record_create(
            plan=plan, server=stranger, what="mail", location="nas", by=engineer
        )
    assert "mail-1 is not in this plan's scope" in str(exc.value)
    assert not BackupRecord.objects.exists()


def test_a_backup_verified_by_someone_outside_the_team_is_refused(
    plan, servers, engineer, outsider
):
    with pytest.raises(ValidationError):
        evidence.backup_record_create(
            plan=plan,
            server=servers[0],
            what="db",
            location="nas",
            verified_by=outsider,
            by=engineer,
        )
    assert not BackupRecord.objects.exists()


def test_a_backup_verified_in_the_future_is_refused(plan, servers, engineer):
    with pytest.raises(ValidationError) as exc:
        evidence.backup_record_create(
            plan=plan,
            server=servers[0],
            what="db",
            location="nas",
            verified_by=engineer,
            verified_at=timezone.now() + timedelta(days=1),
            by=engineer,
        )
    assert "verified_at" in exc.value.error_dict


def test_test_runs_are_kept_and_the_latest_per_environment_counts(plan, servers, engineer):
    evidence.testrun_create(
        plan=plan,
        result="fail",
        by=engineer,
        servers=[servers[1]],
        run_at=timezone.now() - timedelta(hours=1),
    )
    new = evidence.testrun_create(plan=plan, result="pass", by=engineer, servers=[servers[1]])
    prod = evidence.testrun_create(
        plan=plan, result="pass", by=engineer, environment="production", servers=[servers[0]]
    )
    found = plan_evidence(plan=plan)
    assert found["latest_runs"] == {"staging": new, "production": prod}
    assert [r.counts for r in found["test_runs"]] == [True, True, False]
    assert new.procedure == plan.test_procedure  # empty procedure: the plan's


def test_a_test_run_on_a_server_of_another_environment_is_refused(plan, servers, engineer):
    with pytest.raises(ValidationError) as exc:
        evidence.testrun_create(plan=plan, result="pass", by=engineer, servers=[servers[0]])
    assert "not a Staging server" in str(exc.value)
    assert not Run.objects.exists()


def test_a_test_run_on_a_server_outside_the_scope_is_refused(team, plan, servers, engineer):
    stranger = factories.ServerFactory(team=team, environment="staging")
    with pytest.raises(ValidationError):
        evidence.testrun_create(plan=plan, result="pass", by=engineer, servers=[stranger])
    assert not Run.objects.exists()


# --- views ----------------------------------------------------------------------


def test_outsider_gets_404_on_the_evidence_page(client_for, plan, outsider):
    c = client_for(outsider)
    assert c.get(f"/plans/{plan.pk}/evidence/").status_code == 404
    assert c.post(f"/plans/{plan.pk}/evidence/backups/", {}).status_code == 404


def test_viewer_reads_the_evidence_but_may_not_record(client_for, plan, servers, viewer):
    c = client_for(viewer)
    page = c.get(f"/plans/{plan.pk}/evidence/")
    assert page.status_code == 200 and b"backup-form" not in page.content
    response = c.post(
        f"/plans/{plan.pk}/evidence/backups/",
        {"backup-servers": servers[0].pk, "backup-what": "db", "backup-location": "nas"},
    )
    assert response.status_code == 403
    assert not BackupRecord.objects.exists()


def test_engineer_records_a_backup_from_the_page(client_for, plan, servers, engineer):
    c = client_for(engineer)
    response = c.post(
        f"/plans/{plan.pk}/evidence/backups/",
        {
            "backup-servers": servers[0].pk,
            "backup-what": "orders database",
            "backup-location": "nas:/pg",
            "backup-command": "pg_dump orders > db_backup.sql",
            "backup-verified_by": engineer.pk,
            "backup-restore_tested": "on",
        },
    )
    assert response.status_code == 302
    page = c.get(f"/plans/{plan.pk}/evidence/")
    assert b"pg_dump orders &gt; db_backup.sql" in page.content


def test_a_backup_form_with_a_server_outside_the_scope_shows_the_reason(
    client_for, team, plan, servers, engineer
):
    stranger = factories.ServerFactory(team=team)
    response = client_for(engineer).post(
        f"/plans/{plan.pk}/evidence/backups/",
        {"backup-servers": stranger.pk, "backup-what": "db", "backup-location": "nas"},
    )
    assert response.status_code == 400
    assert b"not in this plan&#x27;s scope" in response.content
    assert not BackupRecord.objects.exists()


def test_engineer_records_a_test_run_from_the_page(client_for, plan, servers, engineer):
    c = client_for(engineer)
    response = c.post(
        f"/plans/{plan.pk}/evidence/tests/",
        {
            "test-environment": "staging",
            "test-servers": [servers[1].pk],
            "test-result": "pass",
            "test-notes": "ok",
        },
    )
    assert response.status_code == 302
    assert Run.objects.get().run_by == engineer


@pytest.mark.parametrize("size", [1, 10])
def test_the_evidence_page_costs_the_same_queries_at_any_size(
    client_for, team, owner, engineer, size, django_assert_max_num_queries
):
    plan = make_plan(team, owner)
    servers = make_servers(team, plan, owner, production=size, staging=size)
    for s in servers[:size]:
        evidence.backup_record_create(
            plan=plan, server=s, what="db", location="nas", verified_by=engineer, by=engineer
        )
        evidence.testrun_create(plan=plan, result="pass", by=engineer, servers=servers[size:])
        evidence.change_approval_create(
            plan=plan,
            change_id=f"CHG{s.pk}",
            approved_by="CAB",
            approved_at=timezone.now(),
            by=engineer,
        )
    c = client_for(engineer)
    # session, user, memberships, plan, backups, test runs, their servers, change
    # approvals (with who recorded them), form choices (servers x2, members), messages
    with django_assert_max_num_queries(14):
        response = c.get(f"/plans/{plan.pk}/evidence/")
    assert response.status_code == 200


def test_one_form_records_a_backup_for_several_servers_each_its_own_record(
    client_for, plan, servers, engineer
):
    response = client_for(engineer).post(
        f"/plans/{plan.pk}/evidence/backups/",
        {
            "backup-servers": [servers[0].pk, servers[1].pk],
            "backup-what": "All databases",
            "backup-location": "nas:/pg",
            "backup-command": "pg_dumpall",
            "backup-verified_by": engineer.pk,
        },
    )
    assert response.status_code == 302
    records = BackupRecord.objects.order_by("server__hostname")
    assert sorted(r.server_id for r in records) == sorted([servers[0].pk, servers[1].pk])
    assert {(r.what, r.location, r.command, r.verified_by_id) for r in records} == {
        ("All databases", "nas:/pg", "pg_dumpall", engineer.pk)
    }


def test_a_bulk_backup_with_one_bad_server_writes_none(team, plan, servers, engineer):
    stranger = factories.ServerFactory(team=team, hostname="mail-1")
    with pytest.raises(ValidationError) as exc:
        evidence.backup_records_create(
            plan=plan, servers=[servers[0], stranger], what="db", location="nas", by=engineer
        )
    assert "mail-1 is not in this plan's scope" in str(exc.value)
    assert not BackupRecord.objects.exists()


def test_a_bulk_backup_failing_half_way_writes_none(plan, servers, engineer, outsider):
    # The verifier check fails inside the per-server service: the first record must go too.
    with pytest.raises(ValidationError):
        evidence.backup_records_create(
            plan=plan,
            servers=servers[:2],
            what="db",
            location="nas",
            verified_by=outsider,
            by=engineer,
        )
    assert not BackupRecord.objects.exists()


# --- change approvals (the CAB's) ---------------------------------------------------


def _approval_post(**fields) -> dict:
    data = {
        "change_id": "CHG0031337",
        "url": "https://itsm.example.com/change/CHG0031337",
        "approved_by": "CAB of 1 Dec",
        "approved_at": timezone.localtime(timezone.now() - timedelta(hours=2)).strftime(
            "%Y-%m-%dT%H:%M"
        ),
    }
    data.update(fields)
    return {f"approval-{k}": v for k, v in data.items()}


def test_a_change_approval_is_recorded_with_a_history_row(plan, engineer):
    from plans.models import AuditEvent

    at = timezone.now() - timedelta(hours=2)
    approval = evidence.change_approval_create(
        plan=plan,
        change_id="  CHG0031337 ",
        url="https://itsm.example.com/change/CHG0031337",
        approved_by="CAB of 1 Dec",
        approved_at=at,
        by=engineer,
    )
    assert (approval.change_id, approval.approved_at, approval.recorded_by) == (
        "CHG0031337",
        at,
        engineer,
    )
    event = AuditEvent.objects.get(object_type="changeapproval", object_id=approval.pk)
    assert (event.plan_id, event.action, event.new_value, event.by) == (
        plan.pk,
        "created",
        "CHG0031337",
        engineer,
    )
    assert plan_evidence(plan=plan)["change_approvals"] == [approval]


@pytest.mark.parametrize(
    "fields, error_field",
    [
        ({"change_id": " "}, "change_id"),
        ({"approved_by": ""}, "approved_by"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "ftp://itsm.example.com/CHG1"}, "url"),
        ({"approved_at": timezone.now() + timedelta(days=1)}, "approved_at"),
    ],
)
def test_a_bad_change_approval_is_refused_at_its_field(plan, engineer, fields, error_field):
    kwargs = {
        "change_id": "CHG0031337",
        "approved_by": "CAB",
        "approved_at": timezone.now() - timedelta(hours=1),
        **fields,
    }
    with pytest.raises(ValidationError) as exc:
        evidence.change_approval_create(plan=plan, by=engineer, **kwargs)
    assert list(exc.value.error_dict) == [error_field]
    assert not ChangeApproval.objects.exists()


def test_engineer_records_a_change_approval_from_the_page(client_for, plan, engineer):
    c = client_for(engineer)
    response = c.post(f"/plans/{plan.pk}/evidence/approvals/", _approval_post())
    assert response.status_code == 302
    assert response["Location"] == f"/plans/{plan.pk}/evidence/#approvals"
    approval = ChangeApproval.objects.get()
    assert (approval.approved_by, approval.recorded_by) == ("CAB of 1 Dec", engineer)
    page = c.get(f"/plans/{plan.pk}/evidence/").content.decode()
    row = page[page.index('data-testid="approval-row"') :]
    row = row[: row.index("</tr>")]
    assert '<a href="https://itsm.example.com/change/CHG0031337"' in row
    assert "CHG0031337</a>" in row and "CAB of 1 Dec" in row


def _error_at(response, field: str, message: str) -> bool:
    """crispy-bootstrap5 puts a field's errors right under it, with this id."""
    html = response.content.decode()
    at = html.find(f'id="error_1_id_approval-{field}"')
    return at >= 0 and message in html[at : at + 300]


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"url": "javascript:alert(1)"}, "url", "Give an http(s) link to the change"),
        ({"url": "itsm/CHG1"}, "url", "Give an http(s) link to the change"),
        ({"change_id": ""}, "change_id", "Give the change request&#x27;s identifier."),
        ({"change_id": "CHG1\nBcc: x"}, "change_id", "Use one line of plain text"),
        ({"approved_by": ""}, "approved_by", "Say who approved the change."),
        ({"approved_at": ""}, "approved_at", "Say when the change was approved."),
    ],
)
def test_a_bad_change_approval_form_shows_the_message_at_the_field(
    client_for, plan, engineer, fields, field, message
):
    response = client_for(engineer).post(
        f"/plans/{plan.pk}/evidence/approvals/", _approval_post(**fields)
    )
    assert response.status_code == 400
    assert _error_at(response, field, message)
    assert not ChangeApproval.objects.exists()


def test_a_change_approval_in_the_future_is_refused_at_its_field(client_for, plan, engineer):
    tomorrow = timezone.localtime(timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = client_for(engineer).post(
        f"/plans/{plan.pk}/evidence/approvals/", _approval_post(approved_at=tomorrow)
    )
    assert response.status_code == 400
    assert _error_at(response, "approved_at", "This can&#x27;t be in the future.")
    assert not ChangeApproval.objects.exists()


def test_whoever_records_backups_records_change_approvals(
    client_for, plan, owner, viewer, approver, outsider
):
    url = f"/plans/{plan.pk}/evidence/approvals/"
    # The roles of the backup form (Action.EXECUTE): planners and engineers, not
    # viewers or approvers; another team's plan does not exist.
    assert client_for(viewer).post(url, _approval_post()).status_code == 403
    assert client_for(approver).post(url, _approval_post()).status_code == 403
    assert client_for(outsider).post(url, _approval_post()).status_code == 404
    assert not ChangeApproval.objects.exists()
    assert b"approval-form" not in client_for(viewer).get(f"/plans/{plan.pk}/evidence/").content
    assert client_for(owner).post(url, _approval_post()).status_code == 302

"""Evidence that a plan is safe to deploy: backup records, test runs and change
approvals (the CAB's).

All are append-only records (a correction is a new record), written for
servers of the plan's scope only, and each is written to the audit trail."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from patchplan.teams.models import Membership
from plans.audit import audit_event
from plans.choices import TestResult
from plans.models import BackupRecord, ChangeApproval, Plan, TestRun
from servers.choices import Environment
from servers.models import Server

# A record may be dated a little ahead (clock skew), never into the future.
_SKEW = timedelta(minutes=5)


def _check_in_scope(plan: Plan, servers: Iterable[Server], field: str) -> None:
    ids = {s.pk for s in servers}
    in_scope = set(plan.servers.filter(pk__in=ids).values_list("pk", flat=True))
    outside = ids - in_scope
    if outside:
        names = sorted(s.hostname for s in servers if s.pk in outside)
        raise ValidationError(
            {
                field: _("%(hosts)s is not in this plan's scope.") % {"hosts": ", ".join(names)},
            },
            code="out_of_scope",
        )


def _check_not_future(value: datetime | None, field: str) -> None:
    if value is not None and value > timezone.now() + _SKEW:
        raise ValidationError({field: _("This can't be in the future.")}, code="future")


@transaction.atomic
def backup_record_create(
    *,
    plan: Plan,
    server: Server,
    what: str,
    location: str,
    by,
    command: str = "",
    restore_tested: bool = False,
    verified_by=None,
    verified_at: datetime | None = None,
    notes: str = "",
) -> BackupRecord:
    """Record that `server` (in the plan's scope) was backed up: what, where, with which
    command or tool, and who verified it when. A backup of every production server
    in scope is a readiness check of the deployment milestone."""
    if plan.is_template:
        raise ValidationError(_("Templates are not run; record evidence on a plan."))
    _check_in_scope(plan, [server], "server")
    if not what.strip():
        raise ValidationError({"what": _("Say what was backed up.")})
    if not location.strip():
        raise ValidationError({"location": _("Say where the backup is stored.")})
    if verified_by is not None:
        if not Membership.objects.filter(team_id=plan.team_id, user=verified_by).exists():
            raise ValidationError({"verified_by": _("Choose a member of the plan's team.")})
        verified_at = verified_at or timezone.now()
    elif verified_at is not None:
        raise ValidationError({"verified_by": _("Say who verified the backup.")})
    _check_not_future(verified_at, "verified_at")
    record = BackupRecord.objects.create(
        plan=plan,
        server=server,
        what=what.strip(),
        location=location.strip(),
        command=command.strip(),
        restore_tested=restore_tested,
        verified_by=verified_by,
        verified_at=verified_at,
        notes=notes.strip(),
        created_by=by,
    )
    audit_event(plan=plan, obj=record, action="created", by=by, field="backup", new=record.what)
    return record


@transaction.atomic
def backup_records_create(*, plan: Plan, servers: Iterable[Server], by, **fields) -> list:
    """One backup (same what, where, command, verification) recorded for several servers
    at once: each server still gets its own record, and all are written or none is."""
    servers = list(servers)
    if not servers:
        raise ValidationError({"servers": _("Choose at least one server.")})
    _check_in_scope(plan, servers, "servers")
    return [
        backup_record_create(plan=plan, server=server, by=by, **fields)
        for server in sorted(servers, key=lambda s: s.hostname)
    ]


@transaction.atomic
def testrun_create(
    *,
    plan: Plan,
    result: str,
    by,
    environment: str = Environment.STAGING,
    servers: Iterable[Server] = (),
    procedure: str = "",
    notes: str = "",
    run_at: datetime | None = None,
) -> TestRun:
    """Record one run of the test procedure on servers of the scope. The latest run
    per environment counts; a passing run on staging after the last scope change is
    a readiness check of the deployment milestone."""
    if plan.is_template:
        raise ValidationError(_("Templates are not run; record evidence on a plan."))
    if result not in TestResult.values:
        raise ValidationError({"result": _("Choose pass or fail.")})
    if environment not in Environment.values:
        raise ValidationError({"environment": _("Choose an environment.")})
    servers = list(servers)
    _check_in_scope(plan, servers, "servers")
    wrong_env = sorted(s.hostname for s in servers if s.environment != environment)
    if wrong_env:
        raise ValidationError(
            {
                "servers": _("%(hosts)s is not a %(env)s server.")
                % {"hosts": ", ".join(wrong_env), "env": Environment(environment).label}
            }
        )
    run_at = run_at or timezone.now()
    _check_not_future(run_at, "run_at")
    if not procedure.strip():
        procedure = plan.test_procedure
    run = TestRun.objects.create(
        plan=plan,
        environment=environment,
        procedure=procedure.strip(),
        result=result,
        notes=notes.strip(),
        run_by=by,
        run_at=run_at,
    )
    run.servers.set(servers)
    audit_event(plan=plan, obj=run, action="created", by=by, field="test run", new=result)
    return run


# Only links a browser opens as a page: no javascript:, data: or file: URLs.
_validate_link = URLValidator(schemes=["http", "https"])


@transaction.atomic
def change_approval_create(
    *,
    plan: Plan,
    change_id: str,
    approved_by: str,
    approved_at: datetime,
    by,
    url: str = "",
) -> ChangeApproval:
    """Record that the plan's change request (its id in the team's ITSM tool, e.g.
    CHG0031337, and optionally a link to it) was approved, by whom (free text: "CAB of
    1 Dec") and when. A change approved after the last scope change is the catalogue's
    `cab_approval` check, which teams add to a milestone's gate."""
    if plan.is_template:
        raise ValidationError(_("Templates are not run; record evidence on a plan."))
    change_id = change_id.strip()
    if not change_id:
        raise ValidationError({"change_id": _("Give the change request's identifier.")})
    if len(change_id) > 100:
        raise ValidationError({"change_id": _("Use at most 100 characters.")})
    approved_by = approved_by.strip()
    if not approved_by:
        raise ValidationError({"approved_by": _("Say who approved the change.")})
    if len(approved_by) > 200:
        raise ValidationError({"approved_by": _("Use at most 200 characters.")})
    url = url.strip()
    if url:
        try:
            _validate_link(url)
        except ValidationError:
            raise ValidationError(
                {"url": _("Give an http(s) link to the change, or nothing.")}, code="invalid"
            ) from None
        if len(url) > 500:
            raise ValidationError({"url": _("Use at most 500 characters.")})
    if approved_at is None:
        raise ValidationError({"approved_at": _("Say when the change was approved.")})
    _check_not_future(approved_at, "approved_at")
    approval = ChangeApproval.objects.create(
        plan=plan,
        change_id=change_id,
        url=url,
        approved_by=approved_by,
        approved_at=approved_at,
        recorded_by=by,
    )
    audit_event(
        plan=plan, obj=approval, action="created", by=by, field="change approval", new=change_id
    )
    return approval

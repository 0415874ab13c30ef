"""Running a maintenance window: per-server status changes (each an
ExecutionEvent: who, when, from, to), the window's actual start and end, the
downtime recorded per server, and the new package listing after patching."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from patchplan.notifications import events
from plans.audit import audit_changes, audit_event
from plans.choices import FINAL_EXECUTION_STATUSES, ExecutionStatus, PlanStatus
from plans.models import ExecutionEvent, MaintenanceWindow, ServerExecution, WindowServer
from plans.selectors.execution import NEXT_STATUSES, packages_updated
from servers.choices import SnapshotSource
from servers.models import Server

MAX_DOWNTIME_MINUTES = 7 * 24 * 60
_SKEW = timedelta(minutes=5)


def _check_window_open(window: MaintenanceWindow) -> None:
    if window.cancelled_at is not None:
        raise ValidationError(_("This window was cancelled; nothing can be recorded in it."))


def _check_in_window(window: MaintenanceWindow, server: Server) -> WindowServer:
    entry = WindowServer.objects.filter(window_id=window.pk, server_id=server.pk).first()
    if entry is None:
        raise ValidationError(
            _("%(host)s is not in this window's scope.") % {"host": server.hostname},
            code="out_of_scope",
        )
    return entry


def _locked_execution(window: MaintenanceWindow, server: Server) -> ServerExecution:
    # get_or_create survives a concurrent first click (unique window+server);
    # the row lock then orders concurrent changes of one server.
    ServerExecution.objects.get_or_create(
        window_id=window.pk, server_id=server.pk, defaults={"plan_id": window.plan_id}
    )
    return ServerExecution.objects.select_for_update().get(window_id=window.pk, server_id=server.pk)


def _start_plan(window: MaintenanceWindow, by) -> None:
    """The first window that starts moves an approved plan to in progress."""
    from plans.services.plans import plan_transition

    plan = window.plan
    plan.refresh_from_db(fields=["status", "version"])
    if plan.status == PlanStatus.APPROVED:
        plan_transition(
            plan=plan,
            to_status=PlanStatus.IN_PROGRESS,
            by=by,
            note=_("Window %(w)s started.") % {"w": window},
        )


@transaction.atomic
def execution_set_status(
    *,
    window: MaintenanceWindow,
    server: Server,
    status: str,
    by,
    expected: str | None = None,
    note: str = "",
    verification_note: str = "",
) -> ServerExecution:
    """Move a server of the window to `status` (one of the moves NEXT_STATUSES offers).

    `expected` is the status the person saw: if someone else moved the server
    meanwhile the click is refused instead of silently applied twice. Marking a
    server verified needs the plan's packages to show new versions in a listing
    taken after the window started, or a `verification_note` saying why not."""
    _check_window_open(window)
    _check_in_window(window, server)
    if status not in ExecutionStatus.values:
        raise ValidationError(_("Unknown status."))
    execution = _locked_execution(window, server)
    current = execution.status
    if expected is not None and expected != current:
        who = execution.updated_by.display_name if execution.updated_by else _("someone")
        raise ValidationError(
            _("%(who)s already moved %(host)s to %(status)s; look again.")
            % {"who": who, "host": server.hostname, "status": ExecutionStatus(current).label},
            code="stale",
        )
    if status not in NEXT_STATUSES[current]:
        raise ValidationError(
            _("%(host)s can't go from %(a)s to %(b)s.")
            % {
                "host": server.hostname,
                "a": ExecutionStatus(current).label,
                "b": ExecutionStatus(status).label,
            },
            code="bad_move",
        )
    verification_note = verification_note.strip()
    if (
        status == ExecutionStatus.VERIFIED
        and not verification_note
        and not packages_updated(
            window=window,
            server=server,
            packages=window.plan.packages,
            targets=window.plan.package_targets,
        )
    ):
        raise ValidationError(
            {
                "verification_note": _(
                    "The plan's packages (%(p)s) don't show new versions on %(host)s yet: "
                    "upload its package listing, or write why it counts as verified."
                )
                % {"p": ", ".join(window.plan.packages), "host": server.hostname}
            },
            code="not_updated",
        )
    now = timezone.now()
    before = {"status": current, "verification_note": execution.verification_note}
    execution.status = status
    execution.updated_by = by
    execution.version += 1
    if status == ExecutionStatus.IN_PROGRESS and execution.started_at is None:
        execution.started_at = now
    if status in (*FINAL_EXECUTION_STATUSES, ExecutionStatus.PATCHED):
        execution.finished_at = now
        if execution.started_at is None:
            execution.started_at = now
    if status == ExecutionStatus.VERIFIED:
        execution.verification_note = verification_note
    execution.save()
    ExecutionEvent.objects.create(
        execution=execution, from_status=current, to_status=status, by=by, note=note[:500]
    )
    audit_changes(
        plan=window.plan,
        obj=execution,
        before=before,
        after={"status": status, "verification_note": execution.verification_note},
        by=by,
    )
    if status == ExecutionStatus.IN_PROGRESS and window.actual_starts_at is None:
        _set_times(window, starts_at=now, ends_at=window.actual_ends_at, by=by)
    return execution


@transaction.atomic
def execution_record_downtime(
    *, window: MaintenanceWindow, server: Server, minutes: int, by
) -> ServerExecution:
    """Record how long the server was actually down (minutes)."""
    _check_window_open(window)
    _check_in_window(window, server)
    if minutes is None or not 0 <= minutes <= MAX_DOWNTIME_MINUTES:
        raise ValidationError(
            {"downtime_minutes": _("Downtime must be between 0 and one week, in minutes.")}
        )
    execution = _locked_execution(window, server)
    before = {"downtime_minutes": execution.downtime_minutes}
    execution.downtime_minutes = minutes
    execution.updated_by = by
    execution.version += 1
    execution.save(update_fields=["downtime_minutes", "updated_by", "version", "updated_at"])
    audit_changes(
        plan=window.plan,
        obj=execution,
        before=before,
        after={"downtime_minutes": minutes},
        by=by,
    )
    return execution


def _set_times(
    window: MaintenanceWindow, *, starts_at: datetime | None, ends_at: datetime | None, by
) -> MaintenanceWindow:
    errors = {}
    limit = timezone.now() + _SKEW
    if starts_at is None and ends_at is not None:
        errors["actual_starts_at"] = _("Record the actual start before the end.")
    if starts_at is not None and ends_at is not None and ends_at < starts_at:
        errors["actual_ends_at"] = _("The actual end can't be before the actual start.")
    for name, value in (("actual_starts_at", starts_at), ("actual_ends_at", ends_at)):
        if value is not None and value > limit:
            errors.setdefault(name, _("This can't be in the future."))
    if errors:
        raise ValidationError(errors)
    locked = MaintenanceWindow.objects.select_for_update().get(pk=window.pk)
    before = {"actual_starts_at": locked.actual_starts_at, "actual_ends_at": locked.actual_ends_at}
    MaintenanceWindow.objects.filter(pk=window.pk).update(
        actual_starts_at=starts_at, actual_ends_at=ends_at, updated_at=timezone.now()
    )
    window.actual_starts_at, window.actual_ends_at = starts_at, ends_at
    audit_changes(
        plan=window.plan,
        obj=window,
        before=before,
        after={"actual_starts_at": starts_at, "actual_ends_at": ends_at},
        by=by,
    )
    if starts_at is not None and before["actual_starts_at"] is None:
        _start_plan(window, by)
    return window


@transaction.atomic
def window_record_times(
    *,
    window: MaintenanceWindow,
    starts_at: datetime | None,
    ends_at: datetime | None,
    by,
) -> MaintenanceWindow:
    """Set the window's actual start and end (end before start is refused). Starting the
    plan's first window moves an approved plan to in progress."""
    _check_window_open(window)
    return _set_times(window, starts_at=starts_at, ends_at=ends_at, by=by)


@transaction.atomic
def window_start(*, window: MaintenanceWindow, by) -> MaintenanceWindow:
    """One click: the window started now."""
    _check_window_open(window)
    if window.actual_starts_at is not None:
        raise ValidationError(_("This window has already started."))
    window = _set_times(window, starts_at=timezone.now(), ends_at=None, by=by)
    if window.actual_starts_at < window.starts_at:
        events.window_started_early(window=window, by=by)
    return window


@transaction.atomic
def window_finish(*, window: MaintenanceWindow, by) -> MaintenanceWindow:
    """One click: the window ended now."""
    _check_window_open(window)
    if window.actual_starts_at is None:
        raise ValidationError(_("Start the window before ending it."))
    if window.actual_ends_at is not None:
        raise ValidationError(_("This window has already ended."))
    return _set_times(window, starts_at=window.actual_starts_at, ends_at=timezone.now(), by=by)


@transaction.atomic
def execution_import_listing(
    *, window: MaintenanceWindow, server: Server, data: bytes | str, by, format: str | None = None
):
    """Import the server's package listing after patching, through the servers app's
    inventory import (all or nothing; InventoryRejected says which line is bad)."""
    from servers.inventory import inventory_import

    _check_window_open(window)
    _check_in_window(window, server)
    result = inventory_import(
        server=server, data=data, format=format, source=SnapshotSource.UPLOAD, by=by
    )
    audit_event(
        plan=window.plan,
        obj=server,
        action="listing",
        field="packages",
        new=result.summary(),
        by=by,
    )
    return result

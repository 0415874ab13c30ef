"""Running a maintenance window: per-server status changes (each an
ExecutionEvent: who, when, from, to), the window's actual start and end, the
downtime recorded per server, and the new package listing after patching."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from patchplan.formats.dates import moment
from plans.audit import audit_changes, audit_event
from plans.choices import (
    FINAL_EXECUTION_STATUSES,
    REASON_REQUIRED_STATUSES,
    ExecutionStatus,
    LogKind,
    PlanStatus,
)
from plans.models import (
    ExecutionEvent,
    LogEntry,
    MaintenanceWindow,
    ServerExecution,
    WindowServer,
)
from plans.notify import events
from plans.selectors.execution import NEXT_STATUSES, server_verification
from plans.services.gates import window_is_early, window_require_may_start
from plans.services.log import run_log_entry
from servers.choices import SnapshotSource
from servers.models import Server

MAX_DOWNTIME_MINUTES = 7 * 24 * 60
_SKEW = timedelta(minutes=5)


def _times_entry(window: MaintenanceWindow, before: dict, starts_at, ends_at) -> str | None:
    """What a change of the window's actual times says in the log (None: no change)."""
    old_start, old_end = before["actual_starts_at"], before["actual_ends_at"]
    if (old_start, old_end) == (starts_at, ends_at):
        return None
    if old_start is None and ends_at is None:
        return _("Window %(w)s started.") % {"w": window}
    if old_start == starts_at and old_end is None and ends_at is not None:
        return _("Window %(w)s ended.") % {"w": window}

    def shown(value) -> str:
        return moment(value) if value is not None else _("none")

    return _("Actual times of window %(w)s corrected: start %(a)s → %(b)s, end %(c)s → %(d)s.") % {
        "w": window,
        "a": shown(old_start),
        "b": shown(starts_at),
        "c": shown(old_end),
        "d": shown(ends_at),
    }


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
    meanwhile the click is refused instead of silently applied twice. Refused
    while the window's milestone may not start (plans.services.gates). Failed and
    rolled back need a reason (`note`). Marking a server verified needs the plan's
    packages patched in the host's listing since the window started
    (plans.verification), or a `verification_note` saying why it counts anyway.
    Every change writes an execution event and an execution-log entry."""
    _check_window_open(window)
    _check_in_window(window, server)
    if status not in ExecutionStatus.values:
        raise ValidationError(_("Unknown status."))
    window_require_may_start(window)
    if window.actual_starts_at is None and window_is_early(window):
        raise ValidationError(
            _("The window starts at %(at)s: start it first (an early start asks to confirm).")
            % {"at": moment(window.starts_at)},
            code="early",
        )
    note = (note or "").strip()
    if status in REASON_REQUIRED_STATUSES and not note:
        raise ValidationError(
            {
                "note": _("Say why %(host)s is %(s)s.")
                % {"host": server.hostname, "s": ExecutionStatus(status).label.lower()}
            },
            code="reason_required",
        )
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
    if status == ExecutionStatus.VERIFIED and not verification_note:
        check = server_verification(window=window, server=server)
        if not check.verified:
            details = "; ".join(f"{p.name}: {p.label}" for p in check.packages) or _(
                "no package of the plan is installed there"
            )
            raise ValidationError(
                {
                    "verification_note": _(
                        "%(host)s doesn't show the plan's packages patched (%(d)s): upload its "
                        "package listing, or write why it counts as verified."
                    )
                    % {"host": server.hostname, "d": details}
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
    body = _("%(host)s: %(a)s → %(b)s") % {
        "host": server.hostname,
        "a": ExecutionStatus(current).label,
        "b": ExecutionStatus(status).label,
    }
    reason = note or verification_note
    LogEntry.objects.create(
        plan_id=window.plan_id,
        window=window,
        server=server,
        kind=LogKind.STATUS,
        body=f"{body}. {reason}" if reason else body,
        author=by,
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
    if before["downtime_minutes"] != minutes:
        run_log_entry(
            window=window,
            server=server,
            body=_("%(host)s: downtime recorded, %(n)d min.")
            % {"host": server.hostname, "n": minutes},
            by=by,
        )
    return execution


def _set_times(
    window: MaintenanceWindow,
    *,
    starts_at: datetime | None,
    ends_at: datetime | None,
    by,
    entry: str | None = None,
) -> MaintenanceWindow:
    """Record the actual times, with their execution-log entry (`entry`, or what
    _times_entry says of the change)."""
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
    entry = entry or _times_entry(window, before, starts_at, ends_at)
    if entry:
        run_log_entry(window=window, body=entry, by=by)
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
    plan's first window moves an approved plan to in progress. Recording a start for
    a window that had none passes the same gate as starting it."""
    _check_window_open(window)
    if starts_at is not None and window.actual_starts_at is None:
        window_require_may_start(window)
    return _set_times(window, starts_at=starts_at, ends_at=ends_at, by=by)


@transaction.atomic
def window_start(
    *, window: MaintenanceWindow, by, confirm_early: bool = False
) -> MaintenanceWindow:
    """One click: the window started now. Refused while its milestone may not start;
    more than 15 minutes before the planned start it needs `confirm_early` and is
    recorded as an early start.

    Event point for notifications: an early start is recorded here."""
    _check_window_open(window)
    if window.actual_starts_at is not None:
        raise ValidationError(_("This window has already started."))
    gate = window_require_may_start(window)
    early = window_is_early(window)
    # Started although its milestone's entry checks (the go) fail: an approver's
    # emergency change opened the gate. The plan's people hear it as an early start.
    before_go = bool(gate.overrides and gate.milestone_failed)
    if early and not confirm_early:
        raise ValidationError(
            _("The window is planned to start at %(at)s: confirm to start it early.")
            % {"at": moment(window.starts_at)},
            code="early",
        )
    entry = None
    if early:
        entry = _("Window %(w)s started early (planned for %(at)s).") % {
            "w": window,
            "at": moment(window.starts_at),
        }
    _set_times(window, starts_at=timezone.now(), ends_at=None, by=by, entry=entry)
    if before_go:
        override = gate.overrides[-1]
        events.window_started_early(
            window=window,
            by=by,
            reason=_("Emergency change ordered by %(by)s: %(reason)s")
            % {"by": override.by.display_name, "reason": override.reason},
            before_go=True,
        )
    elif early:
        events.window_started_early(window=window, by=by)
    if early:
        MaintenanceWindow.objects.filter(pk=window.pk).update(started_early=True)
        window.started_early = True
        audit_event(
            plan=window.plan_id,
            obj=window,
            action="early start",
            field="started_early",
            old=False,
            new=True,
            by=by,
        )
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
    run_log_entry(
        window=window,
        server=server,
        body=_("%(host)s: package listing uploaded (%(s)s).")
        % {"host": server.hostname, "s": result.summary()},
        by=by,
    )
    return result

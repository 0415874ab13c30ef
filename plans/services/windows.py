"""Writes to maintenance windows: create, edit (optimistic locking), cancel.

Every change raises `sequence` (the iCalendar SEQUENCE, so calendars update
the event) and tells the notifications app inside the same transaction."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from plans.models import MaintenanceWindow, Milestone, Plan, WindowServer
from plans.notify import events
from servers.models import Server

MAX_DOWNTIME_MINUTES = 7 * 24 * 60


class StaleEdit(Exception):  # noqa: N818 - reads better at the call site
    """The object changed (or was removed) since the form was loaded."""

    def __init__(self, current):
        super().__init__("stale edit")
        self.current = current


def _validate(
    *,
    plan: Plan,
    starts_at: datetime,
    ends_at: datetime,
    milestone: Milestone | None,
    downtimes: Mapping[Server, int],
) -> None:
    errors: dict[str, list[str]] = {}
    if timezone.is_naive(starts_at) or timezone.is_naive(ends_at):
        raise ValueError("window times must be time-zone aware")
    if ends_at <= starts_at:
        errors["ends_at"] = [_("The window must end after it starts.")]
    if milestone is not None and milestone.plan_id != plan.pk:
        errors["milestone"] = [_("Choose a milestone of this plan.")]
    if downtimes:
        ids = {s.pk for s in downtimes}
        in_scope = set(plan.servers.filter(pk__in=ids).values_list("pk", flat=True))
        if ids - in_scope:
            errors["servers"] = [_("Only servers in the plan's scope can be in its windows.")]
    for minutes in downtimes.values():
        if not 0 <= minutes <= MAX_DOWNTIME_MINUTES:
            errors["servers"] = [_("Expected downtime must be between 0 and one week.")]
    if errors:
        raise ValidationError(errors)


def _set_servers(window: MaintenanceWindow, downtimes: Mapping[Server, int]) -> None:
    WindowServer.objects.filter(window=window).exclude(
        server_id__in=[s.pk for s in downtimes]
    ).delete()
    existing = {
        ws.server_id: ws for ws in WindowServer.objects.filter(window=window).select_for_update()
    }
    new, changed = [], []
    for server, minutes in downtimes.items():
        ws = existing.get(server.pk)
        if ws is None:
            new.append(
                WindowServer(window=window, server=server, expected_downtime_minutes=minutes)
            )
        elif ws.expected_downtime_minutes != minutes:
            ws.expected_downtime_minutes = minutes
            changed.append(ws)
    WindowServer.objects.bulk_create(new)
    WindowServer.objects.bulk_update(changed, ["expected_downtime_minutes"])


@transaction.atomic
def window_create(
    *,
    plan: Plan,
    starts_at: datetime,
    ends_at: datetime,
    by,
    title: str = "",
    milestone: Milestone | None = None,
    downtimes: Mapping[Server, int] | None = None,
) -> MaintenanceWindow:
    """Schedule a window on a plan for servers of its scope (server -> expected downtime)."""
    downtimes = downtimes or {}
    _validate(
        plan=plan, starts_at=starts_at, ends_at=ends_at, milestone=milestone, downtimes=downtimes
    )
    window = MaintenanceWindow.objects.create(
        plan=plan, milestone=milestone, title=title, starts_at=starts_at, ends_at=ends_at
    )
    _set_servers(window, downtimes)
    events.window_changed(window=window, by=by)
    from plans.audit import audit_event

    audit_event(plan=plan, obj=window, action="created", field="window", new=window, by=by)
    return window


@transaction.atomic
def window_update(
    *,
    window: MaintenanceWindow,
    version: int,
    starts_at: datetime,
    ends_at: datetime,
    by,
    title: str = "",
    milestone: Milestone | None = None,
    downtimes: Mapping[Server, int] | None = None,
) -> MaintenanceWindow:
    """Change a window if nobody else did since `version` was loaded; else raise StaleEdit
    with the current row (None when it is gone). A cancelled window is not edited."""
    downtimes = downtimes or {}
    _validate(
        plan=window.plan,
        starts_at=starts_at,
        ends_at=ends_at,
        milestone=milestone,
        downtimes=downtimes,
    )
    before = {"title": window.title, "starts_at": window.starts_at, "ends_at": window.ends_at}
    state = events.window_state(window)  # for the update email's was -> now
    # The conditional UPDATE is the lock: of concurrent saves of one version, one wins.
    updated = MaintenanceWindow.objects.filter(
        pk=window.pk, version=version, cancelled_at=None
    ).update(
        title=title,
        milestone=milestone,
        starts_at=starts_at,
        ends_at=ends_at,
        version=F("version") + 1,
        sequence=F("sequence") + 1,
        updated_at=timezone.now(),
    )
    if not updated:
        raise StaleEdit(MaintenanceWindow.objects.filter(pk=window.pk).first())
    window.refresh_from_db()
    _set_servers(window, downtimes)
    events.window_changed(window=window, by=by, before=state)
    from plans.audit import audit_changes

    after = {"title": window.title, "starts_at": window.starts_at, "ends_at": window.ends_at}
    audit_changes(plan=window.plan_id, obj=window, before=before, after=after, by=by)
    return window


@transaction.atomic
def window_cancel(*, window: MaintenanceWindow, version: int, by) -> MaintenanceWindow:
    """Cancel a window: kept (for the calendar cancellation and the audit), not deleted."""
    updated = MaintenanceWindow.objects.filter(
        pk=window.pk, version=version, cancelled_at=None
    ).update(
        cancelled_at=timezone.now(),
        version=F("version") + 1,
        sequence=F("sequence") + 1,
        updated_at=timezone.now(),
    )
    if not updated:
        raise StaleEdit(MaintenanceWindow.objects.filter(pk=window.pk).first())
    window.refresh_from_db()
    events.window_cancelled(window=window, by=by)
    from plans.audit import audit_event

    audit_event(plan=window.plan_id, obj=window, action="cancelled", field="window", by=by)
    return window

"""The execution log: timestamped entries (issue encountered, action taken,
resolution, note), linked to a window and server when relevant. Entries are
never edited silently: an edit keeps the previous text as a LogEntryRevision
and the entry shows "edited" with its history."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from plans.audit import audit_changes, audit_event
from plans.choices import RECORDED_LOG_KINDS, LogKind
from plans.models import LogEntry, LogEntryRevision, MaintenanceWindow, Plan
from servers.models import Server

MAX_BODY = 10_000


def _validate(*, plan: Plan, kind: str, body: str, window, server) -> str:
    errors = {}
    body = body.strip()
    # Status changes and run-mode entries are written by run mode alone
    # (plans.services.execution).
    if kind not in LogKind.values or kind in RECORDED_LOG_KINDS:
        errors["kind"] = _("Choose what kind of entry this is.")
    if not body:
        errors["body"] = _("Write what happened.")
    elif len(body) > MAX_BODY:
        errors["body"] = _("Keep an entry under %(n)d characters.") % {"n": MAX_BODY}
    if window is not None and window.plan_id != plan.pk:
        errors["window"] = _("Choose a window of this plan.")
    if server is not None and not plan.servers.filter(pk=server.pk).exists():
        errors["server"] = _("Choose a server of this plan's scope.")
    if errors:
        raise ValidationError(errors)
    return body


@transaction.atomic
def log_entry_add(
    *,
    plan: Plan,
    kind: str,
    body: str,
    by,
    window: MaintenanceWindow | None = None,
    server: Server | None = None,
) -> LogEntry:
    """Write a log entry (what happened, what was done, how it was resolved)."""
    body = _validate(plan=plan, kind=kind, body=body, window=window, server=server)
    entry = LogEntry.objects.create(
        plan=plan, kind=kind, body=body, window=window, server=server, author=by
    )
    audit_event(plan=plan, obj=entry, action="created", field="log", new=body[:200], by=by)
    return entry


@transaction.atomic
def log_entry_edit(*, entry: LogEntry, kind: str, body: str, by) -> LogEntry:
    """Change an entry's text or kind, keeping the previous version as a revision.
    An entry written by run mode is a record, not a note: never edited."""
    if entry.kind in RECORDED_LOG_KINDS:
        raise ValidationError(_("Run mode recorded this entry; it can't be edited."))
    entry = LogEntry.objects.select_for_update().select_related("plan").get(pk=entry.pk)
    body = _validate(plan=entry.plan, kind=kind, body=body, window=None, server=None)
    if body == entry.body and kind == entry.kind:
        return entry
    LogEntryRevision.objects.create(entry=entry, body=entry.body, kind=entry.kind, edited_by=by)
    before = {"kind": entry.kind, "body": entry.body}
    entry.kind, entry.body, entry.edited_at = kind, body, timezone.now()
    entry.save(update_fields=["kind", "body", "edited_at"])
    audit_changes(
        plan=entry.plan, obj=entry, before=before, after={"kind": kind, "body": body}, by=by
    )
    return entry


def run_log_entry(
    *, window: MaintenanceWindow, body: str, by, server: Server | None = None
) -> None:
    """An execution-log entry for a run-mode change other than a server's status
    (those write their own, LogKind.STATUS): the log and the report tell the whole
    window, not only its servers' moves."""
    LogEntry.objects.create(
        plan_id=window.plan_id,
        window=window,
        server=server,
        kind=LogKind.RUN,
        body=body[:MAX_BODY],
        author=by,
    )

"""The audit trail as the layers below plans (teams, servers) write to it.

Its rows (plans.models.AuditEvent, shown in the plan and team history) are the
plans app's, which sits above teams and servers: those must not import it. They
record through these functions instead, and plans plugs its writer in when
Django starts (PlansConfig.ready). The writer runs in the caller's transaction,
as before. There is no buffering: with no writer a change would go unrecorded,
so that is an error, not a silent no-op."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol


class AuditWriter(Protocol):
    def audit_event(self, **kwargs: Any) -> Any: ...

    def audit_changes(self, **kwargs: Any) -> Any: ...


_writer: AuditWriter | None = None


def set_writer(writer: AuditWriter) -> None:
    global _writer
    _writer = writer


def _get() -> AuditWriter:
    if _writer is None:
        raise RuntimeError("no audit writer: the plans app plugs one in when it is ready")
    return _writer


def audit_event(
    *, team, action: str, by=None, obj=None, field: str = "", old: Any = None, new: Any = None
) -> Any:
    """One happening in the team's history (an event with the team and no plan)."""
    return _get().audit_event(
        team=team, obj=obj, action=action, field=field, old=old, new=new, by=by
    )


def audit_changes(*, team, obj, before: Mapping[str, Any], after: Mapping[str, Any], by) -> Any:
    """One history row per field that differs between `before` and `after`."""
    return _get().audit_changes(team=team, obj=obj, before=before, after=after, by=by)


def snapshot(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    """The current values of `fields` on `obj` (a `before`/`after` for audit_changes)."""
    return {name: getattr(obj, name) for name in fields}

"""The audit trail: every change to a plan and its parts, as AuditEvent rows.

Services call `audit_changes` with the values a thing had before and after an
edit (only the fields that differ are written) or `audit_event` for one
happening (created, deleted, status moved, signed off...). Both run inside the
caller's transaction, so a rolled-back change leaves no trace here either.
Because every change to a plan is audited, this is also where open plan pages
learn what to refresh (plans.live: the counters move when the transaction commits)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from django.db.models import Model
from django.utils import timezone

from patchplan.core import audit as core_audit
from plans import live
from plans.models import AuditEvent, Plan

MAX_VALUE = 2000


def audit_value(value: Any) -> str:
    """A stored, comparable text form of a field value (times in UTC, ISO 8601)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Model):
        return str(value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {audit_value(v)}" for k, v in sorted(value.items()))
    if isinstance(value, Iterable) and not isinstance(value, str | bytes):
        return ", ".join(audit_value(v) for v in value)
    text = str(value)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _plan_id(plan: Plan | int | None) -> int | None:
    # A plan or its id: callers that hold only `task.plan_id` need not load the plan.
    return plan if isinstance(plan, int) or plan is None else plan.pk


def _describe(obj: Model | int | None) -> dict:
    if obj is None or isinstance(obj, int):
        return {"object_type": "plan", "object_id": obj, "object_repr": ""}
    return {
        "object_type": obj._meta.model_name,
        "object_id": obj.pk,
        "object_repr": str(obj)[:200],
    }


def audit_event(
    *,
    action: str,
    by,
    plan: Plan | int | None = None,
    team=None,
    obj: Model | None = None,
    field: str = "",
    old: Any = None,
    new: Any = None,
) -> AuditEvent:
    """Record one happening on `plan` (or on `obj`, one of its parts), or, with `team`
    and no plan, on the team's settings, servers or members."""
    if plan is None and team is None:
        raise ValueError("an audit event belongs to a plan or a team")
    if plan is None and obj is None:
        obj = team
    described = _describe(obj if obj is not None else plan)
    if plan is not None:
        live.parts_changed(
            plan_id=_plan_id(plan),
            parts=live.parts_of_audit(described["object_type"], field),
            by=by,
        )
    return AuditEvent.objects.create(
        plan_id=_plan_id(plan),
        team_id=getattr(team, "pk", team) if plan is None else None,
        action=action[:20],
        field=field[:100],
        old_value=audit_value(old),
        new_value=audit_value(new),
        by=by if getattr(by, "pk", None) else None,
        **described,
    )


def audit_changes(
    *,
    obj: Model | None,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    by,
    plan: Plan | int | None = None,
    team=None,
) -> list[AuditEvent]:
    """Record each field whose value differs between `before` and `after`: one row a
    field (old value, new value), in one INSERT. Returns the rows written. Team-level
    changes name `team` and no plan."""
    if plan is None and team is None:
        raise ValueError("an audit event belongs to a plan or a team")
    if plan is None and obj is None:
        obj = team
    team_id = getattr(team, "pk", team) if plan is None else None
    described = _describe(obj if obj is not None else plan)
    by = by if getattr(by, "pk", None) else None
    rows = []
    for name in after:
        old, new = audit_value(before.get(name)), audit_value(after.get(name))
        if old != new:
            rows.append(
                AuditEvent(
                    plan_id=_plan_id(plan),
                    team_id=team_id,
                    action="changed",
                    field=name[:100],
                    old_value=old,
                    new_value=new,
                    by=by,
                    **described,
                )
            )
    if rows and plan is not None:
        parts = set().union(*(live.parts_of_audit(r.object_type, r.field) for r in rows))
        live.parts_changed(plan_id=_plan_id(plan), parts=parts, by=by)
    return AuditEvent.objects.bulk_create(rows) if rows else []


# One definition for every layer (teams and servers use it through core.audit).
snapshot = core_audit.snapshot

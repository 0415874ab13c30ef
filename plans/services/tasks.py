"""Writes to tasks and their checklists.

Assigning a task (on create, edit or in place) tells the notifications app
inside the transaction. Edits carry the version they were loaded from."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from patchplan.teams.models import Membership
from plans.choices import TaskStatus
from plans.models import ChecklistItem, Milestone, Plan, Task
from plans.notify import events

from .windows import StaleEdit

MAX_CHECKLIST_LINES = 100


def _validate(*, plan: Plan, assignee, milestone: Milestone | None, title: str) -> None:
    errors: dict[str, list[str]] = {}
    if not title.strip():
        errors["title"] = [_("Give the task a title.")]
    if milestone is not None and milestone.plan_id != plan.pk:
        errors["milestone"] = [_("Choose a milestone of this plan.")]
    if (
        assignee is not None
        and not Membership.objects.filter(team_id=plan.team_id, user=assignee).exists()
    ):
        errors["assignee"] = [_("Only a member of the plan's team can be assigned.")]
    if errors:
        raise ValidationError(errors)


def _clean_lines(lines: list[str]) -> list[str]:
    lines = [line.strip() for line in lines if line.strip()]
    if len(lines) > MAX_CHECKLIST_LINES:
        raise ValidationError(
            {"checklist": [_("At most %(n)d checklist lines.") % {"n": MAX_CHECKLIST_LINES}]}
        )
    if any(len(line) > 300 for line in lines):
        raise ValidationError({"checklist": [_("A checklist line has at most 300 characters.")]})
    return lines


def _set_checklist(task: Task, lines: list[str]) -> None:
    """Replace the checklist with these lines; a line kept keeps its tick."""
    done = {item.text for item in task.checklist.all() if item.done}
    task.checklist.all().delete()
    ChecklistItem.objects.bulk_create(
        ChecklistItem(task=task, text=text, done=text in done, position=i)
        for i, text in enumerate(lines)
    )


def _completed_at(status: str):
    return timezone.now() if status == TaskStatus.DONE else None


@transaction.atomic
def task_create(
    *,
    plan: Plan,
    title: str,
    by,
    description: str = "",
    milestone: Milestone | None = None,
    assignee=None,
    due_on: date | None = None,
    status: str = TaskStatus.TODO,
    checklist: list[str] | None = None,
) -> Task:
    """Add a task to a plan; its assignee must be a member of the plan's team."""
    _validate(plan=plan, assignee=assignee, milestone=milestone, title=title)
    lines = _clean_lines(checklist or [])
    task = Task.objects.create(
        plan=plan,
        title=title.strip(),
        description=description,
        milestone=milestone,
        assignee=assignee,
        due_on=due_on,
        status=status,
        completed_at=_completed_at(status),
    )
    _set_checklist(task, lines)
    if assignee is not None:
        events.task_assigned(task=task, by=by)
    from plans.audit import audit_event

    audit_event(plan=plan.pk, obj=task, action="created", field="task", new=task.title, by=by)
    return task


@transaction.atomic
def task_update(
    *,
    task: Task,
    version: int,
    title: str,
    by,
    description: str = "",
    milestone: Milestone | None = None,
    assignee=None,
    due_on: date | None = None,
    status: str = TaskStatus.TODO,
    checklist: list[str] | None = None,
) -> Task:
    """Edit a task if nobody changed it since `version`; else raise StaleEdit."""
    _validate(plan=task.plan, assignee=assignee, milestone=milestone, title=title)
    lines = _clean_lines(checklist or [])
    old_assignee_id = task.assignee_id
    audited = ("title", "description", "milestone", "assignee", "due_on", "status")
    before = {name: getattr(task, name) for name in audited}
    updated = Task.objects.filter(pk=task.pk, version=version).update(
        title=title.strip(),
        description=description,
        milestone=milestone,
        assignee=assignee,
        due_on=due_on,
        status=status,
        completed_at=_completed_at(status),
        version=F("version") + 1,
        updated_at=timezone.now(),
    )
    if not updated:
        raise StaleEdit(Task.objects.filter(pk=task.pk).first())
    task.refresh_from_db()
    _set_checklist(task, lines)
    if assignee is not None and assignee.pk != old_assignee_id:
        events.task_assigned(task=task, by=by)
    from plans.audit import audit_changes

    after = {name: getattr(task, name) for name in audited}
    audit_changes(plan=task.plan_id, obj=task, before=before, after=after, by=by)
    return task


@transaction.atomic
def task_set_status(*, task: Task, status: str, by) -> Task:
    """Move a task to another status (in place: last write wins, nothing else changes)."""
    if status not in TaskStatus.values:
        raise ValidationError({"status": [_("Choose a valid status.")]})
    old_status = task.status
    Task.objects.filter(pk=task.pk).update(
        status=status,
        completed_at=_completed_at(status),
        version=F("version") + 1,
        updated_at=timezone.now(),
    )
    task.refresh_from_db()
    from plans.audit import audit_changes

    audit_changes(
        plan=task.plan_id, obj=task, before={"status": old_status}, after={"status": status}, by=by
    )
    return task


@transaction.atomic
def task_assign(*, task: Task, assignee, by) -> Task:
    """Give the task to a member of the plan's team (or to nobody)."""
    _validate(plan=task.plan, assignee=assignee, milestone=None, title=task.title)
    if (assignee.pk if assignee else None) == task.assignee_id:
        return task
    before = {"assignee": task.assignee}
    Task.objects.filter(pk=task.pk).update(
        assignee=assignee, version=F("version") + 1, updated_at=timezone.now()
    )
    task.refresh_from_db()
    if assignee is not None:
        events.task_assigned(task=task, by=by)
    from plans.audit import audit_changes

    after = {"assignee": assignee}
    audit_changes(plan=task.plan_id, obj=task, before=before, after=after, by=by)
    return task


@transaction.atomic
def task_delete(*, task: Task, by) -> None:
    """Remove a task and its checklist."""
    from plans.audit import audit_event

    audit_event(plan=task.plan_id, obj=task, action="deleted", field="task", old=task.title, by=by)
    task.delete()


@transaction.atomic
def checklist_item_toggle(*, item: ChecklistItem, done: bool, by) -> ChecklistItem:
    """Tick or untick a checklist line."""
    from plans.audit import audit_changes

    was = ChecklistItem.objects.filter(pk=item.pk).values_list("done", flat=True).first()
    ChecklistItem.objects.filter(pk=item.pk).update(done=done)
    Task.objects.filter(pk=item.task_id).update(version=F("version") + 1, updated_at=timezone.now())
    item.done = done
    plan_id = Task.objects.filter(pk=item.task_id).values_list("plan_id", flat=True).first()
    audit_changes(plan=plan_id, obj=item, before={"done": was}, after={"done": done}, by=by)
    return item

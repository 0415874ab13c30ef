"""Reads of tasks, scoped through the access selectors."""

from __future__ import annotations

from collections import defaultdict

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from patchplan.teams.models import Membership
from patchplan.teams.roles import Action
from patchplan.teams.selectors import get_for_user, scope_to_user, team_roles, user_can
from plans.choices import TaskStatus
from plans.models import ChecklistItem, Plan, Task

OPEN_STATUSES = (TaskStatus.TODO, TaskStatus.IN_PROGRESS, TaskStatus.BLOCKED)


def task_get_for_user(*, user, task_id: int, action: str = Action.VIEW) -> Task:
    """One task of the user's teams: 404 outside them, 403 if the role may not act."""
    return get_for_user(
        Task.objects.select_related("plan__team", "assignee", "milestone"),
        user=user,
        action=action,
        team_field="plan__team",
        pk=task_id,
    )


def may_work_on(*, user, task: Task) -> bool:
    """Planners work on any task of their plans; engineers on tasks given to them."""
    team_id = task.plan.team_id
    if user_can(user=user, team_id=team_id, action=Action.EDIT_PLAN):
        return True
    return task.assignee_id == user.pk and user_can(
        user=user, team_id=team_id, action=Action.WORK_TASKS
    )


def task_get_for_work(*, user, task_id: int) -> Task:
    """A task the user may tick or move: 404 outside their teams, 403 if not theirs to work."""
    task = task_get_for_user(user=user, task_id=task_id, action=Action.WORK_TASKS)
    if not may_work_on(user=user, task=task):
        raise PermissionDenied("Only the assignee or a planner may work on this task.")
    return task


def checklist_item_get_for_work(*, user, item_id: int) -> ChecklistItem:
    item = get_for_user(
        ChecklistItem.objects.select_related("task__plan"),
        user=user,
        action=Action.WORK_TASKS,
        team_field="task__plan__team",
        pk=item_id,
    )
    if not may_work_on(user=user, task=item.task):
        raise PermissionDenied("Only the assignee or a planner may work on this task.")
    return item


def _with_checklist(queryset: QuerySet[Task]) -> QuerySet[Task]:
    # Rows show "checklist 2/5": counted by the database, no checklist rows loaded.
    return queryset.select_related("assignee", "milestone", "plan").annotate(
        n_items=Count("checklist"), n_done=Count("checklist", filter=Q(checklist__done=True))
    )


def tasks_of_plan(*, plan: Plan) -> QuerySet[Task]:
    """The plan's tasks by milestone order then due date, with checklist counts (n_items,
    n_done): 1 query, no joins (tasks_card attaches plan, milestones and people)."""
    return (
        Task.objects.filter(plan_id=plan.pk)
        .annotate(
            n_items=Count("checklist"), n_done=Count("checklist", filter=Q(checklist__done=True))
        )
        .order_by(
            F("milestone__position").asc(nulls_last=True),
            F("due_on").asc(nulls_last=True),
            "position",
            "pk",
        )
    )


def members_by_team(team_ids) -> dict[int, list]:
    """Assignable people per team, one query."""
    found: dict[int, list] = defaultdict(list)
    for m in (
        Membership.objects.filter(team_id__in=list(team_ids))
        .select_related("user")
        .order_by("user__first_name", "user__last_name", "user__username")
    ):
        found[m.team_id].append(m.user)
    return found


# Reversing four URLs for each of 300 rows costs more than the rest of the row; each
# name is reversed once with a placeholder id that is then swapped for the row's id.
_PLACEHOLDER = "2147483647"


def _url_maker(name: str):
    pattern = reverse(name, args=[int(_PLACEHOLDER)])
    return lambda pk: pattern.replace(_PLACEHOLDER, str(pk))


def _options(choices, selected) -> str:
    """<option>s of a select, the `selected` value marked (built once per variant)."""
    return format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        (
            (value, mark_safe(" selected") if str(value) == str(selected) else "", label)  # noqa: S308 - a constant
            for value, label in choices
        ),
    )


def annotate_rights(
    *, tasks: list[Task], user, members: dict[int, list] | None = None
) -> list[Task]:
    """Mark each task with what the user may do to it and what its row needs (the
    checklist counts, ready-made <option>s and URLs): no queries, roles are cached and
    checklists prefetched. `members` (team id -> people) fills the assignee picker."""
    today = timezone.localdate()
    status_options: dict[str, str] = {}
    assignee_options: dict[tuple[int, int | None], str] = {}
    urls = {
        name: _url_maker(name)
        for name in ("task_detail", "task_status", "task_assign", "task_delete")
    }
    # Per team, not per row: the role checks and the choices list (an enum property
    # that builds a new list on every access) are the same for all of a team's rows.
    status_choices = TaskStatus.choices
    rights: dict[int, tuple[bool, bool]] = {}
    for t in tasks:
        if not hasattr(t, "n_items"):
            items = list(t.checklist.all())
            t.n_items, t.n_done = len(items), sum(1 for i in items if i.done)
        team_id = t.plan.team_id
        if team_id not in rights:
            rights[team_id] = (
                user_can(user=user, team_id=team_id, action=Action.EDIT_PLAN),
                user_can(user=user, team_id=team_id, action=Action.WORK_TASKS),
            )
        may_edit, may_work = rights[team_id]
        t.status_choices = status_choices
        t.checklist_total = t.n_items
        t.checklist_done = t.n_done
        t.can_edit = may_edit
        t.can_work = may_edit or (t.assignee_id == user.pk and may_work)
        t.overdue = t.due_on is not None and t.status != TaskStatus.DONE and t.due_on < today
        if t.status not in status_options:
            status_options[t.status] = _options(status_choices, t.status)
        t.status_options = status_options[t.status]
        t.members = (members or {}).get(team_id, []) if t.can_edit else []
        if t.members:
            key = (team_id, t.assignee_id)
            if key not in assignee_options:
                choices = [(u.pk, u.display_name) for u in t.members]
                assignee_options[key] = _options(choices, t.assignee_id)
            t.assignee_options = assignee_options[key]
        # A string, so the template does not run number formatting on it four times a row.
        t.dom_id = f"task-{t.pk}"
        t.url_detail = urls["task_detail"](t.pk)
        t.url_status = urls["task_status"](t.pk)
        t.url_assign = urls["task_assign"](t.pk)
        t.url_delete = urls["task_delete"](t.pk)
    return tasks


class TaskRow:
    """A task of the plan page's table as plain values: what annotate_rights and the
    {% task_rows %} tag read. Hundreds of Task instances, with a foreign-key descriptor
    check for each attached plan, milestone and assignee, cost more than the rows'
    markup; the htmx answer for one row still uses the Task itself."""

    FIELDS = ("pk", "title", "status", "due_on", "assignee_id", "milestone_id", "n_items", "n_done")

    def __init__(
        self, pk, title, status, due_on, assignee_id, milestone_id, n_items, n_done, *, plan
    ):
        self.pk = self.id = pk
        self.title = title
        self.status = status
        self.due_on = due_on
        self.assignee_id = assignee_id
        self.milestone_id = milestone_id
        self.n_items = n_items
        self.n_done = n_done
        self.plan = plan
        self.plan_id = plan.pk


def tasks_card(*, plan: Plan, user, milestones=None) -> dict:
    """Context of the plan page's tasks card: 3 queries (tasks with checklist counts,
    milestones, members), 2 when the plan's `milestones` are passed in. The plan, its
    milestones and the team's members are read once and attached to the tasks instead
    of joined into each of hundreds of rows."""
    from plans.models import Milestone

    members = members_by_team([plan.team_id])
    people = {u.pk: u for u in members[plan.team_id]}
    if milestones is None:
        milestones = Milestone.objects.filter(plan_id=plan.pk)
    milestones = {m.pk: m for m in milestones}
    tasks = [
        TaskRow(*values, plan=plan)
        for values in tasks_of_plan(plan=plan).values_list(*TaskRow.FIELDS)
    ]
    gone = {t.assignee_id for t in tasks if t.assignee_id and t.assignee_id not in people}
    if gone:  # assignees who have left the team since: one more query, only then
        people.update({u.pk: u for u in get_user_model().objects.filter(pk__in=gone)})
    for t in tasks:
        t.milestone = milestones.get(t.milestone_id)
        t.assignee = people.get(t.assignee_id)
    tasks = annotate_rights(tasks=tasks, user=user, members=members)
    return {
        "plan": plan,
        "tasks": tasks,
        "members": members[plan.team_id],
        "can_edit": user_can(user=user, team_id=plan.team_id, action=Action.EDIT_PLAN),
        "statuses": TaskStatus.choices,
    }


def my_tasks(*, user, limit: int | None = None) -> QuerySet[Task]:
    """Open tasks assigned to the user across all their teams' plans, due soonest first
    (undated last)."""
    qs = (
        _with_checklist(scope_to_user(Task.objects.all(), user=user, team_field="plan__team"))
        .filter(assignee=user, status__in=OPEN_STATUSES, plan__is_template=False)
        .order_by(F("due_on").asc(nulls_last=True), "plan_id", "position", "pk")
    )
    return qs[:limit] if limit else qs


def my_tasks_page(*, user) -> dict:
    """Context of "My tasks": 2 queries (tasks with counts, members of teams I may plan in)."""
    editable_teams = [
        team_id
        for team_id in team_roles(user)
        if user_can(user=user, team_id=team_id, action=Action.EDIT_PLAN)
    ]
    members = members_by_team(editable_teams) if editable_teams else {}
    tasks = annotate_rights(tasks=list(my_tasks(user=user)), user=user, members=members)
    return {"tasks": tasks, "statuses": TaskStatus.choices}


def raci_matrix(*, plan: Plan) -> dict:
    """People by milestones and tasks, with R/A/C/I letters: 3 queries (roles, milestones,
    tasks). The owner counts as accountable until someone is made so."""
    from plans.choices import Raci
    from plans.models import Milestone, PlanRole

    roles = list(PlanRole.objects.filter(plan_id=plan.pk).select_related("user"))
    milestones = list(Milestone.objects.filter(plan_id=plan.pk).order_by("position", "pk"))
    tasks = list(
        Task.objects.filter(plan_id=plan.pk)
        .select_related("assignee")
        .order_by(F("due_on").asc(nulls_last=True), "position", "pk")
    )
    people: dict[int, object] = {}
    letters: dict[int, set[str]] = defaultdict(set)
    roles_of: dict[int, list] = defaultdict(list)
    for r in roles:
        people[r.user_id] = r.user
        letters[r.user_id].add(r.raci)
        roles_of[r.user_id].append(r)
    if not any(r.raci == Raci.ACCOUNTABLE for r in roles):
        people[plan.owner_id] = plan.owner
        letters[plan.owner_id].add(Raci.ACCOUNTABLE)
    for t in tasks:
        if t.assignee_id:
            people[t.assignee_id] = t.assignee

    columns: list[dict] = []
    by_milestone: dict[int | None, list[Task]] = defaultdict(list)
    for t in tasks:
        by_milestone[t.milestone_id].append(t)
    for m in milestones:
        columns.append({"kind": "milestone", "label": m.name, "tasks": by_milestone[m.pk]})
        columns += [{"kind": "task", "label": t.title, "task": t} for t in by_milestone[m.pk]]
    columns += [{"kind": "task", "label": t.title, "task": t} for t in by_milestone[None]]

    def cell(user_id: int, column: dict) -> str:
        plan_level = letters[user_id]
        if column["kind"] == "task":
            responsible = column["task"].assignee_id == user_id
        else:
            responsible = Raci.RESPONSIBLE in plan_level or any(
                t.assignee_id == user_id for t in column["tasks"]
            )
        found = []
        if responsible:
            found.append("R")
        for raci, letter in ((Raci.ACCOUNTABLE, "A"), (Raci.CONSULTED, "C"), (Raci.INFORMED, "I")):
            if raci in plan_level:
                found.append(letter)
        return "".join(found)

    ordered = sorted(people.values(), key=lambda u: (u.display_name.lower(), u.pk))
    rows = [
        {
            "person": u,
            "roles": roles_of[u.pk],
            "plan_letters": sorted(letters[u.pk]),
            "cells": [cell(u.pk, c) for c in columns],
        }
        for u in ordered
    ]
    return {"columns": columns, "rows": rows, "raci_choices": Raci.choices}

"""Reads of tasks, scoped through the access selectors."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, Q, QuerySet, Window
from django.urls import reverse
from django.utils import timezone

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
    # Rows show "checklist 2/5": counted by the database, no checklist rows loaded. Only
    # the columns task_rows() reads: the plan's long texts would cost more than the rows.
    return (
        queryset.select_related("assignee", "milestone", "plan")
        .only(
            "title",
            "status",
            "due_on",
            "position",
            "plan__title",
            "plan__team_id",
            "milestone__name",
            "assignee__first_name",
            "assignee__last_name",
            "assignee__username",
        )
        .annotate(
            n_items=Count("checklist"), n_done=Count("checklist", filter=Q(checklist__done=True))
        )
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


class Person(NamedTuple):
    """A team member as pickers and filters list them: (pk, display_name) pairs."""

    pk: int
    display_name: str


def members_by_team(team_ids) -> dict[int, list[Person]]:
    """Assignable people per team, one query (names only: no User objects built)."""
    found: dict[int, list[Person]] = defaultdict(list)
    for team_id, pk, first, last, username in (
        Membership.objects.filter(team_id__in=list(team_ids))
        .order_by("user__first_name", "user__last_name", "user__username")
        .values_list("team_id", "user_id", "user__first_name", "user__last_name", "user__username")
    ):
        # User.display_name: the full name, else the username.
        found[team_id].append(Person(pk, f"{first} {last}".strip() or username))
    return found


# Reversing four URLs for each of hundreds of rows costs more than the rest of the row;
# each name is reversed once with a placeholder id that is then swapped for the row's id.
_PLACEHOLDER = "2147483647"
TASK_PAGE_SIZE = 50
# The most rows the tasks card renders at once when its live refresh asks for as many as
# the reader had loaded ("shown"): a request can't ask for the whole table.
TASK_SHOWN_MAX = 500


def _url_maker(name: str):
    pattern = reverse(name, args=[int(_PLACEHOLDER)])
    return lambda pk: pattern.replace(_PLACEHOLDER, str(pk))


@dataclass(slots=True)
class TaskRow:
    """One task as every task row shows it (plan page, My tasks, the dashboard card and
    the htmx answers): plain values and what the user may do, nothing hung on a model.
    Rendered by templates/jinja2/plans/task_rows.jinja. The pickers' options are not
    here: the page carries them once (task_pickers.jinja)."""

    pk: int
    title: str
    status: str
    status_label: str
    due_on: date | None
    overdue: bool
    plan_id: int
    plan_title: str
    team_id: int
    milestone_name: str
    assignee_id: int | None
    assignee_name: str
    checklist_done: int
    checklist_total: int
    can_edit: bool
    can_work: bool
    url_detail: str
    url_plan: str
    url_status: str
    url_assign: str
    url_delete: str


class _RowMaker:
    """Builds TaskRows for one user: URLs, status labels and role checks worked out once
    per call rather than once per row."""

    def __init__(self, user) -> None:
        self.user = user
        self.today = timezone.localdate()
        self.urls = [
            _url_maker(name)
            for name in ("task_detail", "task_status", "task_assign", "task_delete")
        ]
        self.plan_url = _url_maker("plan_detail")
        self.labels = {value: str(label) for value, label in TaskStatus.choices}
        self.rights: dict[int, tuple[bool, bool]] = {}

    def __call__(
        self,
        *,
        pk: int,
        title: str,
        status: str,
        due_on,
        plan_id: int,
        plan_title: str,
        team_id: int,
        milestone_name: str,
        assignee_id: int | None,
        assignee_name: str,
        n_items: int,
        n_done: int,
    ) -> TaskRow:
        if team_id not in self.rights:
            self.rights[team_id] = (
                user_can(user=self.user, team_id=team_id, action=Action.EDIT_PLAN),
                user_can(user=self.user, team_id=team_id, action=Action.WORK_TASKS),
            )
        may_edit, may_work = self.rights[team_id]
        detail, status_url, assign, delete = (make(pk) for make in self.urls)
        return TaskRow(
            pk=pk,
            title=title,
            status=status,
            status_label=self.labels.get(status, status),
            due_on=due_on,
            overdue=due_on is not None and status != TaskStatus.DONE and due_on < self.today,
            plan_id=plan_id,
            plan_title=plan_title,
            team_id=team_id,
            milestone_name=milestone_name,
            assignee_id=assignee_id,
            assignee_name=assignee_name,
            checklist_done=n_done,
            checklist_total=n_items,
            can_edit=may_edit,
            can_work=may_edit or (assignee_id == self.user.pk and may_work),
            url_detail=detail,
            url_plan=self.plan_url(plan_id),
            url_status=status_url,
            url_assign=assign,
            url_delete=delete,
        )


def task_rows(*, tasks, user) -> list[TaskRow]:
    """Rows for Task instances with plan, milestone and assignee joined (my_tasks(), an
    access selector's task). Checklist counts come from the n_items/n_done annotations;
    a task without them (one htmx answer) has its checklist counted here, one query."""
    make = _RowMaker(user)
    rows = []
    for t in tasks:
        if hasattr(t, "n_items"):
            n_items, n_done = t.n_items, t.n_done
        else:
            counts = t.checklist.aggregate(n=Count("pk"), done=Count("pk", filter=Q(done=True)))
            n_items, n_done = counts["n"], counts["done"]
        rows.append(
            make(
                pk=t.pk,
                title=t.title,
                status=t.status,
                due_on=t.due_on,
                plan_id=t.plan_id,
                plan_title=t.plan.title,
                team_id=t.plan.team_id,
                milestone_name=t.milestone.name if t.milestone_id else "",
                assignee_id=t.assignee_id,
                assignee_name=t.assignee.display_name if t.assignee_id else "",
                n_items=n_items,
                n_done=n_done,
            )
        )
    return rows


@dataclass(frozen=True)
class TaskFilters:
    """The plan page's task filters from GET parameters; unknown values are ignored.
    `milestone` and `assignee` are an id, "none" (without one) or None (any). `shown`:
    how many rows the reader had loaded when the card's live refresh asked (0 to
    TASK_SHOWN_MAX), so the refreshed card shows at least as many."""

    milestone: int | str | None = None
    assignee: int | str | None = None
    status: str = ""
    offset: int = 0
    shown: int = 0

    @classmethod
    def from_query(cls, params) -> TaskFilters:
        def pick_id(name):
            value = params.get(name, "")
            if value == "none":
                return "none"
            return int(value) if value.isdecimal() and len(value) < 10 else None

        def pick_count(name):
            value = params.get(name, "")
            return int(value) if value.isdecimal() and len(value) < 7 else 0

        status = params.get("status", "")
        return cls(
            milestone=pick_id("milestone"),
            assignee=pick_id("assignee"),
            status=status if status in TaskStatus.values else "",
            offset=pick_count("offset"),
            shown=min(pick_count("shown"), TASK_SHOWN_MAX),
        )

    @property
    def active(self) -> bool:
        return bool(self.milestone or self.assignee or self.status)

    def as_query(self, *, offset: int = 0) -> str:
        from urllib.parse import urlencode

        pairs = [
            ("milestone", self.milestone or ""),
            ("assignee", self.assignee or ""),
            ("status", self.status),
            ("offset", offset or ""),
        ]
        return urlencode([(k, v) for k, v in pairs if v != ""])

    def apply(self, queryset: QuerySet[Task]) -> QuerySet[Task]:
        if self.milestone == "none":
            queryset = queryset.filter(milestone_id=None)
        elif self.milestone:
            queryset = queryset.filter(milestone_id=self.milestone)
        if self.assignee == "none":
            queryset = queryset.filter(assignee_id=None)
        elif self.assignee:
            queryset = queryset.filter(assignee_id=self.assignee)
        if self.status:
            queryset = queryset.filter(status=self.status)
        return queryset


def plan_task_rows(
    *,
    plan: Plan,
    user,
    filters: TaskFilters,
    milestones=None,
    people=None,
    limit: int = TASK_PAGE_SIZE,
) -> dict:
    """`limit` (one page, TASK_PAGE_SIZE, unless told) of the plan's tasks as rows, from
    filters.offset, and the number of tasks the filters match: 1 query whatever the
    limit (2 if an assignee has left the team since, or the offset is past the end; 2
    without `milestones`/`people`, read here then)."""
    from plans.models import Milestone

    if milestones is None:
        milestones = Milestone.objects.filter(plan_id=plan.pk)
    names = {m.pk: m.name for m in milestones}
    if people is None:
        people = {u.pk: u.display_name for u in members_by_team([plan.team_id])[plan.team_id]}
    # The count of all matching tasks comes with the page (a window over the whole
    # result), not as a query of its own.
    queryset = filters.apply(tasks_of_plan(plan=plan)).annotate(total=Window(Count("pk")))
    values = list(
        queryset.values_list(
            "pk",
            "title",
            "status",
            "due_on",
            "assignee_id",
            "milestone_id",
            "n_items",
            "n_done",
            "total",
        )[filters.offset : filters.offset + limit]
    )
    if values:
        total = values[0][-1]
    elif filters.offset:  # past the end: counted apart
        total = filters.apply(Task.objects.filter(plan_id=plan.pk)).count()
    else:
        total = 0
    gone = {v[4] for v in values if v[4] and v[4] not in people}
    if gone:  # assignees who have left the team since: one more query, only then
        people = {
            **people,
            **{u.pk: u.display_name for u in get_user_model().objects.filter(pk__in=gone)},
        }
    make = _RowMaker(user)
    rows = [
        make(
            pk=pk,
            title=title,
            status=status,
            due_on=due_on,
            plan_id=plan.pk,
            plan_title=plan.title,
            team_id=plan.team_id,
            milestone_name=names.get(milestone_id, ""),
            assignee_id=assignee_id,
            assignee_name=people.get(assignee_id, ""),
            n_items=n_items,
            n_done=n_done,
        )
        for pk, title, status, due_on, assignee_id, milestone_id, n_items, n_done, _ in values
    ]
    shown = filters.offset + len(rows)
    return {
        "plan": plan,
        "tasks": rows,
        "total": total,
        "shown": shown,
        "more_query": filters.as_query(offset=shown) if shown < total else "",
        "remaining": total - shown,
        "filters": filters,
    }


def tasks_card(*, plan: Plan, user, milestones=None, filters: TaskFilters | None = None) -> dict:
    """Context of the plan page's tasks card: the first page of rows (or as many as
    filters.shown, when a live refresh says the reader had loaded more: the list they
    were reading must not shrink under them), the filters and the pickers' options (once
    for the page): 2 queries (tasks with their count, members), 3 without the plan's
    `milestones` passed in."""
    from plans.models import Milestone

    members = members_by_team([plan.team_id])[plan.team_id]
    if milestones is None:
        milestones = list(Milestone.objects.filter(plan_id=plan.pk).order_by("position", "pk"))
    can_edit = user_can(user=user, team_id=plan.team_id, action=Action.EDIT_PLAN)
    filters = filters or TaskFilters()
    page = plan_task_rows(
        plan=plan,
        user=user,
        filters=filters,
        milestones=milestones,
        people={u.pk: u.display_name for u in members},
        limit=max(TASK_PAGE_SIZE, filters.shown),
    )
    return {
        **page,
        "milestones": milestones,
        "members": members,
        "can_edit": can_edit,
        "statuses": TaskStatus.choices,
        "picker_teams": [(plan.team_id, members)] if can_edit else [],
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


def my_task_rows(*, user, limit: int | None = None) -> list[TaskRow]:
    """my_tasks() as rows, built from the database's values: no Task, Plan, Milestone or
    User objects for a list that only shows them (My tasks, the dashboard). 1 query."""
    make = _RowMaker(user)
    return [
        make(
            pk=pk,
            title=title,
            status=status,
            due_on=due_on,
            plan_id=plan_id,
            plan_title=plan_title,
            team_id=team_id,
            milestone_name=milestone_name or "",
            assignee_id=assignee_id,
            # User.display_name: the full name, else the username (always the user's own).
            assignee_name=f"{first} {last}".strip() or username,
            n_items=n_items,
            n_done=n_done,
        )
        for (
            pk,
            title,
            status,
            due_on,
            plan_id,
            plan_title,
            team_id,
            milestone_name,
            assignee_id,
            first,
            last,
            username,
            n_items,
            n_done,
        ) in my_tasks(user=user, limit=limit).values_list(
            "pk",
            "title",
            "status",
            "due_on",
            "plan_id",
            "plan__title",
            "plan__team_id",
            "milestone__name",
            "assignee_id",
            "assignee__first_name",
            "assignee__last_name",
            "assignee__username",
            "n_items",
            "n_done",
        )
    ]


def my_tasks_page(*, user) -> dict:
    """Context of "My tasks": 2 queries (tasks with counts, members of teams I may plan in,
    for the assignee pickers' options, shipped once per team)."""
    editable_teams = [
        team_id
        for team_id in team_roles(user)
        if user_can(user=user, team_id=team_id, action=Action.EDIT_PLAN)
    ]
    members = members_by_team(editable_teams) if editable_teams else {}
    return {
        "tasks": my_task_rows(user=user),
        "picker_teams": sorted(members.items()),
    }


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

"""Task pages and in-place changes (htmx row swaps), and "My tasks"."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from patchplan.teams.roles import Action
from patchplan.teams.selectors import check_team_action, user_can
from plans.choices import TaskStatus
from plans.forms.tasks import TaskAssignForm, TaskForm, TaskStatusForm
from plans.selectors import tasks as selectors
from plans.selectors.plans import plan_get_for_user
from plans.services import tasks as services
from plans.services.windows import StaleEdit


def _task_kwargs(form: TaskForm) -> dict:
    data = form.cleaned_data
    return {
        "title": data["title"],
        "description": data["description"],
        "milestone": data["milestone"],
        "assignee": data["assignee"],
        "due_on": data["due_on"],
        "status": data["status"],
        "checklist": form.checklist_lines(),
    }


@login_required
def task_create(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = plan_get_for_user(user=request.user, plan_id=plan_id)
    can_edit = user_can(user=request.user, team_id=plan.team_id, action=Action.EDIT_PLAN)
    form = TaskForm(request.POST or None, plan=plan, initial={"status": TaskStatus.TODO})
    if request.method == "POST":
        check_team_action(user=request.user, team_id=plan.team_id, action=Action.EDIT_PLAN)
        if form.is_valid():
            try:
                services.task_create(plan=plan, by=request.user, **_task_kwargs(form))
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("Task added."))
                if "another" in request.POST:
                    return redirect("task_create", plan_id=plan.pk)
                return redirect(f"/plans/{plan.pk}/#tasks")
    return render(
        request,
        "plans/task_form.html",
        {"plan": plan, "form": form, "can_edit": can_edit, "task": None},
        status=400 if form.is_bound else 200,
    )


@login_required
def task_detail(request: HttpRequest, task_id: int) -> HttpResponse:
    """The task and its checklist; the edit form for those who may edit the plan."""
    task = selectors.task_get_for_user(user=request.user, task_id=task_id)
    plan = task.plan
    can_edit = user_can(user=request.user, team_id=plan.team_id, action=Action.EDIT_PLAN)
    checklist = list(task.checklist.all())
    initial = {
        "title": task.title,
        "description": task.description,
        "milestone": task.milestone_id,
        "assignee": task.assignee_id,
        "due_on": task.due_on,
        "status": task.status,
        "checklist": "\n".join(i.text for i in checklist),
        "version": task.version,
    }
    status, current = 200, None
    if request.method == "POST":
        check_team_action(user=request.user, team_id=plan.team_id, action=Action.EDIT_PLAN)
        form = TaskForm(request.POST, plan=plan)
        status = 400
        if form.is_valid():
            try:
                services.task_update(
                    task=task,
                    version=form.cleaned_data["version"] or 0,
                    by=request.user,
                    **_task_kwargs(form),
                )
            except StaleEdit as stale:
                current, status = stale.current, 409
                if current is None:
                    form.add_error(None, _("Someone deleted this task meanwhile."))
                    can_edit = False
                else:
                    data = request.POST.copy()
                    data["version"] = current.version
                    form = TaskForm(data, plan=plan)
                    form.is_valid()
                    current.checklist_text = "\n".join(i.text for i in current.checklist.all())
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("Task saved."))
                return redirect("task_detail", task_id=task.pk)
    else:
        form = TaskForm(initial=initial, plan=plan)
    return render(
        request,
        "plans/task_detail.html",
        {
            "plan": plan,
            "task": task,
            "checklist": checklist,
            "form": form,
            "can_edit": can_edit,
            "can_work": selectors.may_work_on(user=request.user, task=task),
            "statuses": TaskStatus.choices,
            "current": current,
        },
        status=status,
    )


@login_required
@require_POST
def task_delete(request: HttpRequest, task_id: int) -> HttpResponse:
    task = selectors.task_get_for_user(user=request.user, task_id=task_id, action=Action.EDIT_PLAN)
    plan_id = task.plan_id
    services.task_delete(task=task, by=request.user)
    if request.htmx:
        return HttpResponse("")
    messages.success(request, _("Task deleted."))
    return redirect(f"/plans/{plan_id}/#tasks")


# Where an in-place change came from (the plan page, My tasks, the dashboard) decides
# which kind of row comes back: the rows' template has one of each.
ROW_MODES = ("plan", "mine", "dash")
TASK_ROWS = "plans/task_rows.jinja"


def _row(request: HttpRequest, task, *, error: str = "", status: int = 200) -> HttpResponse:
    """The task's row again (plan page, My tasks or dashboard, as the form says)."""
    mode = request.POST.get("mode") if request.POST.get("mode") in ROW_MODES else "plan"
    # The row's pickers carry only the current value: the page holds their options.
    rows = selectors.task_rows(tasks=[task], user=request.user)
    context = {"tasks": rows, "mode": mode, "error": error}
    return render(request, TASK_ROWS, context, status=status, using="jinja2")


def _back(request: HttpRequest, task, error: str = "") -> HttpResponse:
    if error:
        messages.error(request, error)
    if request.POST.get("mode") == "mine":
        return redirect("my_tasks")
    if request.POST.get("mode") == "dash":
        return redirect("dashboard")
    if request.POST.get("mode") == "task":
        return redirect("task_detail", task_id=task.pk)
    return redirect(f"/plans/{task.plan_id}/#tasks")


@login_required
@require_POST
def task_status(request: HttpRequest, task_id: int) -> HttpResponse:
    """Move a task to another status in place (assignee or planner)."""
    task = selectors.task_get_for_work(user=request.user, task_id=task_id)
    form = TaskStatusForm(request.POST)
    error = ""
    if form.is_valid():
        services.task_set_status(task=task, status=form.cleaned_data["status"], by=request.user)
    else:
        error = _("Choose a valid status.")
    if request.htmx:
        return _row(request, task, error=error, status=400 if error else 200)
    return _back(request, task, error)


@login_required
@require_POST
def task_assign(request: HttpRequest, task_id: int) -> HttpResponse:
    """Give a task to another team member in place."""
    task = selectors.task_get_for_user(user=request.user, task_id=task_id, action=Action.EDIT_PLAN)
    form = TaskAssignForm(request.POST, plan=task.plan)
    error = ""
    if form.is_valid():
        try:
            services.task_assign(task=task, assignee=form.cleaned_data["assignee"], by=request.user)
        except ValidationError as exc:
            error = " ".join(exc.messages)
    else:
        error = _("Choose a member of the team.")
    if request.htmx:
        return _row(request, task, error=error, status=400 if error else 200)
    return _back(request, task, error)


@login_required
@require_POST
def checklist_toggle(request: HttpRequest, item_id: int) -> HttpResponse:
    """Tick or untick one checklist line (assignee or planner)."""
    item = selectors.checklist_item_get_for_work(user=request.user, item_id=item_id)
    services.checklist_item_toggle(item=item, done=request.POST.get("done") == "1", by=request.user)
    if request.htmx:
        return render(
            request, "plans/partials/_checklist_item.html", {"item": item, "can_work": True}
        )
    return redirect("task_detail", task_id=item.task_id)


@login_required
@require_safe
def plan_task_rows(request: HttpRequest, plan_id: int) -> HttpResponse:
    """The plan page's task table filtered (offset 0: the whole list with its count) or
    its next page of rows (as the user scrolls to the end or asks for more). One page
    each time: the filter form's `shown` is for the card's live refresh, and a list
    filtered anew starts at its first page."""
    plan = plan_get_for_user(user=request.user, plan_id=plan_id)
    filters = selectors.TaskFilters.from_query(request.GET)
    context = selectors.plan_task_rows(plan=plan, user=request.user, filters=filters)
    if filters.offset:
        return render(request, TASK_ROWS, {**context, "mode": "plan"}, using="jinja2")
    return render(request, "plans/task_list.jinja", context, using="jinja2")


@login_required
@require_safe
def my_tasks(request: HttpRequest) -> HttpResponse:
    """Open tasks assigned to me across all my teams' plans, due soonest first."""
    return render(request, "plans/my_tasks.html", selectors.my_tasks_page(user=request.user))

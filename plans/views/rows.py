"""The plan page's milestone, window and task rows edited in place (htmx): the row's
Edit swaps in its form, Save swaps back the saved row, Cancel the row as it was.

Like the document's sections (plans.views.document), a save merges rather than
refuses: the form carries each field's value when the editor opened (hidden
`base-NAME` inputs); a field the user did not change is never written, one only
they changed is saved, and one someone else changed too gets the section merge
view (plans/partials/_merge.html) for that field only. The full pages (milestone
form, window and task detail) stay as they are, for no-JS and the fields a row
does not edit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from patchplan.teams.roles import Action
from plans.forms.plans import MilestoneForm
from plans.forms.tasks import TaskForm
from plans.forms.windows import WindowForm
from plans.models import MaintenanceWindow, Milestone, Task
from plans.selectors import plans as plan_selectors
from plans.selectors import tasks as task_selectors
from plans.selectors import windows as window_selectors
from plans.services import plans as plan_services
from plans.services import tasks as task_services
from plans.services import windows as window_services
from plans.services.plans import FieldConflict, _comparable
from plans.views.document import _as_input, merge_rows


@dataclass(frozen=True)
class RowKind:
    name: str
    # The fields the row's editor shows; the full page edits the others.
    fields: tuple[str, ...]
    get: Callable  # (user, pk, action) -> object of the user's teams (404 outside them)
    model: type
    form: Callable  # (obj, **kwargs) -> the full page's form class, bound or not
    values: Callable  # obj -> {field: value as the form cleans it}, every field the service takes
    save: Callable  # (obj, values, by) -> obj, through the full page's service
    row: Callable  # (request, obj) -> the row's HTML as the plan page shows it
    full_url: Callable  # obj -> the full edit page (no-JS)
    tag: str = "tr"
    colspan: int = 1
    # The row's id on the plan page: "{name}-{pk}" unless that is taken (the sign-off
    # panel's milestone cards are "milestone-{pk}").
    id_format: str = "{name}-{pk}"

    def row_id(self, pk: int) -> str:
        return self.id_format.format(name=self.name, pk=pk)


# --- milestones ---------------------------------------------------------------------


def _milestone_values(m: Milestone) -> dict:
    return {
        "name": m.name,
        "starts_on": m.starts_on,
        "due_on": m.due_on,
        "signoff_roles": m.signoff_roles,
        "signoff_users": list(m.signoff_users.all()),
        "signoff_count": m.signoff_count,
    }


def _milestone_row(request, m: Milestone) -> str:
    rows = plan_selectors.milestone_rows(plan_selectors.plan_milestones(plan=m.plan))
    return render_to_string(
        "plans/milestone_items.jinja",
        {"milestones": [r for r in rows if r.pk == m.pk], "can_edit": True},
        request=request,
        using="jinja2",
    )


# --- windows ------------------------------------------------------------------------


def _window_values(w: MaintenanceWindow) -> dict:
    entries = w.windowserver_set.select_related("server")
    return {
        "title": w.title,
        "starts_at": timezone.localtime(w.starts_at),
        "ends_at": timezone.localtime(w.ends_at),
        "milestone": w.milestone,
        "downtimes": {e.server: e.expected_downtime_minutes for e in entries},
    }


def _window_row(request, w: MaintenanceWindow) -> str:
    data = window_selectors.windows_card(plan=w.plan, user=request.user)
    data["windows"] = [r for r in data["windows"] if r.pk == w.pk]
    return render_to_string("plans/window_rows.jinja", data, request=request, using="jinja2")


# --- tasks --------------------------------------------------------------------------


def _task_values(t: Task) -> dict:
    return {
        "title": t.title,
        "description": t.description,
        "milestone": t.milestone,
        "assignee": t.assignee,
        "due_on": t.due_on,
        "status": t.status,
        # Lines kept keep their ticks (task_update's _set_checklist).
        "checklist": [i.text for i in t.checklist.all()],
    }


def _task_row(request, t: Task) -> str:
    rows = task_selectors.task_rows(tasks=[t], user=request.user)
    return render_to_string(
        "plans/task_rows.jinja", {"tasks": rows, "mode": "plan"}, request=request, using="jinja2"
    )


KINDS: dict[str, RowKind] = {
    k.name: k
    for k in (
        RowKind(
            name="milestone",
            fields=("name", "starts_on", "due_on"),
            get=lambda user, pk, action: plan_selectors.milestone_get_for_user(
                user=user, milestone_id=pk, action=action
            ),
            model=Milestone,
            form=lambda obj, **kw: MilestoneForm(team_id=obj.plan.team_id, **kw),
            values=_milestone_values,
            save=lambda obj, values, by: plan_services.milestone_update(
                milestone=obj, version=obj.version, by=by, **values
            ),
            row=_milestone_row,
            full_url=lambda obj: reverse("milestone_edit", args=[obj.pk]),
            tag="li",
            id_format="{name}-row-{pk}",
        ),
        RowKind(
            name="window",
            fields=("title", "starts_at", "ends_at", "milestone"),
            get=lambda user, pk, action: window_selectors.window_get_for_user(
                user=user, window_id=pk, action=action
            ),
            model=MaintenanceWindow,
            form=lambda obj, **kw: WindowForm(plan=obj.plan, **kw),
            values=_window_values,
            save=lambda obj, values, by: window_services.window_update(
                window=obj, version=obj.version, by=by, **values
            ),
            row=_window_row,
            full_url=lambda obj: reverse("window_detail", args=[obj.pk]),
            colspan=5,
        ),
        RowKind(
            name="task",
            fields=("title", "milestone", "assignee", "due_on", "status", "description"),
            get=lambda user, pk, action: task_selectors.task_get_for_user(
                user=user, task_id=pk, action=action
            ),
            model=Task,
            form=lambda obj, **kw: TaskForm(plan=obj.plan, **kw),
            values=_task_values,
            save=lambda obj, values, by: task_services.task_update(
                task=obj, version=obj.version, by=by, **values
            ),
            row=_task_row,
            full_url=lambda obj: reverse("task_detail", args=[obj.pk]),
            colspan=6,
        ),
    )
}


def _kind(name: str) -> RowKind:
    kind = KINDS.get(name)
    if kind is None:
        raise Http404("No such row.")
    return kind


def _form(kind: RowKind, obj, *, row_id: str, data=None, prefix=None):
    """The full page's form, with only the fields the row edits."""
    kwargs = {"auto_id": f"{row_id}-%s", "prefix": prefix}
    if data is not None:
        kwargs["data"] = data
    form = kind.form(obj, **kwargs)
    form.fields = {n: form.fields[n] for n in kind.fields}
    return form


def _key(name: str, value):
    """A value as it compares: a time to the minute (the form's input has no seconds)."""
    if isinstance(value, datetime):
        return timezone.localtime(value).replace(second=0, microsecond=0)
    return _comparable(name, value)


def _inputs(kind: RowKind, values: dict) -> dict[str, str]:
    return {n: _as_input(n, values[n]) for n in kind.fields}


def _render(request, kind, obj, *, mode, form=None, base=None, rows=(), saved=(), status=200):
    row_id = kind.row_id(obj.pk)
    url = reverse("plan_row", args=[kind.name, obj.pk])
    context = {
        "kind": kind,
        "obj": obj,
        "plan": obj.plan,
        "row_id": row_id,
        "url": url,
        "full_url": kind.full_url(obj),
        "mode": mode,
        "form": form,
        "base": base or {},
        "rows": rows,
        "saved_labels": [str(form.fields[n].label) for n in saved] if form else [],
    }
    return render(request, "plans/partials/_row_editor.html", context, status=status)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def plan_row(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """A milestone, window or task row of the plan page: shown, its editor (?edit=1),
    or saved. Another team's row is a 404; a role that may not edit, a 403."""
    kind = _kind(kind)
    editing = request.method == "POST" or request.GET.get("edit")
    obj = kind.get(request.user, pk, Action.EDIT_PLAN if editing else Action.VIEW)
    row_id = kind.row_id(obj.pk)
    if not request.htmx and request.method != "POST":
        return redirect(kind.full_url(obj))
    if not editing:
        return HttpResponse(kind.row(request, obj))
    if request.method != "POST":
        form = _form(kind, obj, row_id=row_id, data=None)
        current = kind.values(obj)
        form.initial = {n: current[n] for n in kind.fields}
        first = form.fields[kind.fields[0]]
        first.widget.attrs["autofocus"] = True
        return _render(request, kind, obj, mode="edit", form=form, base=_inputs(kind, current))
    return _save(request, kind, obj, row_id)


def _save(request, kind: RowKind, obj, row_id: str) -> HttpResponse:
    with transaction.atomic():
        # Locked: nobody saves this row between the merge and the write.
        list(kind.model.objects.select_for_update().filter(pk=obj.pk).values_list("pk"))
        obj.refresh_from_db()
        theirs = kind.values(obj)
        now = _inputs(kind, theirs)
        # A field posted without its base value is not the user's edit (a merge view's
        # form posts only its field): it reads as the saved value, so it is not written.
        edited = [n for n in kind.fields if f"base-{n}" in request.POST and n in request.POST]
        data = {n: request.POST[n] if n in edited else now[n] for n in kind.fields}
        base_data = {
            f"base-{n}": request.POST[f"base-{n}"] if n in edited else now[n] for n in kind.fields
        }
        form = _form(kind, obj, row_id=row_id, data=data)
        base_form = _form(kind, obj, row_id=f"base-{row_id}", data=base_data, prefix="base")
        base_inputs = {n: base_data[f"base-{n}"] for n in kind.fields}
        if not form.is_valid():
            return _render(request, kind, obj, mode="edit", form=form, base=base_inputs, status=400)
        # A base that no longer cleans (a member who left) compares as empty: a
        # change to that field then reads as someone else's and is merged.
        base_form.is_valid()
        saved, conflicts, values = [], [], dict(theirs)
        for n in kind.fields:
            mine, base, now_value = (
                form.cleaned_data[n],
                base_form.cleaned_data.get(n),
                theirs[n],
            )
            if _key(n, mine) == _key(n, base):
                continue  # not the user's change: never written
            if _key(n, now_value) in (_key(n, base), _key(n, mine)):
                values[n] = mine
                saved.append(n)
            else:
                conflicts.append(FieldConflict(field=n, base=base, mine=mine, theirs=now_value))
        if saved:
            try:
                with transaction.atomic():
                    obj = kind.save(obj, values, request.user)
            except ValidationError as exc:
                form.add_error(None, exc.messages)
                return _render(
                    request, kind, obj, mode="edit", form=form, base=base_inputs, status=400
                )
            except (plan_services.StaleEdit, window_services.StaleEdit):
                # Under the lock the version holds: only a cancelled window lands here.
                form.add_error(
                    None, _("This can no longer be changed here (cancelled or removed).")
                )
                return _render(
                    request, kind, obj, mode="edit", form=form, base=base_inputs, status=400
                )
    if conflicts:
        url = reverse("plan_row", args=[kind.name, obj.pk])
        rows = merge_rows(obj.plan, form, conflicts, url=url, target=f"#{row_id}")
        return _render(request, kind, obj, mode="merge", form=form, rows=rows, saved=saved)
    if not request.htmx:
        return redirect(reverse("plan_detail", args=[obj.plan_id]) + f"#{row_id}")
    return HttpResponse(kind.row(request, obj))

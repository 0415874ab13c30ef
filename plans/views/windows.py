"""Maintenance window pages: create, view/edit (with the checks), cancel, suggest."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from patchplan.teams.roles import Action
from patchplan.teams.selectors import check_team_action, user_can
from plans.checks import window_problems
from plans.forms.windows import SuggestForm, WindowForm
from plans.selectors.plans import plan_get_for_user
from plans.selectors.windows import window_get_for_user
from plans.services import windows as services
from plans.suggest import suggest_windows


def _initial(window) -> dict:
    entries = list(window.windowserver_set.all())
    return {
        "title": window.title,
        "starts_at": timezone.localtime(window.starts_at),
        "ends_at": timezone.localtime(window.ends_at),
        "milestone": window.milestone_id,
        "servers": [e.server_id for e in entries],
        "version": window.version,
    }, {e.server_id: e.expected_downtime_minutes for e in entries}


def _save(form: WindowForm, *, plan, by, window=None):
    data = form.cleaned_data
    kwargs = {
        "title": data["title"],
        "starts_at": data["starts_at"],
        "ends_at": data["ends_at"],
        "milestone": data["milestone"],
        "downtimes": form.downtimes(),
        "by": by,
    }
    if window is None:
        return services.window_create(plan=plan, **kwargs)
    return services.window_update(window=window, version=data["version"] or 0, **kwargs)


@login_required
def window_create(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = plan_get_for_user(user=request.user, plan_id=plan_id)
    can_edit = user_can(user=request.user, team_id=plan.team_id, action=Action.EDIT_PLAN)
    form = WindowForm(request.POST or None, plan=plan)
    if request.method == "POST":
        check_team_action(user=request.user, team_id=plan.team_id, action=Action.EDIT_PLAN)
        if form.is_valid():
            try:
                window = _save(form, plan=plan, by=request.user)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("Window scheduled."))
                return redirect("window_detail", window_id=window.pk)
    return render(
        request,
        "plans/window_form.html",
        {"plan": plan, "form": form, "can_edit": can_edit, "window": None},
        status=400 if form.is_bound else 200,
    )


@login_required
def window_detail(request: HttpRequest, window_id: int) -> HttpResponse:
    """The window with its checks; the edit form for those who may edit."""
    window = window_get_for_user(user=request.user, window_id=window_id)
    plan = window.plan
    can_edit = (
        user_can(user=request.user, team_id=plan.team_id, action=Action.EDIT_PLAN)
        and window.cancelled_at is None
    )
    initial, downtimes = _initial(window)
    status, current = 200, None
    if request.method == "POST":
        check_team_action(user=request.user, team_id=plan.team_id, action=Action.EDIT_PLAN)
        form = WindowForm(request.POST, plan=plan, downtimes=downtimes)
        status = 400
        if window.cancelled_at is not None:
            form.add_error(None, _("This window was cancelled; it can't be changed."))
        elif form.is_valid():
            try:
                window = _save(form, plan=plan, by=request.user, window=window)
            except services.StaleEdit as stale:
                current = stale.current
                status = 409
                if current is None or current.cancelled_at is not None:
                    form.add_error(None, _("Someone cancelled this window meanwhile."))
                    can_edit = False
                else:
                    # Keep the user's input; the next save knowingly overwrites this version.
                    data = request.POST.copy()
                    data["version"] = current.version
                    form = WindowForm(data, plan=plan, downtimes=downtimes)
                    form.is_valid()
                    current.entries = list(current.windowserver_set.select_related("server"))
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("Window saved."))
                return redirect("window_detail", window_id=window.pk)
    else:
        form = WindowForm(initial=initial, plan=plan, downtimes=downtimes)
    entries = list(window.windowserver_set.select_related("server").order_by("server__hostname"))
    return render(
        request,
        "plans/window_detail.html",
        {
            "plan": plan,
            "window": window,
            "entries": entries,
            # "after the staging test" is said only of a window with production servers.
            "has_production": any(e.server.environment == "production" for e in entries),
            "problems": window_problems(window),
            "form": form,
            "can_edit": can_edit,
            "current": current,
        },
        status=status,
    )


@login_required
@require_POST
def window_cancel(request: HttpRequest, window_id: int) -> HttpResponse:
    window = window_get_for_user(user=request.user, window_id=window_id, action=Action.EDIT_PLAN)
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        version = window.version
    try:
        services.window_cancel(window=window, version=version, by=request.user)
    except services.StaleEdit:
        messages.error(
            request, _("The window changed or was cancelled meanwhile: look again, then cancel.")
        )
        return redirect("window_detail", window_id=window.pk)
    messages.success(request, _("Window cancelled."))
    return redirect("plan_detail", plan_id=window.plan_id)


@login_required
@require_safe
def window_suggest(request: HttpRequest, plan_id: int) -> HttpResponse:
    """Free slots for the chosen servers (htmx: the list the form's button fills)."""
    plan = plan_get_for_user(user=request.user, plan_id=plan_id)
    data = request.GET.copy()
    data.setdefault("length", "120")
    form = SuggestForm(data, plan=plan)
    slots = []
    if form.is_valid():
        exclude = request.GET.get("window")
        slots = suggest_windows(
            plan=plan,
            servers=list(form.cleaned_data["servers"]),
            length=form.duration,
            # Never before now: a start-after in the past means "the next free slot".
            after=max(form.cleaned_data["after"] or timezone.now(), timezone.now()),
            exclude_window_id=int(exclude) if exclude and exclude.isdecimal() else None,
        )
    return render(
        request,
        "plans/partials/_window_suggestions.html",
        {
            "form": form,
            "slots": slots,
            "zone": timezone.get_current_timezone_name(),
        },
        status=200 if form.is_valid() else 400,
    )

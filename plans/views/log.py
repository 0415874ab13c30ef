"""The execution log: entries with their edit history."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from patchplan.teams.roles import Action
from patchplan.teams.selectors import check_team_action, get_for_user, user_can
from plans.choices import RECORDED_LOG_KINDS
from plans.forms.log import LogEditForm, LogEntryForm
from plans.models import LogEntry
from plans.selectors.plans import plan_get_for_user
from plans.selectors.report import plan_log
from plans.services import log as services


def _page(request, plan, *, form=None, status=200) -> HttpResponse:
    return render(
        request,
        "plans/log_page.html",
        {
            "plan": plan,
            "entries": plan_log(plan=plan),
            "form": form or LogEntryForm(plan=plan),
            "can_execute": user_can(user=request.user, team_id=plan.team_id, action=Action.EXECUTE),
        },
        status=status,
    )


@login_required
@require_safe
def log_page(request: HttpRequest, plan_id: int) -> HttpResponse:
    """All log entries of the plan, oldest first, "edited" ones with their history."""
    plan = plan_get_for_user(user=request.user, plan_id=plan_id)
    return _page(request, plan)


@login_required
@require_POST
def log_create(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = plan_get_for_user(user=request.user, plan_id=plan_id, action=Action.EXECUTE)
    form = LogEntryForm(request.POST, plan=plan)
    if form.is_valid():
        try:
            entry = services.log_entry_add(plan=plan, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Log entry added."))
            return redirect(f"/plans/{plan.pk}/log/#entry-{entry.pk}")
    return _page(request, plan, form=form, status=400)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def log_entry_detail(request: HttpRequest, plan_id: int, entry_id: int) -> HttpResponse:
    """One entry with its history; its edit form for those who may write the log."""
    entry = get_for_user(
        LogEntry.objects.select_related("plan__team", "author", "window", "server"),
        user=request.user,
        team_field="plan__team",
        pk=entry_id,
        plan_id=plan_id,
    )
    plan = entry.plan
    can_edit = entry.kind not in RECORDED_LOG_KINDS and user_can(
        user=request.user, team_id=plan.team_id, action=Action.EXECUTE
    )
    status = 200
    if request.method == "POST":
        check_team_action(user=request.user, team_id=plan.team_id, action=Action.EXECUTE)
        form = LogEditForm(request.POST)
        status = 400
        if form.is_valid():
            try:
                services.log_entry_edit(entry=entry, by=request.user, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("Log entry saved; the earlier text is kept."))
                return redirect(f"/plans/{plan.pk}/log/#entry-{entry.pk}")
    else:
        form = LogEditForm(initial={"kind": entry.kind, "body": entry.body})
    revisions = entry.revisions.select_related("edited_by").order_by("edited_at", "pk")
    return render(
        request,
        "plans/log_entry.html",
        {"plan": plan, "entry": entry, "revisions": revisions, "form": form, "can_edit": can_edit},
        status=status,
    )

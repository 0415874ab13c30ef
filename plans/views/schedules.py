"""Scheduling a template as a recurring plan (issue 16): one POST, answered
with the schedules card (htmx) or a redirect back to the template."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from patchplan.teams.roles import Action
from plans.forms.schedules import ScheduleForm
from plans.selectors import plans as selectors
from plans.services import schedules as services


@login_required
@require_POST
def schedule_create(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = selectors.plan_get_for_user(user=request.user, plan_id=plan_id, action=Action.EDIT_PLAN)
    form = ScheduleForm(request.POST)
    if form.is_valid():
        try:
            services.schedule_create(template=plan, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
    ok = form.is_bound and not form.errors
    if request.htmx:
        context = {
            "plan": plan,
            "schedules": selectors.schedules_of(plan=plan),
            "schedule_form": ScheduleForm(initial={"starts_on": timezone.localdate()})
            if ok
            else form,
            "scheduled": ok,
            "can_edit": True,  # the access check above asked for EDIT_PLAN
        }
        return render(request, "plans/partials/_schedules.html", context, status=200 if ok else 400)
    if ok:
        messages.success(request, _("Scheduled: a plan will be made for each date."))
    else:
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
    return redirect(reverse("plan_detail", args=[plan.pk]) + "#schedules")

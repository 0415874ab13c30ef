"""Plan pages: list, create/edit/delete, status moves, scope, milestones,
comments and activity, YAML import/export, templates. Thin: fetch through an
access selector, bind a form, call a service, render or redirect."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST, require_safe

from patchplan.teams.roles import Action
from patchplan.teams.selectors import (
    check_team_action,
    mention_candidates,
    role_in_team,
    user_can,
)
from plans import live, workflow, yaml_io
from plans.choices import PlanKind, PlanStatus, Risk
from plans.forms.plans import (
    CommentForm,
    FromTemplateForm,
    MilestoneAddForm,
    MilestoneForm,
    MilestonesImportForm,
    PlanForm,
    PlanImportForm,
    SaveTemplateForm,
    ScopeChangeForm,
    ScopeFindForm,
    TransitionForm,
)
from plans.selectors import plans as selectors
from plans.services import plans as services
from servers import selectors as server_selectors
from servers.forms import FleetSearchForm

# --- list ---------------------------------------------------------------------


def _team(request: HttpRequest):
    if request.team is None:
        raise Http404("You are not in a team yet.")
    return request.team


def _list(request: HttpRequest, *, templates: bool) -> HttpResponse:
    team = _team(request)
    filters = selectors.PlanFilters.from_query(request.GET, templates=templates)
    plans = selectors.plans_filtered(user=request.user, team=team, filters=filters)
    page = Paginator(plans, selectors.PAGE_SIZE).get_page(request.GET.get("page"))
    # Labels from plain dicts: Model.get_FOO_display() re-hashes the lazy choices
    # on every call, a third of this page's time at 50 rows.
    page.object_list = list(page.object_list)
    selectors.server_counts(page.object_list)
    kinds, statuses, risks = dict(PlanKind.choices), dict(PlanStatus.choices), dict(Risk.choices)
    for p in page.object_list:
        p.kind_label, p.status_label = kinds.get(p.kind), statuses.get(p.status)
        p.risk_label = risks.get(p.risk)
    return render(
        request,
        "plans/plan_list.html",
        {
            "page": page,
            "filters": filters,
            "query": filters.as_query(),
            "templates": templates,
            "today": timezone.localdate(),
            # Reversed once, not once a row.
            "plan_link": reverse("plan_detail", args=[0]).replace("/0/", "/{}/"),
            "owners": selectors.team_owners(team=team),
            "statuses": PlanStatus.choices,
            "kinds": PlanKind.choices,
            "risks": Risk.choices,
            "can_edit": user_can(user=request.user, team_id=team.pk, action=Action.EDIT_PLAN),
        },
    )


@login_required
@require_safe
def plan_list(request: HttpRequest) -> HttpResponse:
    return _list(request, templates=False)


@login_required
@require_safe
def template_list(request: HttpRequest) -> HttpResponse:
    return _list(request, templates=True)


@login_required
@require_safe
def plan_picker(request: HttpRequest) -> HttpResponse:
    """The <option>s of the server list's "add to plan" picker, loaded when the user
    opens it rather than with every page of the server list."""
    if request.team is None:
        raise Http404("You are not in a team yet.")
    check_team_action(user=request.user, team_id=request.team.pk, action=Action.EDIT_PLAN)
    plans = selectors.plans_open_for_scope(user=request.user, team=request.team)[:200]
    return render(request, "plans/partials/_plan_picker_options.html", {"plans": plans})


# --- the plan document --------------------------------------------------------


def _fleet_servers(request: HttpRequest, team, params) -> tuple[str, list]:
    """A fleet search carried in `params` (package, below, environment): its query string
    and its servers, so a plan can start from the answer."""
    fleet = FleetSearchForm({k: params.get(k, "") for k in ("name", "below", "environment")})
    if not fleet.is_valid() or not fleet.cleaned_data["name"]:
        return "", []
    data = fleet.cleaned_data
    servers = list(
        server_selectors.fleet_servers(
            user=request.user,
            team=team,
            name=data["name"],
            below=data["below"],
            environment=data["environment"],
        )
    )
    query = urlencode({k: v for k, v in data.items() if v})
    return query, servers


@login_required
def plan_create(request: HttpRequest) -> HttpResponse:
    team = _team(request)
    check_team_action(user=request.user, team_id=team.pk, action=Action.EDIT_PLAN)
    # "New plan with these servers" from a fleet search: the search rides along in the
    # query string and is run again on save, so the scope is what the search finds then.
    fleet_query, fleet_servers = _fleet_servers(request, team, request.GET)
    initial = {"owner": request.user.pk}
    if fleet_query:
        initial["packages"] = request.GET.get("name", "")  # the package searched for
    form = PlanForm(request.POST or None, team_id=team.pk, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            plan = services.plan_create(
                team=team, by=request.user, servers=fleet_servers, **form.service_fields()
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Plan created with the default milestones."))
            return redirect("plan_detail", plan_id=plan.pk)
    return render(
        request,
        "plans/plan_form.html",
        {
            "form": form,
            "plan": None,
            "can_edit": True,
            "fleet_query": fleet_query,
            "fleet_servers": fleet_servers,
        },
        status=400 if form.is_bound else 200,
    )


@login_required
@require_POST
def plan_scope_from_fleet(request: HttpRequest) -> HttpResponse:
    """ "Add these servers to a plan": a fleet search's servers into a chosen plan's scope."""
    team = _team(request)
    try:
        plan_id = int(request.POST.get("plan", ""))
    except ValueError:
        raise Http404("No such plan.") from None
    plan = selectors.plan_get_for_user(user=request.user, plan_id=plan_id, action=Action.EDIT_PLAN)
    if plan.team_id != team.pk:
        raise Http404("No such plan.")
    _query, servers = _fleet_servers(request, team, request.POST)
    n = services.plan_scope_add(plan=plan, servers=servers, by=request.user)
    messages.success(
        request,
        ngettext("%(n)d server added to the scope.", "%(n)d servers added to the scope.", n)
        % {"n": n},
    )
    # The scope picker shows the same search, each server marked "in scope".
    picker = {
        "package": request.POST.get("name", ""),
        "below": request.POST.get("below", ""),
        "environment": request.POST.get("environment", ""),
    }
    return redirect(reverse("plan_scope", args=[plan.pk]) + "?" + urlencode(picker))


@login_required
@require_safe
def plan_detail(request: HttpRequest, plan_id: int) -> HttpResponse:
    # The live counter before the plan: a save between the two reads is then fetched
    # by the page's first poll rather than missed.
    # As JSON in a data attribute: the CSP forbids inline <script>, data ones too.
    live_rev, live_sections = live.page_state(plan_id)
    plan = selectors.plan_get_for_user(user=request.user, plan_id=plan_id)
    context = {
        **selectors.plan_page(plan=plan, user=request.user),
        "comment_form": CommentForm(),
        "milestone_add_form": MilestoneAddForm(),
        "milestones_import_form": MilestonesImportForm(),
        "today": timezone.localdate(),
        "sections": live.SECTIONS,
        # The counter the page's poll starts from: changes after it are fetched.
        "live_rev": live_rev,
        "live_sections": live_sections,
    }
    if plan.is_template:
        from plans.forms.schedules import ScheduleForm

        context["schedules"] = selectors.schedules_of(plan=plan)
        context["schedule_form"] = ScheduleForm(initial={"starts_on": timezone.localdate()})
    return render(request, "plans/plan_detail.html", context)


@login_required
@require_safe
def plan_scope_rows(request: HttpRequest, plan_id: int) -> HttpResponse:
    """The next page of the plan page's scope table (as the user scrolls to its end)."""
    plan = selectors.plan_get_for_user(user=request.user, plan_id=plan_id)
    offset = request.GET.get("offset", "")
    offset = int(offset) if offset.isdecimal() and len(offset) < 7 else 0
    context = selectors.plan_scope_rows(plan=plan, offset=offset)
    return render(request, "plans/scope_rows.jinja", context, using="jinja2")


def _conflict(request, *, form, current, template, **extra):
    """A stale save: the current values beside the user's own, their input kept, and
    the form now carrying the current version (saving again overwrites knowingly)."""
    data = form.data.copy()
    data["version"] = current.version
    rows = []
    for name, field in form.fields.items():
        if name == "version" or name not in form.cleaned_data:
            continue
        theirs = form.cleaned_data.get(name)
        if name == "references":
            now = "\n".join(r.identifier or r.url for r in current.references.all())
            theirs = "\n".join(r.identifier or r.url for r in theirs or [])
        elif name == "packages" and hasattr(current, "packages"):
            now, theirs = " ".join(current.packages or []), " ".join(theirs or [])
        else:
            now = getattr(current, name, "")
            labels = (
                dict(field.choices)
                if hasattr(field, "choices") and not hasattr(field, "queryset")
                else {}
            )
            if labels and isinstance(now, str) and isinstance(theirs, str):
                now, theirs = labels.get(now, now), labels.get(theirs, theirs)
        if hasattr(now, "all"):
            now = ", ".join(str(x) for x in now.all())
            theirs = ", ".join(str(x) for x in theirs or [])
        rows.append(
            {
                "label": field.label,
                "current": now or "",
                "yours": theirs or "",
                "same": now == theirs,
            }
        )
    form = form.__class__(data, **extra)
    return render(
        request,
        template,
        {"form": form, "rows": rows, "current": current, "can_edit": True},
        status=409,
    )


@login_required
def plan_edit(request: HttpRequest, plan_id: int) -> HttpResponse:
    """The whole plan document on one page (without JavaScript, and for the title and
    owner): saved like a section, only the fields the user changed, merging."""
    from plans.views.document import document_save, merge_rows

    plan = selectors.plan_get_for_user(user=request.user, plan_id=plan_id)
    can_edit = user_can(user=request.user, team_id=plan.team_id, action=Action.EDIT_PLAN)
    kwargs = {"team_id": plan.team_id, "is_template": plan.is_template}
    if request.method != "POST":
        form = PlanForm(instance=plan, **kwargs)
        base_form = PlanForm(instance=plan, prefix="base", **kwargs)
        context = {"form": form, "base_form": base_form, "plan": plan, "can_edit": can_edit}
        return render(request, "plans/plan_form.html", context)
    check_team_action(user=request.user, team_id=plan.team_id, action=Action.EDIT_PLAN)
    try:
        form, result = document_save(request, plan, fields=list(live.SECTION_OF_FIELD))
    except services.Gone:
        return render(request, "plans/plan_gone.html", {}, status=410)
    if result is not None and result.conflicts:
        rows = merge_rows(result.plan, form, result.conflicts)
        context = {"plan": result.plan, "rows": rows, "section": None, "mode": "merge"}
        return render(request, "plans/plan_section_page.html", context, status=409)
    if result is not None:
        messages.success(request, _("Plan saved."))
        return redirect("plan_detail", plan_id=plan.pk)
    base_form = PlanForm(request.POST, prefix="base", **kwargs)
    return render(
        request,
        "plans/plan_form.html",
        {"form": form, "base_form": base_form, "plan": plan, "can_edit": True},
        status=400,
    )


@login_required
@require_POST
def plan_delete(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = selectors.plan_get_for_user(user=request.user, plan_id=plan_id, action=Action.EDIT_PLAN)
    try:
        services.plan_delete(plan=plan, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("plan_detail", plan_id=plan.pk)
    messages.success(request, _("“%(title)s” deleted.") % {"title": plan.title})
    return redirect("template_list" if plan.is_template else "plan_list")


@login_required
@require_POST
def plan_transition(request: HttpRequest, plan_id: int) -> HttpResponse:
    # Membership (404) here, and a role that makes no move at all (403); which role
    # may make which move is the workflow table's call, inside the service.
    plan = selectors.plan_get_for_user(user=request.user, plan_id=plan_id)
    if not workflow.may_move_plans(role_in_team(user=request.user, team_id=plan.team_id)):
        raise PermissionDenied(_("Your role may not change a plan's status."))
    form = TransitionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a status."))
        return redirect("plan_detail", plan_id=plan.pk)
    try:
        services.plan_transition(
            plan=plan,
            to_status=form.cleaned_data["to_status"],
            note=form.cleaned_data["note"],
            by=request.user,
        )
    except ValueError:
        messages.error(request, _("Unknown status."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except PermissionDenied:
        raise
    else:
        # The status as its badge reads ("In review"), not capitalized mid-sentence.
        messages.success(request, _("Plan status: %(s)s.") % {"s": plan.get_status_display()})
    return redirect("plan_detail", plan_id=plan.pk)


# --- scope --------------------------------------------------------------------


@login_required
def plan_scope(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = selectors.plan_get_for_user(user=request.user, plan_id=plan_id)
    can_edit = user_can(user=request.user, team_id=plan.team_id, action=Action.EDIT_PLAN)
    find = ScopeFindForm(request.GET or None)
    change_form = None
    status = 200
    if request.method == "POST":
        check_team_action(user=request.user, team_id=plan.team_id, action=Action.EDIT_PLAN)
        remove = request.POST.get("action") == "remove"
        queryset = plan.servers.all() if remove else plan.team.servers.all()
        change_form = ScopeChangeForm(request.POST, queryset=queryset)
        if change_form.is_valid():
            servers = change_form.cleaned_data["servers"]
            try:
                if remove:
                    n = services.plan_scope_remove(plan=plan, servers=servers, by=request.user)
                    messages.success(
                        request,
                        ngettext(
                            "%(n)d server removed from the scope.",
                            "%(n)d servers removed from the scope.",
                            n,
                        )
                        % {"n": n},
                    )
                else:
                    n = services.plan_scope_add(plan=plan, servers=servers, by=request.user)
                    messages.success(
                        request,
                        ngettext(
                            "%(n)d server added to the scope.",
                            "%(n)d servers added to the scope.",
                            n,
                        )
                        % {"n": n},
                    )
            except ValidationError as exc:
                change_form.add_error(None, exc)
            else:
                return redirect(
                    reverse("plan_scope", args=[plan.pk]) + "?" + request.GET.urlencode()
                )
        status = 400
    found = []
    if find.is_bound and find.is_valid():
        filters = server_selectors.ServerFilters(
            q=find.cleaned_data["q"],
            tag=find.cleaned_data["tag"],
            environment=find.cleaned_data["environment"],
        )
        in_scope = set(plan.servers.values_list("pk", flat=True))
        found_qs = server_selectors.servers_filtered(
            user=request.user, team=plan.team, filters=filters
        )
        if find.cleaned_data["package"]:
            found_qs = found_qs.filter(
                pk__in=server_selectors.fleet_servers(
                    user=request.user,
                    team=plan.team,
                    name=find.cleaned_data["package"],
                    below=find.cleaned_data["below"],
                ).values("pk")
            )
        found = list(found_qs[:500])
        for s in found:
            s.in_scope = s.pk in in_scope
    return render(
        request,
        "plans/plan_scope.html",
        {
            "plan": plan,
            "find": find,
            "found": found,
            "scope": selectors.plan_scope(plan=plan),
            "change_form": change_form,
            "can_edit": can_edit,
            "tags": server_selectors.team_tags(team=plan.team),
        },
        status=status,
    )


# --- milestones ---------------------------------------------------------------


def _milestones_response(request: HttpRequest, plan, *, add_form=None, status: int = 200):
    if request.htmx:
        return render(
            request,
            "plans/partials/_milestones.html",
            {
                "plan": plan,
                "milestones": selectors.plan_milestones(plan=plan),
                "milestone_add_form": add_form or MilestoneAddForm(),
                "milestones_import_form": MilestonesImportForm(),
                "can_edit": True,
            },
            status=status,
        )
    return redirect(reverse("plan_detail", args=[plan.pk]) + "#milestones")


@login_required
@require_POST
def milestone_create(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = selectors.plan_get_for_user(user=request.user, plan_id=plan_id, action=Action.EDIT_PLAN)
    form = MilestoneAddForm(request.POST)
    if form.is_valid():
        try:
            services.milestone_add(plan=plan, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return _milestones_response(request, plan)
    if not request.htmx:
        messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
    return _milestones_response(request, plan, add_form=form, status=400)


@login_required
def milestone_edit(request: HttpRequest, milestone_id: int) -> HttpResponse:
    from plans.readiness import gate_codes

    milestone = selectors.milestone_get_for_user(
        user=request.user, milestone_id=milestone_id, action=Action.VIEW
    )
    plan = milestone.plan
    can_edit = user_can(user=request.user, team_id=plan.team_id, action=Action.EDIT_PLAN)
    initial = {
        "name": milestone.name,
        "starts_on": milestone.starts_on,
        "due_on": milestone.due_on,
        "signoff_roles": milestone.signoff_roles,
        "signoff_users": list(milestone.signoff_users.values_list("pk", flat=True)),
        "signoff_count": milestone.signoff_count,
        "entry_checks": gate_codes(milestone)[0],
        "exit_checks": gate_codes(milestone)[1],
        "version": milestone.version,
    }
    form = MilestoneForm(request.POST or None, team_id=plan.team_id, initial=initial)
    context = {"plan": plan, "milestone": milestone, "form": form, "can_edit": can_edit}
    if request.method == "POST":
        check_team_action(user=request.user, team_id=plan.team_id, action=Action.EDIT_PLAN)
        if form.is_valid():
            try:
                services.milestone_update(milestone=milestone, by=request.user, **form.cleaned_data)
            except services.StaleEdit as stale:
                return _conflict(
                    request,
                    form=form,
                    current=stale.current,
                    template="plans/milestone_conflict.html",
                    team_id=plan.team_id,
                )
            except services.Gone:
                return render(request, "plans/plan_gone.html", {"what": _("milestone")}, status=410)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("Milestone saved."))
                return redirect(reverse("plan_detail", args=[plan.pk]) + "#milestones")
        return render(request, "plans/milestone_form.html", context, status=400)
    return render(request, "plans/milestone_form.html", context)


@login_required
@require_POST
def milestone_move(request: HttpRequest, milestone_id: int) -> HttpResponse:
    milestone = selectors.milestone_get_for_user(
        user=request.user, milestone_id=milestone_id, action=Action.EDIT_PLAN
    )
    offset = -1 if request.POST.get("direction") == "up" else 1
    services.milestone_move(milestone=milestone, offset=offset, by=request.user)
    return _milestones_response(request, milestone.plan)


@login_required
@require_POST
def milestone_delete(request: HttpRequest, milestone_id: int) -> HttpResponse:
    milestone = selectors.milestone_get_for_user(
        user=request.user, milestone_id=milestone_id, action=Action.EDIT_PLAN
    )
    try:
        services.milestone_remove(milestone=milestone, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return _milestones_response(request, milestone.plan)


@login_required
@require_POST
def milestones_import(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = selectors.plan_get_for_user(user=request.user, plan_id=plan_id, action=Action.EDIT_PLAN)
    form = MilestonesImportForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            yaml_io.milestones_import(form.cleaned_data["yaml"], plan=plan, by=request.user)
        except yaml_io.PlanImportError as exc:
            for problem in exc.problems:
                messages.error(request, problem)
        else:
            messages.success(request, _("Milestones imported."))
    else:
        for errs in form.errors.values():
            for e in errs:
                messages.error(request, e)
    return redirect(reverse("plan_detail", args=[plan.pk]) + "#milestones")


# --- comments and activity ----------------------------------------------------


@login_required
@require_safe
def plan_activity(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = selectors.plan_get_for_user(user=request.user, plan_id=plan_id)
    show_all = request.GET.get("all") == "1"
    activity, more = selectors.plan_activity(plan=plan, limit=None if show_all else 50)
    return render(
        request,
        "plans/partials/_activity.html",
        {"plan": plan, "activity": activity, "activity_more": more, "show_all": show_all},
    )


@login_required
@require_safe
def mention_suggestions(request: HttpRequest, plan_id: int) -> JsonResponse:
    """Team members for the @mention autocomplete of a plan's comment box."""
    plan = selectors.plan_get_for_user(user=request.user, plan_id=plan_id, action=Action.COMMENT)
    results = mention_candidates(team_id=plan.team_id, prefix=request.GET.get("q", ""))
    return JsonResponse({"results": results})


@login_required
@require_POST
def comment_create(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = selectors.plan_get_for_user(user=request.user, plan_id=plan_id, action=Action.COMMENT)
    form = CommentForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            services.comment_post(plan=plan, body=form.cleaned_data["body"], by=request.user)
        except ValidationError as exc:
            error = " ".join(exc.messages)
    else:
        error = " ".join(form.errors.get("body", [])) or _("Write something first.")
    if request.htmx:
        activity, more = selectors.plan_activity(plan=plan)
        return render(
            request,
            "plans/partials/_activity.html",
            {
                "plan": plan,
                "activity": activity,
                "activity_more": more,
                "error": error,
            },
            status=400 if error else 200,
        )
    if error:
        messages.error(request, error)
    return redirect(reverse("plan_detail", args=[plan.pk]) + "#activity")


# --- YAML ---------------------------------------------------------------------


@login_required
@require_safe
def plan_export(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = selectors.plan_get_for_user(user=request.user, plan_id=plan_id)
    response = HttpResponse(
        yaml_io.export_plan(plan), content_type="application/yaml; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="plan-{plan.pk}.yaml"'
    return response


class _AskFirst(Exception):
    """Rolls back a plan import that is valid but dated in the past, to ask first."""


@login_required
def plan_import(request: HttpRequest) -> HttpResponse:
    team = _team(request)
    check_team_action(user=request.user, team_id=team.pk, action=Action.EDIT_PLAN)
    form = PlanImportForm(request.POST or None, request.FILES or None)
    problems: list[str] = []
    past_first = None
    if request.method == "POST" and form.is_valid():
        text = form.cleaned_data["yaml"]
        dates = request.POST.get("dates", "")
        today = timezone.localdate()
        try:
            first = yaml_io.yaml_first_date(yaml_io.load_yaml(text))
            # The guide's own example is dated 2023: a file whose timeline starts in the
            # past is checked in full (its problems come first), then the user is asked.
            ask = first is not None and first < today and dates not in ("shift", "keep")
            with transaction.atomic():
                plan = yaml_io.import_plan(
                    text,
                    team=team,
                    by=request.user,
                    title=form.cleaned_data["title"] or None,
                    starts_on=today if dates == "shift" else None,
                )
                if ask:
                    raise _AskFirst
        except yaml_io.PlanImportError as exc:
            problems = exc.problems
        except _AskFirst:
            past_first = first
            if isinstance(text, bytes):
                text = text.decode("utf-8", errors="replace")
            # The file (an upload too) comes back as text, ready to import either way.
            form = PlanImportForm(initial={"text": text, "title": form.cleaned_data["title"]})
        else:
            messages.success(request, _("Plan imported."))
            return redirect("plan_detail", plan_id=plan.pk)
    return render(
        request,
        "plans/plan_import.html",
        {
            "form": form,
            "problems": problems,
            "past_first": past_first,
            "team_zone": team.time_zone,
        },
        status=400 if form.is_bound else 200,
    )


# --- templates ----------------------------------------------------------------


@login_required
def plan_save_template(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = selectors.plan_get_for_user(user=request.user, plan_id=plan_id)
    can_edit = user_can(user=request.user, team_id=plan.team_id, action=Action.EDIT_PLAN)
    form = SaveTemplateForm(
        request.POST or None,
        initial={"title": _("%(title)s (template)") % {"title": plan.title}},
    )
    if request.method == "POST":
        check_team_action(user=request.user, team_id=plan.team_id, action=Action.EDIT_PLAN)
        if form.is_valid():
            try:
                template = services.plan_save_as_template(
                    plan=plan, by=request.user, **form.cleaned_data
                )
            except (ValidationError, yaml_io.PlanImportError) as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Template saved."))
                return redirect("plan_detail", plan_id=template.pk)
    return render(
        request,
        "plans/template_save.html",
        {"plan": plan, "form": form, "can_edit": can_edit},
        status=400 if form.is_bound else 200,
    )


@login_required
def plan_from_template(request: HttpRequest, plan_id: int) -> HttpResponse:
    source = selectors.plan_get_for_user(user=request.user, plan_id=plan_id)
    can_edit = user_can(user=request.user, team_id=source.team_id, action=Action.EDIT_PLAN)
    form = FromTemplateForm(
        request.POST or None,
        initial={
            "title": source.title.removesuffix(" (template)"),
            "starts_on": timezone.localdate(),
        },
    )
    if request.method == "POST":
        check_team_action(user=request.user, team_id=source.team_id, action=Action.EDIT_PLAN)
        if form.is_valid():
            try:
                plan = services.plan_create_from_template(
                    template=source, by=request.user, owner=request.user, **form.cleaned_data
                )
            except (ValidationError, yaml_io.PlanImportError) as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Plan created; now choose its servers."))
                return redirect("plan_scope", plan_id=plan.pk)
    return render(
        request,
        "plans/template_use.html",
        {"plan": source, "form": form, "can_edit": can_edit},
        status=400 if form.is_bound else 200,
    )

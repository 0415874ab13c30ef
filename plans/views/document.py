"""The plan document edited section by section in place (htmx), merging rather
than refusing (the poll that brings others' saves is plans.views.live)."""

from __future__ import annotations

import difflib

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from patchplan.teams.roles import Action
from patchplan.teams.selectors import check_team_action, user_can
from plans import live
from plans.forms.plans import PlanForm
from plans.selectors import plans as selectors
from plans.services import plans as services

# A text longer than this many lines gets a line diff in the merge view.
DIFF_FROM_LINES = 3


def _forms(plan, *, only, data=None) -> tuple[PlanForm, PlanForm]:
    """The section's form and its hidden twin carrying the values the editor started from."""
    kwargs = {"team_id": plan.team_id, "is_template": plan.is_template, "only": only}
    if data is None:
        return PlanForm(instance=plan, **kwargs), PlanForm(instance=plan, prefix="base", **kwargs)
    return PlanForm(data, instance=plan, **kwargs), PlanForm(data, prefix="base", **kwargs)


def document_save(request: HttpRequest, plan, *, fields) -> tuple[PlanForm, object | None]:
    """Bind and save the posted fields of `fields` that came with their base value (a
    field posted without one is not the user's edit). (form, DocumentSave or None
    when the input was refused, its errors on the form)."""
    only = [f for f in fields if f"base-{f}" in request.POST]
    form, base_form = _forms(plan, only=only, data=request.POST)
    if not form.is_valid():
        return form, None
    # A base that no longer cleans (an owner who left the team) is unknown: compared
    # as empty, so a change to that field reads as someone else's and is merged.
    base_form.is_valid()
    base = {n: base_form.cleaned_data.get(n) for n in form.cleaned_data}
    try:
        result = services.plan_update(
            plan=plan, by=request.user, base=base, **form.service_fields()
        )
    except ValidationError as exc:
        form.add_error(None, exc)
        return form, None
    return form, result


def _as_input(name: str, value) -> str:
    """A value as the form's input carries it (for hidden base inputs and textareas)."""
    if value is None:
        return ""
    if name == "references":
        return "\n".join(getattr(r, "identifier", "") or r.url for r in value)
    if name == "packages":
        return " ".join(value)
    if hasattr(value, "pk"):
        return str(value.pk)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value).replace("\r\n", "\n").strip()


def _shown(field, name: str, value) -> str:
    if hasattr(value, "display_name"):
        return value.display_name
    text = _as_input(name, value)
    if isinstance(field, forms.ChoiceField) and not hasattr(field, "queryset"):
        return str(dict(field.choices).get(text, text))
    return text


def _merged(theirs: str, mine: str) -> str:
    """Both contributions: theirs, then the lines of mine that theirs lacks, in order."""
    have = set(theirs.splitlines())
    extra = [line for line in mine.splitlines() if line not in have]
    return "\n".join([*theirs.splitlines(), *extra])


def merge_rows(plan, form, conflicts, *, url: str = "", target: str = "") -> list[dict]:
    """What the merge view shows for each conflicting field: theirs, mine, what it
    was, a line diff for long texts, and where "keep mine" / the merged text go (the
    field's section, or `url` swapping `target`: a row of the plan page)."""
    rows = []
    for c in conflicts:
        field = form.fields[c.field]
        theirs, mine = _as_input(c.field, c.theirs), _as_input(c.field, c.mine)
        text = isinstance(field.widget, forms.Textarea) and c.field != "references"
        long = text and max(len(theirs.splitlines()), len(mine.splitlines())) > DIFF_FROM_LINES
        section = live.SECTION_OF_FIELD.get(c.field, "")
        rows.append(
            {
                "name": c.field,
                "label": field.label,
                "theirs": _shown(field, c.field, c.theirs),
                "mine": _shown(field, c.field, c.mine),
                "base": _shown(field, c.field, c.base),
                "theirs_input": theirs,
                "mine_input": mine,
                "text": text,
                "diff": list(
                    difflib.unified_diff(
                        theirs.splitlines(), mine.splitlines(), _("theirs"), _("mine"), lineterm=""
                    )
                )[2:]
                if long
                else [],
                "merged": _merged(theirs, mine) if text else "",
                "section": section,
                "url": url or reverse("plan_section", args=[plan.pk, section]),
                "target": target or f"#section-{section}",
            }
        )
    return rows


def _section(name: str) -> live.Section:
    section = live.SECTIONS.get(name)
    if section is None or name == "header":
        raise Http404("No such section.")
    return section


def _render(request, plan, section, *, mode="show", form=None, base_form=None, rows=(), saved=()):
    context = {
        "plan": plan,
        "section": section,
        "mode": mode,
        "form": form,
        "base_form": base_form,
        "rows": rows,
        "saved_labels": [str(form.fields[n].label) for n in saved if form and n in form.fields],
        "can_edit": user_can(user=request.user, team_id=plan.team_id, action=Action.EDIT_PLAN),
    }
    if section.name == "references":
        context["references"] = list(plan.references.all())
    template = "plans/partials/_section.html"
    if not request.htmx and mode != "show":
        template = "plans/plan_section_page.html"
    status = 400 if mode == "edit" and form is not None and form.errors else 200
    if mode == "merge" and not request.htmx:
        status = 409
    return render(request, template, context, status=status)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def plan_section(request: HttpRequest, plan_id: int, section: str) -> HttpResponse:
    """One section of the plan document: shown, its edit form (?edit=1), or saved."""
    plan = selectors.plan_get_for_user(user=request.user, plan_id=plan_id)
    section = _section(section)
    if request.method != "POST":
        if not request.GET.get("edit"):
            return _render(request, plan, section)
        check_team_action(user=request.user, team_id=plan.team_id, action=Action.EDIT_PLAN)
        form, base_form = _forms(plan, only=section.fields)
        return _render(request, plan, section, mode="edit", form=form, base_form=base_form)
    check_team_action(user=request.user, team_id=plan.team_id, action=Action.EDIT_PLAN)
    try:
        form, result = document_save(request, plan, fields=section.fields)
    except services.Gone:
        return render(request, "plans/plan_gone.html", {}, status=410)
    if result is None:
        base_form = _forms(plan, only=list(form.fields), data=request.POST)[1]
        return _render(request, plan, section, mode="edit", form=form, base_form=base_form)
    plan = result.plan
    if result.conflicts:
        rows = merge_rows(plan, form, result.conflicts)
        return _render(
            request, plan, section, mode="merge", form=form, rows=rows, saved=result.saved
        )
    if not request.htmx:
        messages.success(request, _("Saved."))
        return redirect(reverse("plan_detail", args=[plan.pk]) + f"#section-{section.name}")
    return _render(request, plan, section)

"""The plan's document texts as documents: a Markdown preview while editing, and
every saved version with who and when, and the line diff between any two."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from patchplan.teams.roles import Action
from plans.models import DocumentText
from plans.selectors import documents as selectors
from plans.selectors.plans import plan_access_for_user, plan_get_for_user

# A preview renders what is typed; this is far above any plan text (the review's
# lessons are capped at 20,000 characters) and keeps one request's work bounded.
MAX_PREVIEW = 100_000


@login_required
@require_POST
def document_preview(request: HttpRequest, plan_id: int) -> HttpResponse:
    """The Markdown of the editor's text (`field` names its input) rendered as the
    page will show it, through the same sanitiser. Writes nothing; part of editing,
    so for those who may edit the plan."""
    plan_access_for_user(user=request.user, plan_id=plan_id, action=Action.EDIT_PLAN)
    name = request.POST.get("field", "")
    if name not in DocumentText.values:
        return HttpResponse(_("Not a document text."), status=400, content_type="text/plain")
    text = request.POST.get(name, "")
    too_long = len(text) > MAX_PREVIEW
    return render(
        request,
        "plans/partials/_document_preview.html",
        {"text": "" if too_long else text, "too_long": too_long, "limit": MAX_PREVIEW},
    )


def _by_name(version) -> str:
    return version.by.display_name if version.by_id else _("someone (not recorded)")


@login_required
@require_safe
def document_history(request: HttpRequest, plan_id: int, field: str) -> HttpResponse:
    """Each saved version of one document text, newest first, with who and when;
    `?show=ID` shows one version as written, `?a=ID&b=ID` the line diff between two
    (by default the newest two)."""
    plan = plan_get_for_user(user=request.user, plan_id=plan_id)
    text = selectors.document_text_or_404(field)
    versions = selectors.document_versions(plan=plan, field=field)
    by_id = {str(v.pk): v for v in versions}
    a, b = request.GET.get("a", ""), request.GET.get("b", "")
    if not (a or b) and len(versions) > 1:
        a, b = str(versions[1].pk), str(versions[0].pk)
    show = request.GET.get("show", "")
    wanted = [i for i in (a, b, show) if i in by_id]
    texts = (
        {
            str(k): v
            for k, v in selectors.document_version_texts(plan=plan, field=field, ids=wanted).items()
        }
        if wanted
        else {}
    )
    context = {
        "plan": plan,
        "document": text,
        "versions": versions,
        "a": by_id.get(a),
        "b": by_id.get(b),
        "shown": by_id.get(show),
        "shown_text": texts.get(show, ""),
        "diff": None,
        "compare_error": "",
    }
    if a or b:
        if a in texts and b in texts:
            context["diff"] = selectors.line_diff(texts[a], texts[b])
        else:
            context["compare_error"] = _("Choose two versions of this text to compare.")
    for v in versions:
        v.by_name = _by_name(v)
    status = 400 if context["compare_error"] else 200
    return render(request, "plans/document_history.html", context, status=status)

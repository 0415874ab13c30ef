"""Self-sufficient pieces of the plan page: timeline, windows, tasks.

Each tag loads its own data with a fixed number of queries, so the plan
page that includes them needs to pass nothing but the plan."""

from __future__ import annotations

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from plans.models import MaintenanceWindow, Milestone
from plans.selectors.tasks import tasks_card
from plans.selectors.windows import windows_card
from plans.timeline import build_timeline

register = template.Library()


@register.inclusion_tag("plans/partials/_timeline_svg.html", takes_context=True)
def plan_timeline(context, plan) -> dict:
    """The timeline picture: 2 queries (milestones, windows)."""
    milestones = list(Milestone.objects.filter(plan_id=plan.pk).order_by("position", "pk"))
    windows = list(
        MaintenanceWindow.objects.filter(plan_id=plan.pk, cancelled_at=None).only(
            "starts_at", "ends_at", "title", "cancelled_at"
        )
    )
    return {
        "plan": plan,
        "milestones": milestones,
        "windows": windows,
        "tl": build_timeline(milestones=milestones, windows=windows),
        "zone": timezone.get_current_timezone_name(),
        "request": context.get("request"),
    }


@register.inclusion_tag("plans/partials/_windows_card.html", takes_context=True)
def plan_windows(context, plan) -> dict:
    """The windows card with each window's warnings: 7 queries."""
    data = windows_card(plan=plan, user=context["request"].user)
    data["request"] = context.get("request")
    return data


@register.inclusion_tag("plans/partials/_tasks_card.html", takes_context=True)
def plan_tasks(context, plan) -> dict:
    """The tasks card with in-place status and assignee: 3 queries."""
    data = tasks_card(plan=plan, user=context["request"].user)
    data["request"] = context.get("request")
    data["csrf_token"] = context.get("csrf_token")
    return data


# The plan page's task table is the one place with hundreds of interactive rows: the
# row is built with format_html (about ten times cheaper than a template per row).
# templates/plans/partials/_task_row.html calls this tag, so the htmx answer to an
# in-place change and the full table produce the same markup.
_ROW = (
    '<tr id="{dom_id}" data-task-row hx-vals=\'{{"mode": "plan"}}\' data-status="{status}">'
    '<td><a href="{url}">{title}</a>{progress}{error}</td>'
    "<td>{milestone}</td><td>{assignee}</td>"
    '<td class="text-nowrap">{due}</td><td>{status_cell}</td>'
    '<td class="d-print-none">{delete}</td></tr>'
)
_PICKER = (
    '<select name="{name}" class="form-select form-select-sm{extra}" aria-label="{label}" '
    'hx-post="{url}" hx-trigger="change" hx-target="closest [data-task-row]" '
    'hx-swap="outerHTML">{blank}{options}</select>'
)


_WORDS: dict[str, dict[str, str]] = {}


def _words() -> dict[str, str]:
    """The row's fixed words, translated once per language rather than once per row."""
    language = get_language() or ""
    if language not in _WORDS:
        _WORDS[language] = {
            "checklist": _("checklist"),
            "overdue": _("Overdue · "),
            "assignee_of": _("Assignee of %(title)s"),
            "status_of": _("Status of %(title)s"),
            "confirm": _("Delete the task “%(title)s”?"),
            "delete_label": _("Delete %(title)s"),
            "delete": _("Delete"),
        }
    return _WORDS[language]


@register.simple_tag
def task_row(t, error: str = "") -> SafeString:
    """One row of the plan page's task table (`t` prepared by annotate_rights)."""
    w = _words()
    progress = error_html = delete = ""
    if t.checklist_total:
        progress = format_html(
            ' <span class="small text-body-secondary text-nowrap" '
            'data-testid="checklist-progress">{} {}/{}</span>',
            w["checklist"],
            t.checklist_done,
            t.checklist_total,
        )
    if error:
        error_html = format_html('<div class="invalid-feedback d-block">{}</div>', error)
    if t.members:
        assignee = format_html(
            _PICKER,
            name="assignee",
            extra="",
            label=w["assignee_of"] % {"title": t.title},
            url=t.url_assign,
            blank=mark_safe('<option value="">— nobody —</option>'),  # noqa: S308 - constant
            options=t.assignee_options,
        )
    else:
        assignee = t.assignee.display_name if t.assignee_id else "—"
    if t.due_on:
        due = format_html(
            "<span{}>{}{}</span>",
            mark_safe(' class="overdue"') if t.overdue else "",  # noqa: S308 - constant
            w["overdue"] if t.overdue else "",
            date_format(t.due_on, "D j M"),
        )
    else:
        due = "—"
    if t.can_work:
        status_cell = format_html(
            _PICKER,
            name="status",
            extra=" w-auto",
            label=w["status_of"] % {"title": t.title},
            url=t.url_status,
            blank="",
            options=t.status_options,
        )
    else:
        status_cell = format_html(
            '<span class="badge text-bg-light border">{}</span>', t.get_status_display()
        )
    if t.can_edit:
        delete = format_html(
            '<button type="button" class="btn btn-sm btn-link text-danger p-0" hx-post="{}" '
            'hx-target="closest [data-task-row]" hx-swap="outerHTML" hx-confirm="{}" '
            'aria-label="{}">{}</button>',
            t.url_delete,
            w["confirm"] % {"title": t.title},
            w["delete_label"] % {"title": t.title},
            w["delete"],
        )
    return format_html(
        _ROW,
        dom_id=t.dom_id,
        status=t.status,
        url=t.url_detail,
        title=t.title,
        progress=progress,
        error=error_html,
        milestone=t.milestone.name if t.milestone_id else "—",
        assignee=assignee,
        due=due,
        status_cell=status_cell,
        delete=delete,
    )

"""Self-sufficient pieces of the plan page: timeline, windows, tasks.

Each tag loads its own data with a fixed number of queries, so the plan
page that includes them needs to pass nothing but the plan."""

from __future__ import annotations

import html

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.formats import localize
from django.utils.safestring import SafeString
from django.utils.text import Truncator, capfirst

from plans.models import MaintenanceWindow, Milestone
from plans.selectors.tasks import TaskFilters, tasks_card
from plans.selectors.windows import windows_card
from plans.timeline import build_timeline

register = template.Library()


def _shared(context, plan) -> dict:
    """What the plan page has read already for this plan (plans.selectors.plans.plan_page
    puts `schedule` in the context: milestones, windows), so the pieces don't read the
    same rows again; empty when a piece is rendered on its own."""
    shared = context.get("schedule")
    if shared and shared.get("plan_id") == plan.pk:
        return shared
    return {}


@register.inclusion_tag("plans/partials/_timeline_svg.html", takes_context=True)
def plan_timeline(context, plan) -> dict:
    """The timeline picture: 2 queries (milestones, windows), none on the plan page."""
    shared = _shared(context, plan)
    if "milestones" in shared:
        milestones = shared["milestones"]
    else:
        milestones = list(Milestone.objects.filter(plan_id=plan.pk).order_by("position", "pk"))
    if "windows" in shared:
        windows = [w for w in shared["windows"] if w.cancelled_at is None]
    else:
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
    """The windows card with each window's warnings: 7 queries (5 on the plan page)."""
    shared = _shared(context, plan)
    data = windows_card(
        plan=plan,
        user=context["request"].user,
        windows=shared.get("windows"),
        milestones=shared.get("milestones"),
    )
    data["request"] = context.get("request")
    return data


@register.inclusion_tag("plans/partials/_tasks_card.html", takes_context=True)
def plan_tasks(context, plan) -> dict:
    """The tasks card (first page, filtered by the page's GET parameters): 3 queries."""
    shared = _shared(context, plan)
    request = context["request"]
    data = tasks_card(
        plan=plan,
        user=request.user,
        milestones=shared.get("milestones"),
        filters=TaskFilters.from_query(request.GET),
    )
    data["request"] = request
    data["csrf_token"] = context.get("csrf_token")
    return data


_esc = html.escape  # what django.utils.html.escape does, without its lazy-string wrapper


# The windows card's rows (plans.selectors.windows.windows_card): built here like the
# task rows; times in the active zone, as the template's |date filter shows them.
_WINDOW_ROW = (
    '<tr id="window-{pk}"{cls}>\n'
    '<td class="text-nowrap">{del_open}{starts}–{ends}{del_close}</td>\n'
    '<td><a href="{url}">{title}</a>{milestone}{cancelled}</td>\n'
    "<td>{servers}</td>\n<td>{downtime} min</td>\n<td>{checks}</td>\n</tr>\n"
)
_WINDOW_SERVER = '<span class="me-1">{} <span class="badge badge-env-{}">{}</span></span>'
_WINDOW_PROBLEM = (
    '<li class="text-warning-emphasis" data-code="{}"><strong>Warning:</strong> {}</li>'
)


@register.simple_tag
def window_rows(windows) -> SafeString:
    """The rows of the windows card; every value escaped here."""
    url = _url_pattern("window_detail")
    out = []
    for w in windows:
        starts, ends = timezone.localtime(w.starts_at), timezone.localtime(w.ends_at)
        if ends.date() == starts.date():
            end_text = date_format(ends, "H:i T")
        else:
            end_text = date_format(ends, "D j M, H:i T")
        servers = "".join(
            [
                _WINDOW_SERVER.format(
                    _esc(e.hostname), _esc(e.environment), _esc(e.environment_label)
                )
                for e in w.shown_entries
            ]
        )
        if w.more_entries:
            servers += f' <span class="text-body-secondary">+{int(w.more_entries)} more</span>'
        if not w.entries:
            servers += '<span class="text-body-secondary">none</span>'
        if w.cancelled_at:
            checks = "—"
        elif w.problems:
            items = "".join(
                [_WINDOW_PROBLEM.format(_esc(p.code), _esc(p.message)) for p in w.problems]
            )
            checks = f'<ul class="list-unstyled mb-0 small window-problems">{items}</ul>'
        else:
            checks = '<span class="text-success-emphasis small">OK: no warnings</span>'
        cancelled = w.cancelled_at is not None
        out.append(
            _WINDOW_ROW.format(
                pk=int(w.pk),
                cls=' class="text-body-secondary"' if cancelled else "",
                del_open="<del>" if cancelled else "",
                del_close="</del>" if cancelled else "",
                starts=_esc(date_format(starts, "D j M Y, H:i")),
                ends=_esc(end_text),
                url=_esc(url(w.pk)),
                title=_esc(w.title or "Window"),
                milestone=(
                    f' <span class="text-body-secondary">· {_esc(w.milestone.name)}</span>'
                    if w.milestone
                    else ""
                ),
                cancelled=' <span class="badge text-bg-secondary">Cancelled</span>'
                if cancelled
                else "",
                servers=servers,
                downtime=int(w.downtime_total),
                checks=checks,
            )
        )
    # Safe: every value above went through _esc (or is a number or a constant).
    return SafeString("".join(out))


_PLACEHOLDER = "2147483647"


def _url_pattern(name: str):
    """reverse() once with a placeholder id, then put each row's id in (reversing per
    row costs more than the rest of the row)."""
    pattern = reverse(name, args=[int(_PLACEHOLDER)])
    return lambda pk: pattern.replace(_PLACEHOLDER, str(pk))


# The timeline picture's repeated parts (ticks, milestone bars, window marks): built
# here rather than by a template walk with several filters per element. Numbers are
# shown as the template showed them: formats.localize, and |add's int() for offsets.
_TICK = (
    '<line x1="{x}" x2="{x}" y1="{axis}" y2="{bottom}" stroke="#ccc" stroke-width="0.5"/>\n'
    '<text x="{x}" y="{label_y}" text-anchor="middle" fill="#444">{label}</text>\n'
)
_BAR = (
    '<g class="tl-milestone">\n'
    '<text x="{label_x}" y="{text_y}" text-anchor="end" font-weight="600" fill="#000">'
    "{label}</text>\n{rect}"
    '<text x="{text_x}" y="{text_y}" fill="#333">{dates}</text>\n</g>\n'
)
_BAR_RECT = (
    '<rect x="{x}" y="{y}" width="{width}" height="16" rx="3" fill="#cfe2ff" '
    'stroke="#084298" stroke-width="1"/>\n'
)
_MARK = (
    '<g class="tl-window">\n<title>{title}</title>\n'
    '<rect x="{x}" y="{y}" width="{width}" height="16" fill="#fff" stroke="#000" '
    'stroke-width="1.5" stroke-dasharray="0"/>\n'
    '<line x1="{x}" x2="{x}" y1="{y}" y2="{y16}" stroke="#000" stroke-width="2"/>\n'
    '<text x="{x}" y="{label_y}" fill="#000" font-weight="600">{label}</text>\n</g>\n'
)


def _num(value) -> str:
    return _esc(str(localize(value)))


def _plus(value, offset: int) -> str:
    """What `{{ value|add:'offset' }}` shows for a number: int(value) + offset."""
    return str(int(value) + offset)


@register.simple_tag
def timeline_ticks(tl) -> SafeString:
    """The date ticks of the timeline (`tl` from plans.timeline.build_timeline)."""
    axis, bottom, label_y = _num(tl.axis_y), _plus(tl.height, -20), _plus(tl.axis_y, -4)
    # Safe: numbers, and labels escaped.
    return SafeString(
        "".join(
            [
                _TICK.format(
                    x=_num(t.x), axis=axis, bottom=bottom, label_y=label_y, label=_esc(t.label)
                )
                for t in tl.ticks
            ]
        )
    )


@register.simple_tag
def timeline_bars(tl) -> SafeString:
    """The milestone bars of the timeline."""
    label_x = _plus(tl.left, -8)
    out = []
    for bar in tl.bars:
        rect = (
            ""
            if bar.point
            else _BAR_RECT.format(x=_num(bar.x), y=_num(bar.y), width=_num(bar.width))
        )
        out.append(
            _BAR.format(
                label_x=label_x,
                text_y=_plus(bar.y, 12),
                label=_esc(Truncator(capfirst(bar.label)).chars(22)),
                rect=rect,
                text_x=_num(bar.text_x),
                dates=_esc(bar.dates),
            )
        )
    # Safe: numbers, and labels escaped.
    return SafeString("".join(out))


@register.simple_tag
def timeline_marks(tl) -> SafeString:
    """The window marks of the timeline."""
    out = []
    for m in tl.marks:
        out.append(
            _MARK.format(
                title=_esc(m.title),
                x=_num(m.x),
                y=_num(m.y),
                width=_num(m.width),
                y16=_plus(m.y, 16),
                label_y=_num(m.label_y),
                label=_esc(m.label),
            )
        )
    # Safe: numbers, and labels escaped.
    return SafeString("".join(out))


# The milestones card's list items (the plan page and the milestone htmx answers).
_MILESTONE = (
    '<li class="list-group-item" data-testid="milestone-row">\n'
    '<div class="d-flex justify-content-between align-items-start gap-2">\n<div>\n'
    '<span class="fw-semibold">{n}. {name}</span>\n{signed}'
    '<div class="small text-body-secondary">\n{dates}\n</div>\n'
    '<div class="small">\nSign-off: {count} approval{plural}{roles}{people}\n</div>\n'
    "</div>\n{actions}</div>\n</li>\n"
)
_MILESTONE_MOVE = (
    '<form method="post" action="{url}" hx-post="{url}" hx-target="#milestones" '
    'hx-swap="outerHTML">{csrf}\n<input type="hidden" name="direction" value="{direction}">'
    '<button class="btn btn-sm btn-outline-secondary" title="Move {direction}" '
    'aria-label="Move {name} {direction}">{arrow}</button></form>\n'
)
_MILESTONE_ACTIONS = (
    '<div class="d-flex gap-1 d-print-none">\n{up}{down}'
    '<a class="btn btn-sm btn-outline-primary" href="{edit}" aria-label="Edit {name}">Edit</a>\n'
    '<form method="post" action="{delete}" hx-post="{delete}" hx-target="#milestones" '
    'hx-swap="outerHTML" data-confirm="Remove the milestone “{name}”? Its tasks and windows '
    'stay.">{csrf}\n<button class="btn btn-sm btn-outline-danger" aria-label="Remove {name}">'
    "×</button></form>\n</div>\n"
)


@register.simple_tag(takes_context=True)
def milestone_items(context, milestones, can_edit) -> SafeString:
    """The <li>s of the milestones card (plans.selectors.plans.plan_milestones: sign-off
    people prefetched); every value escaped here."""
    csrf_value = context.get("csrf_token")
    csrf = (
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{_esc(str(csrf_value))}">'
        if csrf_value and csrf_value != "NOTPROVIDED"  # what {% csrf_token %} checks
        else ""
    )
    urls = (
        {
            name: _url_pattern(name)
            for name in ("milestone_move", "milestone_edit", "milestone_delete")
        }
        if can_edit
        else {}
    )
    last = len(milestones)
    out = []
    for n, m in enumerate(milestones, start=1):
        dates = ""
        if m.starts_on:
            dates = _esc(date_format(m.starts_on, "j M Y")) + " – "
        if m.due_on:
            dates += "due " + _esc(date_format(m.due_on, "j M Y"))
        elif not m.starts_on:
            dates += "no dates"
        roles = m.signoff_roles
        people = list(m.signoff_users.all())
        names = ""
        if people:
            names = (
                (" or" if roles else "")
                + " by "
                + ", ".join([_esc(u.display_name) for u in people])
            )
        actions = ""
        if can_edit:
            name = _esc(m.name)
            move = _esc(urls["milestone_move"](m.pk))
            actions = _MILESTONE_ACTIONS.format(
                up=""
                if n == 1
                else _MILESTONE_MOVE.format(
                    url=move, csrf=csrf, direction="up", name=name, arrow="↑"
                ),
                down=""
                if n == last
                else _MILESTONE_MOVE.format(
                    url=move, csrf=csrf, direction="down", name=name, arrow="↓"
                ),
                edit=_esc(urls["milestone_edit"](m.pk)),
                delete=_esc(urls["milestone_delete"](m.pk)),
                name=name,
                csrf=csrf,
            )
        out.append(
            _MILESTONE.format(
                n=n,
                name=_esc(capfirst(m.name)),
                signed='<span class="badge text-bg-success">signed off</span>\n'
                if m.signed_off_at
                else "",
                dates=dates,
                count=_num(m.signoff_count),
                plural="" if m.signoff_count == 1 else "s",
                roles=" by " + ", ".join([_esc(str(r)) for r in roles]) if roles else "",
                people=names,
                actions=actions,
            )
        )
    # Safe: every value above is escaped, a number or a constant.
    return SafeString("".join(out))

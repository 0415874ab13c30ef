"""`{% load plans_markdown %}{{ text|markdown }}`: sanitised Markdown for plan texts;
`{% activity_items activity %}`: the entries of the plan's activity feed;
`md_line`, `md_text`, `md_code`: values written into a Markdown export."""

from __future__ import annotations

import html
import re

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.safestring import SafeString, mark_safe

from patchplan.core.text import single_line
from plans.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(value: str | None) -> SafeString:
    # Safe to mark: render_markdown's output has been through the nh3 sanitiser.
    return mark_safe(render_markdown(value or ""))  # noqa: S308


# --- Markdown export -----------------------------------------------------------
# A Markdown viewer renders raw HTML, so a title such as `<img src=x onerror=...>`
# in a downloaded report would run there. Raw HTML can only start with `<`
# followed by a letter, `/`, `!` or `?` (tags, comments, declarations,
# processing instructions: CommonMark 6.6); that `<` becomes `&lt;`, which every
# viewer shows as the character. A lone `<` (as in `a < b`) stays as typed.
_HTML_START = re.compile(r"<(?=[A-Za-z/!?])")


@register.filter
def md_text(value) -> str:
    """A multi-line Markdown text (objective, plans, lessons) with raw HTML made
    text; its own Markdown (lists, emphasis, quotes) still renders."""
    return _HTML_START.sub("&lt;", str(value or ""))


@register.filter
def md_line(value) -> str:
    """A value inside one line of the export (a heading, a list item, a table
    cell): one line, raw HTML made text, `|` escaped so a cell stays a cell."""
    return md_text(single_line(value or "")).replace("|", "\\|")


@register.filter
def md_code(value) -> str:
    """A code span: no HTML is read inside one, but a backtick in the value
    would close it, so the fence is one backtick longer than the longest run
    in the value (CommonMark 6.1)."""
    text = single_line(value or "")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


_esc = html.escape  # what django.utils.html.escape does, without its lazy-string wrapper
_COMMENT = (
    '<li class="border-start border-3 ps-3 mb-3 activity-comment">\n'
    '<div class="small text-body-secondary"><strong class="text-body">{author}</strong>'
    " commented · {at}</div>\n"
    '<div class="md">{body}</div>\n{mentions}</li>\n'
)
_STATUS = (
    '<li class="mb-3 small activity-status">\n'
    '<span class="text-body-secondary">{at}</span> ·\n'
    "<strong>{by}</strong> moved the plan from\n"
    '<span class="badge text-bg-light border">{from_label}</span> to\n'
    '<span class="badge text-bg-primary">{to_label}</span>{note}\n</li>\n'
)


def _name(user) -> str:
    return _esc(user.display_name) if user is not None and user.display_name else "Someone"


@register.simple_tag
def activity_items(activity) -> SafeString:
    """The feed's <li>s (plans.selectors.plans.plan_activity entries, newest first),
    built in one go rather than a template walk per entry: the feed is on the plan page
    and is polled every 10 s by each open page. Every value is escaped here; comment
    bodies are Markdown that went through the nh3 sanitiser."""
    out = []
    for a in activity:
        item = a.item
        at = _esc(date_format(timezone.localtime(a.at), "j M Y, H:i T"))
        if a.kind == "comment":
            people = item.mentioned
            mentions = (
                '<div class="small text-body-secondary">Notified: '
                + ", ".join([_esc(u.display_name) for u in people])
                + "</div>\n"
                if people
                else ""
            )
            out.append(
                _COMMENT.format(
                    author=_name(item.author),
                    at=at,
                    body=render_markdown(item.body or ""),  # sanitised HTML
                    mentions=mentions,
                )
            )
        else:
            out.append(
                _STATUS.format(
                    at=at,
                    by=_name(item.by),
                    from_label=_esc(str(item.from_label)),
                    to_label=_esc(str(item.to_label)),
                    note=f": “{_esc(item.note)}”" if item.note else "",
                )
            )
    # Safe: every value above is escaped, or sanitised Markdown.
    return SafeString("".join(out))

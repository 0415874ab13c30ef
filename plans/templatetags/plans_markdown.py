"""`{% load plans_markdown %}{{ text|markdown }}`: sanitised Markdown for plan texts;
`md_line`, `md_text`, `md_code`: values written into a Markdown export."""

from __future__ import annotations

import re

from django import template
from django.utils.safestring import SafeString, mark_safe

from patchplan.core.text import single_line
from plans.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(value: str | None) -> SafeString:
    # Safe to mark: render_markdown's output has been through the nh3 sanitiser.
    return mark_safe(render_markdown(value or ""))  # noqa: S308


_DOCUMENT_TEXTS = frozenset(
    {"backup_plan", "test_procedure", "rollback_plan", "communication_plan", "lessons_learned"}
)


@register.filter
def document_text(plan, name: str) -> str:
    """One of the plan document's texts by its field name (a section shows its own)."""
    if name not in _DOCUMENT_TEXTS:
        raise template.TemplateSyntaxError(f"not a document text: {name}")
    return getattr(plan, name)


# --- Markdown export -----------------------------------------------------------
# A Markdown viewer renders raw HTML, so a title such as `<img src=x onerror=...>`
# in a downloaded report would run there. Raw HTML can only start with `<`
# followed by a letter, `/`, `!` or `?` (tags, comments, declarations,
# processing instructions: CommonMark 6.6); that `<` becomes `&lt;`, which every
# viewer shows as the character. A lone `<` (as in `a < b`) stays as typed.
_HTML_START = re.compile(r"<(?=[A-Za-z/!?])")
# Links and images whose destination is not plainly web, mail or in-page: a viewer
# follows `[x](javascript:...)` (or `javascript&colon;`, which CommonMark decodes), as
# the page's own renderer never does (plans.markdown allows http(s) and mailto). The
# `](` of an inline link, or the `[` of a reference definition, is escaped: the viewer
# then shows the text as typed instead of a link.
_SAFE_DESTINATION = r"\s*<?(?:https?://|mailto:|#|$|\))"
_INLINE_LINK = re.compile(rf"\]\((?!{_SAFE_DESTINATION})")
_REFERENCE_DEFINITION = re.compile(rf"^( {{0,3}})\[(?=[^\]\n]*\]:(?!{_SAFE_DESTINATION}))", re.M)


@register.filter
def md_text(value) -> str:
    """A multi-line Markdown text (objective, plans, lessons) with raw HTML made
    text and links only to the web, mail and the page itself; its own Markdown
    (lists, emphasis, quotes, such links) still renders."""
    text = _HTML_START.sub("&lt;", str(value or ""))
    text = _INLINE_LINK.sub(r"]\\(", text)
    return _REFERENCE_DEFINITION.sub(r"\1\\[", text)


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

"""`one_line`: a stored name or title as one line where a line break would change
what the text says (a plain-text email's greeting and sentences), for values
stored before forms refused control characters (see patchplan.core.text)."""

from __future__ import annotations

from django import template

from patchplan.core.text import single_line

register = template.Library()


@register.filter
def one_line(value: object) -> str:
    return single_line("" if value is None else value)

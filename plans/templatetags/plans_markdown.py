"""`{% load plans_markdown %}{{ text|markdown }}`: sanitised Markdown for plan texts."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString, mark_safe

from plans.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(value: str | None) -> SafeString:
    # Safe to mark: render_markdown's output has been through the nh3 sanitiser.
    return mark_safe(render_markdown(value or ""))  # noqa: S308

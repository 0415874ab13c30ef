"""The Jinja2 environment for the few hot row templates (templates/jinja2/), and the
`{% jinja %}` tag that puts one of them inside a Django template.

Why two engines: the plan page renders hundreds of rows, and each `{% include %}` of a
Django template costs about ten times what the same row costs in Jinja2 (measured in
docs/benchmarks.md). Pages stay Django templates; a list of rows that is also an htmx
answer is one Jinja2 template, rendered by the page (through `{% jinja %}`) and by the
view that swaps a row, so both always agree.

The environment matches what Django templates give: autoescaping, `url()`, `static()`,
gettext through Django's translation, and a `date` filter that formats with Django's
format characters in the user's zone (the `T` format names it).

`_("Delete %(title)s", title=t.title)` and `ngettext(singular, plural, n)` (`num` is n)
behave as the i18n extension's "newstyle" gettext: the translation is a format string
whose values are escaped, with the same msgids as `{% blocktranslate %}` gives. They are
plain functions rather than the extension's: its context-taking callables copy the
template context on every call inside a loop, which cost more than the row. Strings are
extracted for translation with Babel's Jinja2 extractor (`jinja2.ext.babel_extract`,
which looks for these names); Django's makemessages reads only Django templates.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from functools import lru_cache

from django import template
from django.template import defaultfilters, engines
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.safestring import SafeString, mark_safe
from jinja2 import Environment, StrictUndefined, pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup


def _language(eval_ctx: EvalContext) -> str | None:
    """The active language, looked up once per render (Django keeps it in a context-local
    whose lookup costs as much as a short row; a template asks hundreds of times). The
    evaluation context is the render's own: Jinja2 makes one per render."""
    try:
        return eval_ctx.patchplan_language
    except AttributeError:
        eval_ctx.patchplan_language = translation.get_language()
        return eval_ctx.patchplan_language


@pass_eval_context
def localdate(eval_ctx: EvalContext, value, fmt: str | None = None) -> str:
    """Django's `date` filter, after moving an aware datetime into the user's zone (Django
    templates do that for every value they print; Jinja2 does not)."""
    if value is None or value == "":
        return ""
    zone = None
    if isinstance(value, datetime) and timezone.is_aware(value):
        zone = timezone.get_current_timezone()
    # The same instant or day in the same format, language and zone always reads the
    # same: formatting one (a Django format object, a translation per name) costs more
    # than a row, and rows share few days.
    return _date_in(value, fmt, _language(eval_ctx), zone)


@lru_cache(maxsize=4096)
def _date_in(value: date, fmt: str | None, language: str | None, zone: tzinfo | None) -> str:
    if zone is not None:
        value = timezone.localtime(value, zone)
    return defaultfilters.date(value, fmt)


def url(name: str, *args, **kwargs) -> str:
    return reverse(name, args=args or None, kwargs=kwargs or None)


@pass_eval_context
def gettext(eval_ctx: EvalContext, message: str, /, **values) -> Markup:
    translated = _translated(message, _language(eval_ctx))
    # Without values the translation is the answer: `Markup % {}` costs a copy and a
    # scan of the string, hundreds of times a page. (So a lone "%" needs no "%%".)
    return translated % values if values else translated


def ngettext(singular: str, plural: str, number: int, /, **values) -> Markup:
    values.setdefault("num", number)
    # Translations are trusted text (as for Jinja2's own gettext); the values are escaped.
    return Markup(translation.ngettext(singular, plural, number)) % values  # noqa: S704


# Rows ask for the same few strings hundreds of times a page; the catalogs do not change
# while the process runs.
@lru_cache(maxsize=4096)
def _translated(message: str, language: str | None) -> Markup:
    return Markup(translation.gettext(message))  # noqa: S704 - trusted, as above


def environment(**options) -> Environment:
    # gettext above returns markup: only right with autoescaping on (Django's default).
    if options.get("autoescape") is not True:
        raise ValueError("The Jinja2 templates need autoescape on.")
    # A misspelt name fails loudly rather than printing nothing.
    options["undefined"] = StrictUndefined
    env = Environment(**options)  # noqa: S701 - autoescape is on, checked above
    env.globals.update(
        {"url": url, "static": static, "_": gettext, "gettext": gettext, "ngettext": ngettext}
    )
    env.filters["date"] = localdate
    env.filters["truncatechars"] = defaultfilters.truncatechars
    return env


register = template.Library()


@register.simple_tag(takes_context=True)
def jinja(context, template_name: str, **values) -> SafeString:
    """`{% jinja "plans/task_rows.jinja" tasks=tasks mode="plan" %}`: that Jinja2 template
    with these values (and the request, for csrf_input), its output as it is: autoescaped
    by Jinja2 already."""
    rendered = (
        engines["jinja2"].get_template(template_name).render(values, request=context.get("request"))
    )
    return mark_safe(rendered)  # noqa: S308 - escaped by Jinja2's autoescape

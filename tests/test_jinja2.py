"""The Jinja2 environment of the row templates (patchplan/jinja2.py) gives what Django
templates give: escaping, Django's translations, dates in the user's zone, and loud
failure on a misspelt name."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, date, datetime

import pytest
from django.template import engines
from django.utils import timezone, translation
from jinja2 import UndefinedError

from plans.selectors.tasks import TaskRow


def render(source: str, **values) -> str:
    return engines["jinja2"].from_string(source).render(values)


def test_translated_strings_escape_their_values():
    out = render("{{ _('Delete %(title)s', title=title) }}", title='<b x="1">&\'')
    assert out == "Delete &lt;b x=&#34;1&#34;&gt;&amp;&#39;"


def test_a_string_without_values_is_printed_as_translated():
    # Not %-formatted: a lone "%" stays, as in Django's {% translate %}.
    assert render("{{ _('Coverage: 100%') }}") == "Coverage: 100%"


def test_plural_strings_get_the_number():
    source = "{{ ngettext('Show the last task', 'Show more (%(num)s left)', n) }}"
    assert render(source, n=1) == "Show the last task"
    assert render(source, n=7) == "Show more (7 left)"


def test_strings_come_from_djangos_catalogs_in_the_active_language():
    source = "{{ _('This field is required.') }}"
    with translation.override("de"):
        german = render(source)
    with translation.override("en"):
        english = render(source)
    assert german == "Dieses Feld ist zwingend erforderlich."
    assert english == "This field is required."


def test_dates_show_in_the_users_zone_with_the_zone_named():
    late_evening_utc = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    with timezone.override("Europe/Berlin"):
        out = render("{{ when|date('D j M, H:i T') }}", when=late_evening_utc)
    assert out == "Tue 3 Mar, 00:30 CET"
    with translation.override("de"):
        assert render("{{ day|date('D j M') }}", day=date(2026, 3, 3)) == "Di 3 Mär"
    assert render("{{ day|date('D j M') }}", day=date(2026, 3, 3)) == "Tue 3 Mar"


def test_a_misspelt_name_fails_instead_of_printing_nothing():
    with pytest.raises(UndefinedError):
        render("{{ task.titel }}", task=object())


def test_a_django_template_includes_a_jinja_template_escaped_once():
    row = TaskRow(
        **{f.name: "" for f in fields(TaskRow)}
        | {"pk": 7, "title": "<b>A & B</b>", "due_on": None, "checklist_total": 0}
    )
    django_template = engines["django"].from_string(
        '{% load jinja %}<table>{% jinja "plans/task_rows.jinja" tasks=tasks mode="plan" %}</table>'
    )
    out = django_template.render({"tasks": [row]})
    assert out.startswith('<table><tr id="task-7" data-task-row')
    assert ">&lt;b&gt;A &amp; B&lt;/b&gt;</a>" in out

"""History rows as people read them: the part of the plan by its name (not the
model's), the field as the form names it, values as the app displays them (choice
labels, times in the viewer's zone). The stored rows stay as written (append-only);
this only renders them."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import cache

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.translation import gettext as _

# The apps whose models appear in the history.
_APPS = ("plans", "servers", "teams")
_UTC_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}) UTC$")


@cache
def _model(object_type: str):
    for app in _APPS:
        try:
            return apps.get_model(app, object_type)
        except LookupError:
            continue
    return None


def part_label(object_type: str) -> str:
    """ "backuprecord" -> "Backup record"."""
    model = _model(object_type)
    name = str(model._meta.verbose_name) if model else object_type.replace("_", " ")
    return name[:1].upper() + name[1:]


def _field(object_type: str, name: str):
    model = _model(object_type)
    if model is None:
        return None
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


def field_label(object_type: str, name: str) -> str:
    """ "actual_starts_at" -> "actual start" (the field's verbose name)."""
    field = _field(object_type, name)
    label = str(getattr(field, "verbose_name", "") or name.replace("_", " "))
    return label[:1].upper() + label[1:]


def value_label(object_type: str, name: str, value: str) -> str:
    """A stored value as displayed: a choice's label, a UTC time in the viewer's zone."""
    if not value:
        return value
    match = _UTC_TIME.match(value)
    if match:
        at = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
        local = timezone.localtime(at)
        # The format of every other moment on the pages ("2 Jan 2026, 04:04").
        return f"{date_format(local, 'j M Y, H:i')} {timezone.get_current_timezone_name()}"
    field = _field(object_type, name)
    choices = dict(getattr(field, "choices", None) or ())
    if choices:
        return str(choices.get(value, value))
    if name == "status" and object_type == "plan":
        from plans.choices import PlanStatus

        return str(dict(PlanStatus.choices).get(value, value))
    return value


ACTIONS = {
    "changed": _("changed"),
    "created": _("created"),
    "deleted": _("deleted"),
    "status": _("status changed"),
}


def label_rows(rows) -> None:
    """Set part, field, old and new labels on AuditEvent rows (no queries)."""
    for a in rows:
        a.part_label = part_label(a.object_type)
        a.field_label = field_label(a.object_type, a.field)
        a.old_label = value_label(a.object_type, a.field, a.old_value)
        a.new_label = value_label(a.object_type, a.field, a.new_value)
        a.action_label = ACTIONS.get(a.action, a.action)

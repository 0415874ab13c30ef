"""The task rows' shared pickers: their options shipped once per page."""

from __future__ import annotations

from django import template

from patchplan.jinja2 import jinja
from plans.choices import TaskStatus

register = template.Library()


@register.simple_tag(takes_context=True)
def task_pickers(context, picker_teams=()) -> str:
    """<template>s with the status options and, per (team id, members) pair, the assignee
    options that every row's picker copies in (templates/jinja2/plans/task_pickers.jinja)."""
    return jinja(
        context,
        "plans/task_pickers.jinja",
        statuses=TaskStatus.choices,
        picker_teams=picker_teams,
    )

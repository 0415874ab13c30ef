"""The task rows' shared pickers: their options shipped once per page."""

from __future__ import annotations

from django import template

from plans.choices import TaskStatus

register = template.Library()


@register.inclusion_tag("plans/partials/_task_pickers.html")
def task_pickers(picker_teams=()) -> dict:
    """<template>s with the status options and, per (team id, members) pair, the assignee
    options that every row's picker copies in (static/js/patchplan.js)."""
    return {"statuses": TaskStatus.choices, "picker_teams": picker_teams}

"""Roles and what each may do: the one place that says so.

Views never compare role names; they ask the access selectors for an
object "for" an action, and the selectors consult ROLE_ACTIONS.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("Admin")
    PLANNER = "planner", _("Planner")
    ENGINEER = "engineer", _("Engineer")
    APPROVER = "approver", _("Approver")
    VIEWER = "viewer", _("Viewer")


class Action(models.TextChoices):
    VIEW = "view", _("view")
    EDIT_PLAN = "edit_plan", _("edit plans")
    MANAGE_SERVERS = "manage_servers", _("manage servers")
    IMPORT_INVENTORY = "import_inventory", _("import inventory")
    EXECUTE = "execute", _("record execution and evidence")
    WORK_TASKS = "work_tasks", _("work on tasks")
    SIGN_OFF = "sign_off", _("sign off milestones")
    COMMENT = "comment", _("comment")
    MANAGE_TEAM = "manage_team", _("manage the team")


_EVERYONE = {Action.VIEW}
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    Role.ADMIN: frozenset(Action.values),
    Role.PLANNER: frozenset(
        _EVERYONE
        | {
            Action.EDIT_PLAN,
            Action.MANAGE_SERVERS,
            Action.IMPORT_INVENTORY,
            Action.EXECUTE,
            Action.WORK_TASKS,
            Action.COMMENT,
        }
    ),
    Role.ENGINEER: frozenset(
        _EVERYONE | {Action.IMPORT_INVENTORY, Action.EXECUTE, Action.WORK_TASKS, Action.COMMENT}
    ),
    Role.APPROVER: frozenset(_EVERYONE | {Action.SIGN_OFF, Action.COMMENT}),
    # Stakeholders (application owners) are usually viewers: they may answer
    # in the plan's comments when @mentioned, and do nothing else.
    Role.VIEWER: frozenset(_EVERYONE | {Action.COMMENT}),
}


def role_allows(role: str, action: str) -> bool:
    return action in ROLE_ACTIONS.get(role, frozenset())

"""Events that notify people. Services in other apps call these inside their
transaction; each writes outbox rows in that same transaction (see
DESIGN.md, "Notifications and reminders")."""

from __future__ import annotations


def task_assigned(*, task, by) -> None:
    """A task got a (new) assignee."""


def window_changed(*, window, by) -> None:
    """A maintenance window was created, moved, or its servers changed."""


def window_cancelled(*, window, by) -> None:
    """A maintenance window is about to be deleted (called before the delete)."""


def plan_status_changed(*, plan, old_status: str, new_status: str, by) -> None:
    """A plan moved from one status to another."""


def comment_posted(*, comment, mentioned_users, by) -> None:
    """A comment on a plan, with the team members it @mentions."""

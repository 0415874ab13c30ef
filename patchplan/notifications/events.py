"""Events that notify people. Services in other apps call these inside their
transaction; each writes outbox rows in that same transaction, and delivery
is queued for after the commit (see DESIGN.md, "Notifications and
reminders", and docs/notifications.md). A rolled-back service therefore
notifies nobody, and a committed one never loses its notifications."""

from __future__ import annotations

from . import services
from .models import Kind


def task_assigned(*, task, by) -> None:
    """A task got a (new) assignee: tell them (not when they took it themselves)."""
    services.task_assigned(task=task, by=by)


def window_changed(*, window, by) -> None:
    """A maintenance window was created, moved, or its servers changed.

    Call after saving it with its SEQUENCE raised. Reminders already created
    for its old start are cancelled (new ones follow the new start), and
    everyone who was told about the window gets an update with the same UID."""
    services.window_updated(window=window, by=by)


def window_cancelled(*, window, by) -> None:
    """A maintenance window was cancelled (the row is kept, with cancelled_at
    set): everyone told about it gets a METHOD:CANCEL."""
    services.window_cancelled(window=window, by=by)


def plan_status_changed(*, plan, old_status: str, new_status: str, by) -> None:
    """A plan moved from one status to another (approved, started, completed,
    rolled back, cancelled notify the owner and the plan's RACI people)."""
    services.plan_status_changed(plan=plan, old_status=old_status, new_status=new_status, by=by)


def comment_posted(*, comment, mentioned_users, by) -> None:
    """A comment on a plan, with the team members it @mentions."""
    services.comment_posted(comment=comment, mentioned_users=mentioned_users, by=by)


def milestone_ready_for_signoff(*, milestone, by) -> None:
    """A milestone's work is done and it waits for sign-off: ask its approvers."""
    services.milestone_event(milestone=milestone, kind=Kind.SIGNOFF_REQUESTED, by=by)


def milestone_signed_off(*, milestone, by) -> None:
    """A milestone got its last approval."""
    services.milestone_event(milestone=milestone, kind=Kind.MILESTONE_SIGNED_OFF, by=by)


def milestone_rejected(*, milestone, by, comment: str = "") -> None:
    """An approver rejected a milestone, with their reason."""
    services.milestone_event(milestone=milestone, kind=Kind.MILESTONE_REJECTED, by=by, note=comment)

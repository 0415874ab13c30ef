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


def window_state(window) -> dict:
    """A window's times, title, milestone and servers as they are now. Take
    it before changing a window and pass it to window_changed(before=...):
    the update email then says was -> now for each changed thing."""
    return services.window_state(window)


def window_changed(*, window, by, before: dict | None = None) -> None:
    """A maintenance window was created, moved, or its servers changed.

    Call after saving it with its SEQUENCE raised. Reminders already created
    for its old start are cancelled (new ones follow the new start), and
    everyone who was told about the window gets an update with the same UID
    and the change set (from `before`, see window_state)."""
    services.window_updated(window=window, by=by, before=before)


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


# --- Phase gates (issue 16). Entry points for the gate and window-start
# services: each writes outbox rows in the caller's transaction. -----------------


def go_given(*, milestone, by, note: str = "") -> None:
    """The go for a milestone's work was approved: tell the plan's people
    (owner, RACI, assignees of the milestone's tasks)."""
    services.go_given(milestone=milestone, by=by, note=note)


def window_started_early(*, window, by, reason: str = "") -> None:
    """Work in a window started before its planned start (or before its
    milestone's go, by override): tell the plan's people."""
    services.window_started_early(window=window, by=by, reason=reason)


def plan_sent_for_review(*, plan, by) -> None:
    """A plan went from draft to in review: ask its approvers to look.
    (plan_status_changed does this for the in_review move already.)"""
    services.plan_sent_for_review(plan=plan, by=by)


# "Go requested" (a milestone's entry checks pass for the first time) and
# "window overran" are found by the periodic scan, not called by a service:
# see services.scan_go_requests and services.scan_overruns.


def plan_scheduled(*, plan, schedule, occurs_on) -> None:
    """A recurring schedule created a plan for one occurrence: tell its owner."""
    services.plan_scheduled(plan=plan, schedule=schedule, occurs_on=occurs_on)

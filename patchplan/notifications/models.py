"""The notification outbox, per-person preferences and calendar feed tokens.

A Notification row is both the in-app notification and the email to send:
written in the transaction of the event that causes it (or by the periodic
scan for reminders), unique per (recipient, kind, object, occurrence), so a
scan that runs twice, or two scans at once, never create a second row.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from patchplan.teams.models import Team


class Kind(models.TextChoices):
    WINDOW_REMINDER = "window_reminder", _("Window reminder")
    WINDOW_UPDATED = "window_updated", _("Window changed")
    WINDOW_CANCELLED = "window_cancelled", _("Window cancelled")
    WINDOW_OVERRUNNING = "window_overrunning", _("Window overrunning")
    TASK_ASSIGNED = "task_assigned", _("Task assigned")
    TASK_DUE = "task_due", _("Task due soon")
    TASK_OVERDUE = "task_overdue", _("Task overdue")
    SIGNOFF_REQUESTED = "signoff_requested", _("Sign-off requested")
    SIGNOFF_PENDING = "signoff_pending", _("Sign-off still pending")
    MILESTONE_SIGNED_OFF = "milestone_signed_off", _("Milestone signed off")
    MILESTONE_REJECTED = "milestone_rejected", _("Milestone rejected")
    PLAN_STATUS = "plan_status", _("Plan status changed")
    MENTION = "mention", _("Mentioned in a comment")
    DIGEST = "digest", _("Daily digest")
    # Phase gates (issue 16): the go asked for, given, or jumped.
    GO_REQUESTED = "go_requested", _("Go requested")
    GO_GIVEN = "go_given", _("Go given")
    WORK_STARTED_EARLY = "work_started_early", _("Work started early")
    PLAN_SENT_FOR_REVIEW = "plan_sent_for_review", _("Plan sent for review")
    # Review and recurring work.
    REVIEW_DUE = "review_due", _("Plan review due")
    PLAN_SCHEDULED = "plan_scheduled", _("Recurring plan created")
    ADVISORY = "advisory", _("Critical or exploited vulnerability")


class Group(models.TextChoices):
    """What a person switches email on or off for (the preferences page)."""

    WINDOWS = "windows", _("Maintenance windows (reminders, changes, overruns)")
    TASKS = "tasks", _("Tasks (assigned, due, overdue)")
    SIGNOFFS = "signoffs", _("Sign-offs (requests, decisions)")
    STATUS = "status", _("Plan status changes")
    MENTIONS = "mentions", _("@mentions in comments")
    SECURITY = "security", _("Critical or exploited vulnerabilities on production servers")


KIND_GROUP: dict[str, str] = {
    Kind.WINDOW_REMINDER: Group.WINDOWS,
    Kind.WINDOW_UPDATED: Group.WINDOWS,
    Kind.WINDOW_CANCELLED: Group.WINDOWS,
    Kind.WINDOW_OVERRUNNING: Group.WINDOWS,
    Kind.TASK_ASSIGNED: Group.TASKS,
    Kind.TASK_DUE: Group.TASKS,
    Kind.TASK_OVERDUE: Group.TASKS,
    Kind.SIGNOFF_REQUESTED: Group.SIGNOFFS,
    Kind.SIGNOFF_PENDING: Group.SIGNOFFS,
    Kind.MILESTONE_SIGNED_OFF: Group.SIGNOFFS,
    Kind.MILESTONE_REJECTED: Group.SIGNOFFS,
    Kind.PLAN_STATUS: Group.STATUS,
    Kind.MENTION: Group.MENTIONS,
    Kind.GO_REQUESTED: Group.SIGNOFFS,
    Kind.GO_GIVEN: Group.SIGNOFFS,
    Kind.WORK_STARTED_EARLY: Group.WINDOWS,
    Kind.PLAN_SENT_FOR_REVIEW: Group.SIGNOFFS,
    Kind.REVIEW_DUE: Group.STATUS,
    Kind.PLAN_SCHEDULED: Group.STATUS,
    Kind.ADVISORY: Group.SECURITY,
}


class Status(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    # Not emailed: the person turned this kind off, reads a digest instead,
    # or is no longer concerned (left the team, task reassigned). In-app only.
    SKIPPED = "skipped", _("Not emailed")
    # Superseded before it went out (the window moved or was cancelled).
    CANCELLED = "cancelled", _("Cancelled")


class Notification(models.Model):
    """One event for one person: an in-app notification and (unless their
    preferences say otherwise) one email, delivered by the outbox worker."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    # The team the event belongs to: recipients are checked against it at
    # send time, and team admins see its failed rows. Empty for digests.
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    kind = models.CharField(max_length=24, choices=Kind.choices)
    # The subject object as a plain reference, not a foreign key: the
    # cancellation of a deleted window must still go out (see `context`).
    object_type = models.CharField(max_length=16, blank=True)
    object_id = models.BigIntegerField(default=0)
    # What makes this occurrence distinct: the window start a reminder is
    # for, the SEQUENCE of an update, the day of an overdue nag, ...
    occurrence = models.CharField(max_length=100, blank=True)
    due_at = models.DateTimeField(db_index=True)
    # Facts captured at event time (who did it, old values, a snapshot of a
    # window about to be deleted). Everything else is read fresh at send.
    context = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # When the delivery task was last put on the broker; the sweep re-queues
    # a pending row whose message seems lost.
    queued_at = models.DateTimeField(null=True, blank=True)
    # When a worker claimed the row (status sending); a stale claim is a
    # worker that died, and the sweep hands the row back.
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-due_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "kind", "object_type", "object_id", "occurrence"],
                name="notification_unique_occurrence",
            )
        ]
        indexes = [
            # The sweep: pending/sending rows by due time.
            models.Index(
                fields=["status", "due_at"],
                name="notification_open_due",
                condition=Q(status__in=["pending", "sending"]),
            ),
            models.Index(fields=["recipient", "-due_at"], name="notification_inbox"),
            models.Index(fields=["object_type", "object_id"], name="notification_object"),
            models.Index(
                fields=["team", "-due_at"],
                name="notification_failed",
                condition=Q(status="failed"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.recipient_id} ({self.status})"

    @property
    def title(self) -> str:
        """A one-line summary for the in-app list (captured at event time)."""
        return self.context.get("title") or str(self.get_kind_display())

    @property
    def path(self) -> str:
        return self.context.get("path", "")


def new_token() -> str:
    """A feed token: shown once in its URL, stored only as its hash."""
    return secrets.token_urlsafe(24)


class NotificationPreference(models.Model):
    """A person's choices: when to be reminded before windows, which kinds by
    email, immediate emails or a daily digest, and their calendar feed token."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    lead_times_minutes = models.JSONField(_("reminder lead times (minutes)"), default=list)
    # Groups (see Group) the person does not want by email; in-app still shows them.
    email_off = models.JSONField(_("no email for"), default=list, blank=True)
    digest = models.BooleanField(
        _("daily digest instead of individual emails"),
        default=False,
        help_text=_(
            "One email each morning with your tasks and windows of the next 7 days. "
            "Window changes and cancellations still come at once, so calendars stay right."
        ),
    )
    # The feed URL's token is a secret like an inventory token and is kept the
    # same way: only its sha256 (servers.models.hash_token), so a copy of the
    # database does not hand out every feed. Empty until the person makes one.
    calendar_token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)

    def __str__(self) -> str:
        return f"Notification preferences of {self.user_id}"

    @property
    def leads(self) -> list[int]:
        return sorted({int(m) for m in self.lead_times_minutes or DEFAULT_LEAD_TIMES})


DEFAULT_LEAD_TIMES = [1440, 60]


class TeamCalendarFeed(models.Model):
    """The private token of a team's calendar feed; replacing it revokes the old URL."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="calendar_feed")
    token_hash = models.CharField(max_length=64, unique=True)  # sha256, as above
    created_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Calendar feed of {self.team}"

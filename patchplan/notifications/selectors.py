"""Reads of the outbox: team membership at send time, the in-app list and
failed rows for team admins. (Who is concerned by a window, milestone or plan,
and what a calendar feed shows, are the plans app's: plans.notify.recipients.)"""

from __future__ import annotations

from django.db.models import QuerySet

from patchplan.accounts.models import User
from patchplan.teams.models import Membership, Team

from .models import Kind, Notification, Status


def is_member(*, user_id: int, team_id: int) -> bool:
    return Membership.objects.filter(user_id=user_id, team_id=team_id).exists()


def inbox_for_user(*, user: User) -> QuerySet[Notification]:
    """The in-app list: the user's own notifications, newest first."""
    return (
        Notification.objects.filter(recipient=user)
        .exclude(kind=Kind.DIGEST)
        .exclude(status=Status.CANCELLED)
        .order_by("-due_at", "-pk")
    )


def unread_count(*, user: User) -> int:
    return inbox_for_user(user=user).filter(read_at__isnull=True).count()


def failed_for_team(*, team: Team) -> QuerySet[Notification]:
    return (
        Notification.objects.filter(team=team, status=Status.FAILED)
        .select_related("recipient")
        .order_by("-due_at", "-pk")
    )

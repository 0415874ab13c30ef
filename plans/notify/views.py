"""Calendar feeds of maintenance windows at private, revocable URLs (their
tokens are kept by the outbox's preferences and team feed rows)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from patchplan.accounts.models import User
from patchplan.core.tokens import hash_token
from patchplan.notifications.models import NotificationPreference, TeamCalendarFeed

from . import recipients as selectors
from .calendars import feed_ics


def _ics_response(body: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    # The token is the secret: no caching by proxies, no referrer leaks.
    response["Cache-Control"] = "private, max-age=300"
    return response


@require_safe
def feed_user(request: HttpRequest, token: str) -> HttpResponse:
    """A person's windows at a private, revocable URL (no login: calendar
    apps cannot sign in). An unknown or replaced token is a 404."""
    pref = (
        NotificationPreference.objects.select_related("user")
        .filter(calendar_token_hash=hash_token(token), user__is_active=True)
        .first()
    )
    if pref is None:
        raise Http404("No such calendar.")
    user: User = pref.user
    windows = selectors.feed_windows_for_user(user=user)
    return _ics_response(feed_ics(windows, name=f"PatchPlan: {user.display_name}"), "patchplan.ics")


@require_safe
def feed_team(request: HttpRequest, token: str) -> HttpResponse:
    feed = (
        TeamCalendarFeed.objects.select_related("team").filter(token_hash=hash_token(token)).first()
    )
    if feed is None:
        raise Http404("No such calendar.")
    windows = selectors.feed_windows_for_team(team=feed.team)
    return _ics_response(feed_ics(windows, name=f"PatchPlan: {feed.team.name}"), "team.ics")

"""Turning an outbox row into an email, at send time.

Everything is read fresh here: whether the person is still active and in the
team, their preferences and time zone. The app that owns the row's kind adds
its part (the subject object's current state, attachments; see registry);
a row that no longer applies raises Undeliverable."""

from __future__ import annotations

from urllib.parse import urlparse

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from patchplan.core.text import single_line

from . import registry, selectors
from .models import KIND_GROUP, Notification
from .services import IMMEDIATE_FOR_DIGEST, Undeliverable, stored_preference, zone_for


def site_host() -> str:
    return urlparse(settings.SITE_URL).hostname or "patchplan.invalid"


def build_message(n: Notification) -> EmailMultiAlternatives:
    """Render the row for its recipient, or raise Undeliverable."""
    user = n.recipient
    if not user.is_active or not user.email:
        raise Undeliverable("the person has no active account")
    is_member = getattr(n, "is_member", None)  # annotated by the delivery's one query
    if is_member is None and n.team_id:
        is_member = selectors.is_member(user_id=user.pk, team_id=n.team_id)
    if n.team_id and not is_member:
        raise Undeliverable("the person is no longer in the team")
    pref = stored_preference(user)
    if KIND_GROUP.get(n.kind) in (pref.email_off or []):
        raise Undeliverable("email turned off for this kind")
    if pref.digest and n.kind not in IMMEDIATE_FOR_DIGEST:
        raise Undeliverable("in the daily digest instead")

    tz = zone_for(user, n.team)
    site = settings.SITE_URL
    with timezone.override(tz):
        content = registry.content_for(n, tz)
        context = {
            "n": n,
            "recipient": user,
            "tz_name": str(tz),
            "site_url": site,
            "link": site + (n.path or "/"),
            "preferences_link": site + reverse("notification_preferences"),
            "data": n.context,
            **content.context,
        }
        subject = single_line(render_to_string(f"emails/{n.kind}-subject.txt", context))
        text = render_to_string(f"emails/{n.kind}-body.txt", context)
        html = render_to_string(f"emails/{n.kind}-body.html", context)
    message = EmailMultiAlternatives(
        subject=subject[:200],
        body=text,
        to=[user.email],
        headers={
            # Stable per row: if the one unavoidable resend happens (see
            # services), clients that deduplicate by Message-ID drop it.
            "Message-ID": f"<notification-{n.pk}@{site_host()}>",
            "X-PatchPlan-Notification": str(n.pk),
        },
    )
    message.attach_alternative(html, "text/html")
    for part in content.attachments:
        message.attach(part)
    return message

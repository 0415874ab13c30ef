"""iCalendar (RFC 5545) for windows: the .ics attached to emails and the
private calendar feeds. One UID per window, stable for its life, and the
window's SEQUENCE, so calendar apps update an event instead of adding a copy.

Emails are one-way notices, so their .ics is an iTIP (RFC 5546) PUBLISH:
no ATTENDEE (nobody is asked to accept or decline), the plan owner as
ORGANIZER (PUBLISH requires one, and it is a person who can be asked), and a
cancellation is the same event again with STATUS:CANCELLED and a higher
SEQUENCE (METHOD:CANCEL is addressed to attendees, which a PUBLISH has
none of). docs/notifications.md says why."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parseaddr

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import ngettext
from icalendar import Calendar, Event, vCalAddress, vText

from patchplan.core.text import single_line
from patchplan.notifications.emails import site_host
from plans.models import MaintenanceWindow

PRODID = "-//PatchPlan//Maintenance windows//EN"


def window_uid(window_id: int) -> str:
    """Stable per window: every email and feed names the same event."""
    return f"window-{window_id}@{site_host()}"


@dataclass
class WindowFacts:
    """What a calendar event needs, from a live window or from the snapshot a
    cancellation keeps after the window itself is gone."""

    id: int
    title: str
    plan_title: str
    plan_id: int
    starts_at: datetime
    ends_at: datetime
    sequence: int
    server_count: int
    cancelled: bool
    owner_name: str = ""
    owner_email: str = ""

    @classmethod
    def from_window(cls, window: MaintenanceWindow, *, server_count: int | None = None):
        owner = window.plan.owner  # callers select_related("plan__owner")
        return cls(
            owner_name=owner.display_name if owner else "",
            owner_email=owner.email if owner else "",
            id=window.pk,
            title=window.title or window.plan.title,
            plan_title=window.plan.title,
            plan_id=window.plan_id,
            starts_at=window.starts_at,
            ends_at=window.ends_at,
            sequence=window.sequence,
            server_count=window.servers.count() if server_count is None else server_count,
            cancelled=window.cancelled_at is not None,
        )

    def snapshot(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "plan_title": self.plan_title,
            "plan_id": self.plan_id,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "sequence": self.sequence,
            "server_count": self.server_count,
            "cancelled": self.cancelled,
            "owner_name": self.owner_name,
            "owner_email": self.owner_email,
        }

    @classmethod
    def from_snapshot(cls, data: dict):
        return cls(
            **{
                **data,
                "starts_at": datetime.fromisoformat(data["starts_at"]),
                "ends_at": datetime.fromisoformat(data["ends_at"]),
            }
        )

    @property
    def url(self) -> str:
        try:
            path = reverse("window_detail", kwargs={"window_id": self.id})
        except NoReverseMatch:
            path = reverse("plan_detail", kwargs={"plan_id": self.plan_id})
        return settings.SITE_URL + path


# Every text property goes through single_line(): icalendar refuses a content
# line with a raw line break, and a title stored before titles were checked
# must not turn a feed or an invitation into a 500.
def _event(facts: WindowFacts, *, cancelled: bool = False) -> Event:
    event = Event()
    event.add("uid", window_uid(facts.id))
    event.add("sequence", facts.sequence)
    event.add("dtstamp", timezone.now())
    # UTC times: every calendar app converts them to the reader's zone.
    event.add("dtstart", facts.starts_at.astimezone(UTC))
    event.add("dtend", facts.ends_at.astimezone(UTC))
    event.add("summary", single_line(f"Maintenance: {facts.title}"))
    n = facts.server_count
    event.add(
        "description",
        single_line(
            ngettext("%(plan)s: %(n)d server. %(url)s", "%(plan)s: %(n)d servers. %(url)s", n)
            % {"plan": facts.plan_title, "n": n, "url": facts.url}
        ),
    )
    event.add("url", facts.url)
    event.add("status", "CANCELLED" if cancelled or facts.cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    # The plan owner, whom questions about the window go to; the no-reply
    # sender only when the owner has no address (a PUBLISH needs one).
    name, address = facts.owner_name, facts.owner_email
    if not address:
        name, address = "PatchPlan", parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    organizer = vCalAddress(f"mailto:{address}")
    organizer.params["cn"] = vText(single_line(name))
    event["organizer"] = organizer
    return event


def _calendar(method: str | None = None, name: str | None = None) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    if name:
        cal.add("x-wr-calname", single_line(name))
    return cal


ICS_METHOD = "PUBLISH"


def window_ics(facts: WindowFacts, *, cancelled: bool = False) -> bytes:
    """The .ics of a window email: METHOD:PUBLISH, one event, no attendee;
    a cancellation is STATUS:CANCELLED with the window's raised SEQUENCE."""
    cal = _calendar(ICS_METHOD)
    cal.add_component(_event(facts, cancelled=cancelled))
    return cal.to_ical()


def feed_ics(windows: Iterable[MaintenanceWindow], *, name: str) -> bytes:
    """A subscribable feed (METHOD:PUBLISH) of windows; cancelled ones stay in
    it as CANCELLED so subscribed calendars drop them."""
    cal = _calendar("PUBLISH", name)
    windows = list(windows)
    counts = _server_counts(windows)
    for window in windows:
        facts = WindowFacts.from_window(window, server_count=counts.get(window.pk, 0))
        cal.add_component(_event(facts))
    return cal.to_ical()


def _server_counts(windows: list[MaintenanceWindow]) -> dict[int, int]:
    from django.db.models import Count

    from plans.models import WindowServer

    return dict(
        WindowServer.objects.filter(window__in=windows)
        .values_list("window_id")
        .annotate(n=Count("pk"))
        .values_list("window_id", "n")
    )

"""Dates and moments in text built in Python (email subjects, messages), in the
formats the pages use ("Fri 4 Dec 2026", never "Fri 04 Dec"): one helper, so an
email and the page it links to read alike."""

from __future__ import annotations

from datetime import date, datetime, tzinfo

from django.utils import timezone
from django.utils.dateformat import format as date_format

DAY = "D j M Y"  # Fri 4 Dec 2026
DAY_TIME = "D j M Y, H:i"  # Fri 4 Dec 2026, 09:00


def day(value: date | datetime, *, tz: tzinfo | None = None) -> str:
    """The day as the pages write it; an aware datetime is read in `tz` (default: the
    current zone)."""
    if isinstance(value, datetime) and timezone.is_aware(value):
        value = timezone.localtime(value, tz)
    return date_format(value, DAY)


def local(at: datetime, fmt: str, *, tz: tzinfo | None = None) -> str:
    """`at` in `tz` (default: the current zone) in a Django date format ("D j M H:i")."""
    return date_format(timezone.localtime(at, tz), fmt)


def moment(at: datetime, *, tz: tzinfo | None = None) -> str:
    """A moment with its zone named ("Fri 4 Dec 2026, 01:00 Europe/Berlin")."""
    zone = tz or timezone.get_current_timezone()
    return f"{local(at, DAY_TIME, tz=zone)} {zone}"

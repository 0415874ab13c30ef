"""What the apps above the outbox plug into it (from their AppConfig.ready),
so the outbox never imports them: periodic scans that create due rows, and
the content of a row's email by kind (the subject object's fresh state,
template context, attachments such as a calendar invitation)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from email.mime.base import MIMEBase
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from .models import Notification


@dataclass
class Content:
    """An app's part of one email: context for the kind's templates
    (emails/<kind>-subject.txt, -body.txt, -body.html) and attachments."""

    context: dict = field(default_factory=dict)
    attachments: list[MIMEBase] = field(default_factory=list)


# Reads the row's subject fresh, in the recipient's zone (active during the
# call); raises services.Undeliverable when the row no longer applies.
ContentBuilder = Callable[["Notification", ZoneInfo], Content]
# Creates the rows due at `now` (services.insert_new); returns how many.
Scan = Callable[[datetime], int]

_content: dict[str, ContentBuilder] = {}
_scans: dict[str, Scan] = {}


def register_content(kinds: Iterable[str], builder: ContentBuilder) -> None:
    for kind in kinds:
        _content[str(kind)] = builder


def content_for(n: Notification, tz: ZoneInfo) -> Content:
    """The registered content of the row's kind; a kind nobody registered
    (e.g. advisories, whose row carries its facts) renders from the row alone."""
    builder = _content.get(n.kind)
    return builder(n, tz) if builder is not None else Content()


def register_scan(name: str, scan: Scan) -> None:
    """Run `scan` in every notifications.scan (beat, every minute), in the order
    registered; `name` keys its figure in the scan's result."""
    _scans[name] = scan


def scans() -> list[tuple[str, Scan]]:
    return list(_scans.items())

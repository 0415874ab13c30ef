"""Writes to the notification outbox: creating rows for events (notify, called
by the apps above, e.g. plans.notify.events), the periodic scan that runs the
registered scans (registry) and re-queues what is unsent, delivery of one row,
and the person's preferences and feed tokens.

Guarantees, and the one gap:
- Rows are unique per (recipient, kind, object, occurrence): scans may run
  twice or at once and create nothing twice (bulk_create ignores conflicts).
- Delivery claims its row with a conditional UPDATE (pending -> sending), so
  two workers given the same id send it once.
- Nothing is lost: a row whose broker message vanished is queued again by the
  scan, and a row left "sending" by a worker that died is handed back after
  CLAIM_TIMEOUT (longer than any task may run).
- The gap that cannot be closed: if the process dies after the SMTP server
  accepted a message and before the row is marked sent, the row is handed
  back and that one message is sent a second time. SMTP has no way to ask
  "did you already take this one?"; the Message-ID header is stable per row
  (`<notification-ID@host>`) so mail clients that deduplicate can.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from patchplan.accounts.models import User
from patchplan.core.tokens import hash_token
from patchplan.teams.models import Membership, Team

from . import registry
from .models import (
    DEFAULT_LEAD_TIMES,
    Group,
    Kind,
    Notification,
    NotificationPreference,
    Status,
    TeamCalendarFeed,
    new_token,
)

log = logging.getLogger(__name__)

# Kinds that still go out at once for people who chose the daily digest:
# their calendars must follow a moved or cancelled window.
IMMEDIATE_FOR_DIGEST = {Kind.WINDOW_UPDATED, Kind.WINDOW_CANCELLED, Kind.DIGEST}
DIGEST_HOUR = time(7, 0)
MAX_LEAD_MINUTES = 60 * 24 * 14
MAX_LEAD_TIMES = 5


def _setting(name: str, default):
    return getattr(settings, name, default)


def max_attempts() -> int:
    return _setting("NOTIFICATIONS_MAX_ATTEMPTS", 6)


def retry_delay(attempts: int) -> timedelta:
    """Capped exponential backoff: base, 2 base, 4 base, ... at most the cap."""
    base = _setting("NOTIFICATIONS_RETRY_BASE_SECONDS", 60)
    cap = _setting("NOTIFICATIONS_RETRY_CAP_SECONDS", 30 * 60)
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def delivery_batch_size() -> int:
    # Small enough that a batch of slow SMTP attempts (EMAIL_TIMEOUT each)
    # stays far inside the task time limit, and that two workers share work.
    return _setting("NOTIFICATIONS_DELIVERY_BATCH", 10)


def delivery_time_limit() -> int:
    """Seconds a delivery task may run (its hard time limit)."""
    return _setting("NOTIFICATIONS_DELIVERY_TIME_LIMIT_SECONDS", 60)


def claim_timeout() -> timedelta:
    # A delivery cannot outlive its task's hard time limit, so a claim older
    # than that (plus a margin) belongs to a worker that died. Never below
    # the limit, whatever the setting says: a live send must not be handed
    # to a second worker.
    configured = _setting("NOTIFICATIONS_CLAIM_TIMEOUT_SECONDS", 90)
    return timedelta(seconds=max(configured, delivery_time_limit() + 5))


def requeue_after() -> timedelta:
    # Longer than a normal queue wait: re-queuing earlier only costs a
    # duplicate broker message, which the claim turns into a no-op.
    return timedelta(seconds=_setting("NOTIFICATIONS_REQUEUE_AFTER_SECONDS", 60))


def zone_for(user: User, team: Team | None = None) -> ZoneInfo:
    for name in (user.time_zone, team.time_zone if team else "", settings.TIME_ZONE):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


# --- Creating rows ----------------------------------------------------------------


def notify(
    *,
    recipients: Iterable[int],
    kind: str,
    team_id: int | None,
    object_type: str,
    object_id: int,
    occurrence: str = "",
    context: dict | None = None,
    due_at: datetime | None = None,
    exclude: Iterable[int | None] = (),
) -> int:
    """Write one outbox row per recipient (inside the caller's transaction)
    and queue their delivery for after the commit. Rows that exist already
    (same recipient, kind, object and occurrence) are left alone."""
    skip = {pk for pk in exclude if pk}
    people = sorted({pk for pk in recipients if pk} - skip)
    if not people:
        return 0
    due_at = due_at or timezone.now()
    Notification.objects.bulk_create(
        [
            Notification(
                recipient_id=pk,
                team_id=team_id,
                kind=kind,
                object_type=object_type,
                object_id=object_id,
                occurrence=occurrence[:100],
                due_at=due_at,
                context=context or {},
            )
            for pk in people
        ],
        ignore_conflicts=True,
    )
    key = {"kind": kind, "object_type": object_type, "object_id": object_id}
    transaction.on_commit(lambda: queue_due(filters=key))
    return len(people)


def queue_due(*, now: datetime | None = None, filters: dict | None = None, limit=5000) -> int:
    """Put a delivery task on the broker for each due pending row that has no
    live message (never queued, or queued long ago and still pending)."""
    from .tasks import deliver_batch

    now = now or timezone.now()
    stale = now - requeue_after()
    with transaction.atomic():
        rows = Notification.objects.filter(status=Status.PENDING, due_at__lte=now).filter(
            Q(queued_at__isnull=True) | Q(queued_at__lt=stale)
        )
        if filters:
            rows = rows.filter(**filters)
        # Two scans at once each take different rows, never the same ones.
        ids = list(
            rows.order_by("due_at", "pk")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            Notification.objects.filter(pk__in=ids).update(queued_at=now)
    size = delivery_batch_size()
    sent = 0
    try:
        # One broker connection for the whole run, and a few rows per
        # message: publishing one message per row costs a broker round trip
        # each, which was most of a scan's time with hundreds due at once.
        with deliver_batch.app.producer_or_acquire() as producer:
            for start in range(0, len(ids), size):
                deliver_batch.apply_async((ids[start : start + size],), producer=producer)
                sent = min(start + size, len(ids))
    except Exception:  # noqa: BLE001 - broker down: the next scan re-queues the rest
        log.warning("could not queue %s notifications; the scan retries", len(ids) - sent)
        Notification.objects.filter(pk__in=ids[sent:], status=Status.PENDING).update(queued_at=None)
    return sent


# --- The periodic scan ----------------------------------------------------------------


def insert_new(rows: list[Notification]) -> int:
    """Insert the rows whose key is not there yet. Reading the existing keys
    first keeps a repeat scan (nearly every scan) free of writes; the unique
    constraint, with conflicts ignored, still settles a race with a
    concurrent scan."""
    if not rows:
        return 0
    existing = set()
    kinds = {r.kind for r in rows}
    for object_type in {r.object_type for r in rows}:
        ids = {r.object_id for r in rows if r.object_type == object_type}
        existing |= set(
            Notification.objects.filter(
                object_type=object_type, object_id__in=ids, kind__in=kinds
            ).values_list("recipient_id", "kind", "object_type", "object_id", "occurrence")
        )
    new = [
        r
        for r in rows
        if (r.recipient_id, r.kind, r.object_type, r.object_id, r.occurrence) not in existing
    ]
    Notification.objects.bulk_create(new, ignore_conflicts=True, batch_size=2000)
    return len(new)


def scan_digests(now: datetime) -> int:
    rows = []
    for pref in NotificationPreference.objects.filter(digest=True).select_related("user"):
        local_now = now.astimezone(zone_for(pref.user))
        send_at = datetime.combine(local_now.date(), DIGEST_HOUR, tzinfo=local_now.tzinfo)
        if local_now < send_at:
            continue
        rows.append(
            Notification(
                recipient_id=pref.user_id,
                team=None,
                kind=Kind.DIGEST,
                object_type="user",
                object_id=pref.user_id,
                occurrence=local_now.date().isoformat(),
                due_at=send_at,
                context={"title": f"Daily digest {local_now.date().isoformat()}", "path": "/"},
            )
        )
    return insert_new(rows)


def reclaim_stale(now: datetime) -> int:
    """Rows left 'sending' by a worker that died go back to pending."""
    return Notification.objects.filter(
        status=Status.SENDING, claimed_at__lt=now - claim_timeout()
    ).update(status=Status.PENDING, queued_at=None, claimed_at=None)


def _run_step(name: str, scan, now: datetime) -> int:
    # Every reminder waits on this one job: a step that raises is logged and
    # counted as nothing, and the other steps, the hand-back of dead claims
    # and the queue still run; the broken step is tried again next minute.
    try:
        return scan(now)
    except Exception:
        log.exception("notification scan step %r failed", name)
        return 0


def notifications_scan(*, now: datetime | None = None) -> dict[str, int]:
    """The one periodic job (Celery beat, every minute): run the scans the apps
    above registered (plans: window reminders, tasks, sign-offs, overruns, go
    requests, reviews, recurring plans), create the digests that are due at
    `now`, hand back dead claims, queue every due unsent row."""
    now = now or timezone.now()
    figures = {name: _run_step(name, scan, now) for name, scan in registry.scans()}
    figures["digests"] = scan_digests(now)
    figures["reclaimed"] = reclaim_stale(now)
    figures["queued"] = queue_due(now=now)
    return figures


# --- Delivery -----------------------------------------------------------------------


class Undeliverable(Exception):
    """This row should not be emailed (any more); the message says why."""

    def __init__(self, reason: str, status: str = Status.SKIPPED):
        super().__init__(reason)
        self.status = status


def _finish(pk: int, claim: datetime, **fields) -> None:
    # Only the claim that is still ours may finish the row.
    Notification.objects.filter(pk=pk, status=Status.SENDING, claimed_at=claim).update(**fields)


def notification_deliver(*, notification_id: int, connection=None) -> str:
    """Claim one row, check it still applies, render and send it, mark it.

    Returns what happened: "sent", "skipped", "cancelled", "retry", "failed"
    or "not-claimed" (someone else has it, or it is done). `connection` is an
    email backend kept open across a batch; it is closed after an error."""
    from .emails import build_message

    claimed_at = timezone.now()
    claimed = Notification.objects.filter(pk=notification_id, status=Status.PENDING).update(
        status=Status.SENDING, claimed_at=claimed_at, attempts=F("attempts") + 1
    )
    if not claimed:
        return "not-claimed"
    n = (
        Notification.objects.select_related("recipient__notification_preference", "team")
        .annotate(
            is_member=Exists(
                Membership.objects.filter(
                    team_id=OuterRef("team_id"), user_id=OuterRef("recipient_id")
                )
            )
        )
        .get(pk=notification_id)
    )
    try:
        message = build_message(n)
    except Undeliverable as why:
        _finish(n.pk, claimed_at, status=why.status, last_error=str(why)[:1000])
        return str(why.status)
    try:
        if connection is not None:
            message.connection = connection
            connection.open()  # no-op when already open
        message.send()
    except smtplib.SMTPRecipientsRefused as exc:
        # The server will never take this address: retrying cannot help.
        _finish(n.pk, claimed_at, status=Status.FAILED, last_error=repr(exc)[:1000])
        return "failed"
    except (smtplib.SMTPException, OSError) as exc:
        if connection is not None:
            # A broken session must not be reused for the next message.
            with contextlib.suppress(Exception):
                connection.close()
        if n.attempts >= max_attempts():
            _finish(n.pk, claimed_at, status=Status.FAILED, last_error=repr(exc)[:1000])
            log.error("notification %s failed after %s attempts: %r", n.pk, n.attempts, exc)
            return "failed"
        _finish(
            n.pk,
            claimed_at,
            status=Status.PENDING,
            due_at=timezone.now() + retry_delay(n.attempts),
            queued_at=None,
            claimed_at=None,
            last_error=repr(exc)[:1000],
        )
        log.warning("notification %s attempt %s failed: %r", n.pk, n.attempts, exc)
        return "retry"
    _finish(n.pk, claimed_at, status=Status.SENT, sent_at=timezone.now(), last_error="")
    return "sent"


@transaction.atomic
def notification_retry(*, notification: Notification) -> Notification:
    """A team admin asks for a failed message to be tried again."""
    if notification.status != Status.FAILED:
        raise ValidationError(_("Only a failed message can be retried."))
    Notification.objects.filter(pk=notification.pk, status=Status.FAILED).update(
        status=Status.PENDING, attempts=0, due_at=timezone.now(), queued_at=None, claimed_at=None
    )
    transaction.on_commit(lambda: queue_due(filters={"pk": notification.pk}))
    notification.refresh_from_db()
    return notification


# --- In-app and preferences ------------------------------------------------------------


def notifications_mark_read(*, user: User, ids: Iterable[int] | None = None) -> int:
    """Mark the user's own notifications read (all of them when ids is None)."""
    rows = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    return rows.update(read_at=timezone.now())


def stored_preference(user: User) -> NotificationPreference:
    """The person's saved preferences, or the defaults (unsaved) if they never
    chose; reads the select_related row when there is one."""
    try:
        return user.notification_preference
    except NotificationPreference.DoesNotExist:
        return NotificationPreference(user=user, lead_times_minutes=list(DEFAULT_LEAD_TIMES))


def preference_for(user: User) -> NotificationPreference:
    pref, _created = NotificationPreference.objects.get_or_create(
        user=user, defaults={"lead_times_minutes": list(DEFAULT_LEAD_TIMES)}
    )
    return pref


@transaction.atomic
def preference_update(
    *, user: User, lead_times_minutes: list[int], email_off: list[str], digest: bool
) -> NotificationPreference:
    """Save a person's reminder lead times, email choices and digest choice."""
    leads = sorted({int(m) for m in lead_times_minutes})
    if not leads:
        raise ValidationError({"lead_times": _("Give at least one lead time.")})
    if len(leads) > MAX_LEAD_TIMES:
        raise ValidationError({"lead_times": _("At most %d lead times.") % MAX_LEAD_TIMES})
    if any(m < 5 or m > MAX_LEAD_MINUTES for m in leads):
        raise ValidationError(
            {"lead_times": _("Each lead time must be between 5 minutes and 14 days.")}
        )
    unknown = set(email_off) - set(Group.values)
    if unknown:
        raise ValidationError({"email_off": _("Unknown kind of notification.")})
    pref = preference_for(user)
    pref.lead_times_minutes = leads
    pref.email_off = sorted(set(email_off))
    pref.digest = digest
    pref.save(update_fields=["lead_times_minutes", "email_off", "digest"])
    return pref


@transaction.atomic
def calendar_token_reset(*, user: User) -> str:
    """A new private feed URL; the old one stops working at once. Returns the
    raw token, to be shown once: only its hash is stored."""
    pref = preference_for(user)
    raw = new_token()
    pref.calendar_token_hash = hash_token(raw)
    pref.save(update_fields=["calendar_token_hash"])
    return raw


@transaction.atomic
def team_feed_reset(*, team: Team) -> str:
    """A new team feed URL (the old one stops working); the raw token, shown once."""
    raw = new_token()
    TeamCalendarFeed.objects.update_or_create(team=team, defaults={"token_hash": hash_token(raw)})
    return raw

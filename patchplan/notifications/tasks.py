"""Celery adapters for the outbox. Tasks take ids and call services.

`deliver` is acks_late: if the worker dies mid-task the broker hands the
message to another worker, which is safe because the row is claimed with a
conditional UPDATE (a second run finds it no longer pending and does
nothing). Its retries are data, not Celery countdowns: a failed attempt puts
the row back with a later due time and the scan queues it then, so no ETA
message sits in Redis (which would be redelivered after the visibility
timeout) and a retry survives any worker restart."""

from __future__ import annotations

import contextlib

from celery import shared_task
from django.conf import settings
from django.core.mail import get_connection

from . import services

# The claim timeout (services.claim_timeout) is measured against this: a
# delivery that cannot run longer than the limit cannot still be running
# when its claim is taken back.
_LIMITS = {
    "time_limit": settings.NOTIFICATIONS_DELIVERY_TIME_LIMIT_SECONDS,
    "soft_time_limit": max(1, settings.NOTIFICATIONS_DELIVERY_TIME_LIMIT_SECONDS - 10),
}


@shared_task(name="notifications.deliver", acks_late=True, ignore_result=True, **_LIMITS)
def deliver(notification_id: int) -> str:
    return services.notification_deliver(notification_id=notification_id)


@shared_task(name="notifications.deliver_batch", acks_late=True, ignore_result=True, **_LIMITS)
def deliver_batch(notification_ids: list[int]) -> dict[str, int]:
    """Deliver a few rows over one SMTP session. Each row is claimed on its
    own, so a batch run twice (redelivered after a worker died) sends
    nothing twice but the one message that was in flight."""
    outcomes: dict[str, int] = {}
    connection = get_connection()
    try:
        for pk in notification_ids:
            result = services.notification_deliver(notification_id=pk, connection=connection)
            outcomes[result] = outcomes.get(result, 0) + 1
    finally:
        with contextlib.suppress(Exception):
            connection.close()
    return outcomes


# The scan is not acks_late: a lost run is simply the next minute's run.
@shared_task(name="notifications.scan", ignore_result=True)
def scan() -> dict[str, int]:
    return services.notifications_scan()

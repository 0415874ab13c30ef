"""Faults, each a test, with real processes: a `celery worker` subprocess
killed with SIGKILL mid-batch, and a broker (a redis-server of the test's
own) killed and restarted under a running worker. The SMTP server is real
(aiosmtpd on loopback) and counts what arrives, per outbox row."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from patchplan.notifications import services
from patchplan.notifications.models import Notification, Status

from .conftest import free_port, ids_received, wait_until
from .helpers import make_window_world
from .processes import RedisServer, WorkerProcess, child_env, run_scan

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


def _make_rows(team, planner, engineer, windows: int) -> set[int]:
    for _ in range(windows):
        make_window_world(team, owner=planner, engineer=engineer, starts_in=timedelta(minutes=50))
    services.scan_window_reminders(timezone.now())
    return set(Notification.objects.values_list("pk", flat=True))


def _explain(worker, smtp):
    def explain() -> str:
        statuses = sorted(Notification.objects.values_list("pk", "status", "attempts"))
        return (
            f"{len(smtp.messages)} received; rows {statuses}; worker alive={worker.alive()}\n"
            f"{worker.output()[-4000:]}"
        )

    return explain


def _after_dead_claims() -> str:
    """A scan time at which any claim made now counts as dead and any queued
    message as lost."""
    later = timezone.now() + max(services.claim_timeout(), services.requeue_after())
    return (later + timedelta(minutes=1)).isoformat()


def test_worker_killed_mid_batch_then_restarted_every_message_arrives(
    require_postgres, celery_queue, smtp, team, planner, engineer
):
    expected = _make_rows(team, planner, engineer, windows=20)
    assert len(expected) == 40
    smtp.delay = 0.05  # the kill lands while messages are in flight
    env = child_env(broker=settings.CELERY_BROKER_URL, queue=celery_queue, email_port=smtp.port)
    worker = WorkerProcess(env, celery_queue, "first")
    try:
        run_scan(env)
        smtp.wait_for(8, timeout=60)
        worker.kill()  # SIGKILL: no clean-up, no ack, a claim may be left behind
        at_kill = len(smtp.messages)
        assert at_kill < len(expected), "the worker finished before the kill"
        # The sweep (before a new worker runs, so no live claim is taken
        # for a dead one) hands back the dead claim and re-queues the rest.
        run_scan(env, at=_after_dead_claims())
        worker = WorkerProcess(env, celery_queue, "second")
        wait_until(
            lambda: Notification.objects.filter(status=Status.SENT).count() == len(expected),
            timeout=90,
            explain=_explain(worker, smtp),
        )
    finally:
        worker.kill()
    received = ids_received(smtp)
    assert set(received) == expected  # nothing lost
    # At most the one message in flight at the kill arrives twice.
    assert len(received) - len(set(received)) <= 1


def test_broker_restarted_mid_run_worker_recovers_and_sweep_completes(
    require_postgres, celery_queue, smtp, team, planner, engineer
):
    expected = _make_rows(team, planner, engineer, windows=15)
    smtp.delay = 0.1
    broker = RedisServer(free_port())
    broker.start()
    env = child_env(broker=broker.url, queue=celery_queue, email_port=smtp.port)
    worker = WorkerProcess(env, celery_queue, "outage")
    try:
        run_scan(env)
        smtp.wait_for(5, timeout=60)
        broker.stop()  # every queued message is gone with it (no persistence)
        # The worker has seen the outage (or died of it, handled below) before
        # we count: the outage happened mid-run.
        wait_until(
            lambda: "Connection to broker lost" in worker.output() or not worker.alive(),
            timeout=60,
            explain=_explain(worker, smtp),
        )
        assert len(smtp.messages) < len(expected)
        broker.start()
        # The worker reconnects by itself (Celery's broker_connection_retry).
        wait_until(
            lambda: worker.output().count("Connected to redis") >= 2 or not worker.alive(),
            timeout=60,
            explain=_explain(worker, smtp),
        )
        if not worker.alive():
            # Seen in about 1 run in 6: kombu 5.7's Redis transport fails
            # while closing the lost connection (restore_unacked on a
            # connection already gone) and the worker process exits. A
            # supervisor restarts it (docs/notifications.md); so do we. Any
            # other death is a failure.
            assert "restore_unacked" in worker.output(), worker.output()[-4000:]
            worker = WorkerProcess(env, celery_queue, "outage-restarted")
        run_scan(env, at=_after_dead_claims())
        wait_until(
            lambda: Notification.objects.filter(status=Status.SENT).count() == len(expected),
            timeout=90,
            explain=_explain(worker, smtp),
        )
    finally:
        worker.kill()
        broker.stop()
    received = ids_received(smtp)
    assert set(received) == expected
    assert len(received) == len(set(received))  # nobody died mid-send: no duplicate

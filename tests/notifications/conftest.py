"""Real components for notification tests: an SMTP server on loopback
(aiosmtpd) that keeps what it receives, a Celery worker on the real Redis
broker with a queue of its own, and helpers to read the mail."""

from __future__ import annotations

import asyncio
import contextlib
import email
import os
import socket
import threading
import time
import uuid
from email import policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from icalendar import Calendar

from patchplan.celery import app as celery_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler:
    def __init__(self, box: Mailbox):
        self.box = box

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        if self.box.delay:
            await asyncio.sleep(self.box.delay)
        self.box.add(list(envelope.rcpt_tos), envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


class Mailbox:
    """A real SMTP server on 127.0.0.1 that stores messages; stop() and
    start() take it down and bring it back on the same port."""

    def __init__(self, port: int):
        self.port = port
        self.delay = 0.0  # seconds to wait before accepting each message
        self.received: list[tuple[list[str], EmailMessage]] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    def add(self, rcpts: list[str], raw: bytes) -> None:
        msg = email.message_from_bytes(raw, policy=policy.default)
        with self._lock:
            self.received.append((rcpts, msg))

    def start(self) -> None:
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return [m for _r, m in self.received]

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for r, m in self.received if address in r]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.messages) >= count:
                return self.messages
            time.sleep(0.05)
        raise AssertionError(f"expected {count} messages, got {len(self.messages)}")


@pytest.fixture
def smtp(settings):
    """The SMTP server, with Django's email settings pointed at it."""
    box = Mailbox(free_port())
    box.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = box.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    yield box
    box.stop()


@pytest.fixture(autouse=True)
def own_queue():
    """Every test here sends its tasks to a queue of its own on the test
    broker, deleted afterwards, so no other worker (a developer's, another
    test's) takes them and nothing piles up."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"test-notify-{worker}-{uuid.uuid4().hex[:10]}"
    old = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = name
    yield name
    celery_app.conf.task_default_queue = old
    with contextlib.suppress(Exception), celery_app.connection_for_write() as conn:
        conn.default_channel.queue_delete(name)
        # kombu leaves its binding keys (and messages published after the
        # delete, e.g. by a last on_commit) behind on Redis.
        client = getattr(conn.default_channel, "client", None)
        if client is not None:
            for key in client.scan_iter(f"*{name}*"):
                client.delete(key)


@pytest.fixture
def celery_queue(own_queue, require_redis):
    return own_queue


@pytest.fixture
def celery_worker(celery_queue, transactional_db):
    """A real Celery worker (in this process, a thread) consuming the test queue."""
    from celery.contrib.testing.worker import start_worker

    with start_worker(
        celery_app, pool="solo", perform_ping_check=False, queues=[celery_queue], loglevel="WARNING"
    ) as worker:
        yield worker


def parts(msg: EmailMessage) -> dict[str, str]:
    """text, html and ics (decoded) of a message."""
    found = {}
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "text/plain" and "text" not in found:
            found["text"] = part.get_content()
        elif ctype == "text/html":
            found["html"] = part.get_content()
        elif ctype == "text/calendar":
            found["ics"] = part.get_content()
            found["ics_method"] = part.get_param("method")
    return found


def ics_event(msg: EmailMessage):
    cal = Calendar.from_ical(parts(msg)["ics"])
    events = list(cal.walk("VEVENT"))
    assert len(events) == 1
    return cal, events[0]


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.05, explain=None):
    """Poll until predicate() is true; on timeout explain() says what was seen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time" + (f": {explain()}" if explain else ""))


def ids_received(box: Mailbox) -> list[int]:
    return [int(m["X-PatchPlan-Notification"]) for m in box.messages]

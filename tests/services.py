"""Which real services this run has, and what to do when one is missing.

With CI=true or REQUIRE_SERVICES=1 a missing service fails the test that
needs it; otherwise it is skipped with the reason."""

from __future__ import annotations

import os
import shutil
import socket
from functools import cache
from urllib.parse import urlparse

import pytest
from django.conf import settings


def services_required() -> bool:
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("REQUIRE_SERVICES") == "1"


def missing(reason: str) -> None:
    if services_required():
        pytest.fail(f"required service missing: {reason}", pytrace=False)
    pytest.skip(reason)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def using_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


@cache
def redis_url() -> str | None:
    url = settings.CELERY_BROKER_URL
    if not url.startswith("redis://"):
        return None
    parsed = urlparse(url)
    return url if _port_open(parsed.hostname or "127.0.0.1", parsed.port or 6379) else None


def chromium_path() -> str | None:
    return (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )

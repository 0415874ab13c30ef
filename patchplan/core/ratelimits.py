"""Request rate limits with django-ratelimit on the shared cache.

The counters live in CACHES["default"]: Redis in production (CACHE_URL), so
every web process on every host counts together; the embedded default
(locmem) counts per process, which is all a single-process install needs.
A limited request is answered 429 with Retry-After: the seconds until the
fixed window (django-ratelimit's, one per key) that refused it ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage


def client_ip(request: HttpRequest) -> str:
    """The client's address by the same PROXY_COUNT rules as login throttling
    (RATELIMIT_IP_META_KEY): behind a proxy, REMOTE_ADDR is the proxy's, and
    one limit for every client would refuse the whole fleet at once."""
    return get_client_ip_address(request) or request.META.get("REMOTE_ADDR") or "0.0.0.0"  # noqa: S104


def setting_rate(name: str) -> Callable[[str, HttpRequest], str]:
    """A rate read from settings at request time (operators tune it by env)."""
    return lambda group, request: getattr(settings, name)


@dataclass(frozen=True)
class Limit:
    group: str
    key: str | Callable[[str, HttpRequest], str]
    rate: Callable[[str, HttpRequest], str]


def retry_after(request: HttpRequest, limits: Iterable[Limit]) -> int:
    """Seconds until every limit that refuses this request lets it through
    again (read only: the decorators already counted the request)."""
    waits = []
    for limit in limits:
        usage = get_usage(
            request, group=limit.group, key=limit.key, rate=limit.rate, increment=False
        )
        if usage and usage["should_limit"]:
            # time_left reaches 0 in the window's last second, which still
            # counts: the next window starts one second later.
            waits.append(usage["time_left"] + 1)
    # None left when the window ended between the decorators' count and this
    # read (a second boundary): the request was refused, the next try is free.
    return max([1, *waits])

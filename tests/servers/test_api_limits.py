"""Rate limits of the inventory API (issue 15, part 3): django-ratelimit's
decorator counting in a real Redis cache, as in production, with the clock
frozen and moved by time-machine."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from servers.services import token_create
from tests import factories

from .helpers import QUERY, sample

pytestmark = pytest.mark.django_db

START = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


@pytest.fixture
def shared_cache(settings, require_redis):
    """The production kind of cache (Redis), under a prefix of this test's own."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": require_redis,
            "KEY_PREFIX": f"test-ratelimit-{uuid.uuid4().hex}",
        }
    }
    settings.API_RATE_PER_TOKEN = "30/h"
    settings.API_RATE_PER_ADDRESS = "60/h"


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def token(team, admin):
    factories.ServerFactory(team=team, hostname="web-01")
    return token_create(team=team, name="hosts", by=admin)[1]


def push(client, raw, ip="192.0.2.10"):
    return client.post(
        reverse("api_inventory_push", args=["web-01"]),
        data=sample(QUERY),
        content_type="text/plain",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
        REMOTE_ADDR=ip,
    )


def test_a_host_pushing_every_few_minutes_is_never_limited(client, shared_cache, clock, token):
    # 30/h per token in this test: a push every 3 minutes for 6 hours is 20 an hour.
    statuses = set()
    for _ in range(6 * 20):
        statuses.add(push(client, token).status_code)
        clock.shift(timedelta(minutes=3))
    assert statuses == {200, 201}


def test_past_the_token_limit_the_answer_is_429_with_retry_after(
    client, shared_cache, clock, token
):
    # From many addresses, so only the token's limit is reached.
    answers = [push(client, token, ip=f"192.0.2.{i}").status_code for i in range(30)]
    assert 429 not in answers
    refused = push(client, token, ip="192.0.2.200")
    assert refused.status_code == 429
    wait = int(refused["Retry-After"])
    assert 1 <= wait <= 3600
    assert refused.json()["retry_after"] == wait
    # Still refused a second before the window ends, accepted once it has.
    clock.shift(timedelta(seconds=wait - 1))
    assert push(client, token, ip="192.0.2.201").status_code == 429
    clock.shift(timedelta(seconds=1))
    assert push(client, token, ip="192.0.2.202").status_code in (200, 201)


def test_past_the_address_limit_even_other_tokens_are_refused(
    client, shared_cache, clock, team, admin
):
    factories.ServerFactory(team=team, hostname="web-01")
    # 60/h per address: two tokens at 30 each from one address fill it.
    raws = [token_create(team=team, name=f"t{i}", by=admin)[1] for i in range(3)]
    for raw in raws[:2]:
        assert {push(client, raw).status_code for _ in range(30)} <= {200, 201}
    refused = push(client, raws[2])
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    # Another address with the fresh token is not affected.
    assert push(client, raws[2], ip="198.51.100.7").status_code in (200, 201)


def test_guessing_tokens_from_one_address_is_limited_too(client, shared_cache, clock, token):
    answers = [push(client, f"ppi_guess{i}").status_code for i in range(60)]
    assert set(answers) == {401}
    assert push(client, "ppi_guess-more").status_code == 429
    # The limit is on the address: the real token from there waits as well.
    assert push(client, token).status_code == 429


def test_retry_after_holds_when_the_window_ends_between_counting_and_answering(
    rf, shared_cache, clock
):
    # The decorators count a request and find it limited; if the window ends
    # (a second boundary) before the answer reads the counters back, no limit
    # refuses the request any more. The answer must still be a 429 with a
    # Retry-After of at least a second, not an error.
    from patchplan.core.ratelimits import retry_after
    from servers.api import LIMITS

    request = rf.post("/api/v1/servers/web-01/inventory", HTTP_AUTHORIZATION="Bearer ppi_x")
    assert retry_after(request, LIMITS) == 1

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _frozen(frozen_now):
    """Reports count days back from "now": fixtures and code share one instant."""
    return frozen_now


@pytest.fixture(autouse=True)
def _empty_cache():
    """The reports cache figures per process; each test starts without them."""
    cache.clear()
    yield
    cache.clear()

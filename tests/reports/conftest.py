import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _empty_cache():
    """The reports cache figures per process; each test starts without them."""
    cache.clear()
    yield
    cache.clear()

import pytest


@pytest.fixture(autouse=True)
def _regimes(regimes, roles):
    """Every DSAR test runs with the shipped regimes, purposes and roles."""


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """Rate-limit counters live in the cache; each test starts with none."""
    from django.core.cache import cache

    cache.clear()

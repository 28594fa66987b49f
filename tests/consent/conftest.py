import pytest


@pytest.fixture(autouse=True)
def _regimes(regimes):
    """Every consent test runs with the shipped regimes and purposes."""

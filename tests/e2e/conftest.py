"""Fixtures of the browser tests: the hub's live server, one headless Chromium per module (a
fresh session per test with `signed_out`), a fresh Chromium per test (`driver`). Helpers
(signing in, waiting, the admin's actions and forms) are in tests/browser.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import chromium


@pytest.fixture
def hub(live_server, regimes):
    """The hub, regimes seeded; `str(hub)` is its URL, http://localhost:<port>: another origin
    than the 127.0.0.1 of tests.browser.customer_site."""
    return live_server


@pytest.fixture(scope="module")
def downloads(tmp_path_factory) -> Path:
    """Where the module's Chromium saves the files pages hand out."""
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads) -> Iterator:
    """One headless Chromium for the module's tests (starting one costs seconds)."""
    driver = chromium(download_dir=str(downloads))
    yield driver
    driver.quit()


@pytest.fixture
def signed_out(hub, roles, browser) -> None:
    """A fresh session for each test on the module's Chromium: no cookie of the one before."""
    browser.get(f"{hub.url}/admin/login/")
    browser.delete_all_cookies()


@pytest.fixture
def driver() -> Iterator:
    """A Chromium of the test's own, closed after it."""
    fresh = chromium()
    yield fresh
    fresh.quit()

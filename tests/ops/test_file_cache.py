"""The embedded setup's file cache: a write does not list the cache directory (at most once a
second per process), and when the cache is full it drops expired entries before live ones, so
a client's live rate-limit bucket survives a crowd of expired ones."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core import cache as file_cache
from core.cache import FileCache


@pytest.fixture
def small(tmp_path, monkeypatch):
    monkeypatch.setattr(file_cache, "CULL_INTERVAL", 0.0)
    return FileCache(str(tmp_path), {"OPTIONS": {"MAX_ENTRIES": 10, "CULL_FREQUENCY": 2}})


def test_a_full_cache_drops_expired_entries_before_live_ones(small):
    for i in range(9):
        small.set(f"old-{i}", i, timeout=1)
    small.set("bucket", 5, timeout=60)
    time.sleep(1.1)  # the nine old entries expire
    small.set("next", 1, timeout=60)  # the cache is full: culling drops only the expired
    assert small.get("bucket") == 5
    assert small.get("next") == 1
    assert len(small._list_cache_files()) == 2


def test_a_cache_full_of_live_entries_still_keeps_its_size(small):
    for i in range(40):
        small.set(f"live-{i}", i, timeout=60)
    assert len(small._list_cache_files()) <= 10


def test_writes_look_at_the_directory_at_most_once_a_second(tmp_path, monkeypatch):
    cache = FileCache(str(tmp_path), {})
    looks = []
    original = cache._list_cache_files
    monkeypatch.setattr(cache, "_list_cache_files", lambda: looks.append(1) or original())
    for i in range(50):
        cache.set(f"k{i}", i)
    assert len(looks) == 1
    assert cache.get("k49") == 49


@pytest.mark.parametrize("swap", [True, False], ids=["swapped", "replaced"])
def test_a_reader_never_finds_an_entry_missing_while_another_process_rewrites_it(
    tmp_path, monkeypatch, swap
):
    """A rate bucket rewritten by one worker is, for another worker reading it meanwhile,
    the old value or the new one, never missing (a bucket read missing starts full again);
    so where the entries are swapped (Linux) and where they are replaced (elsewhere)."""
    import multiprocessing

    if swap:
        assert file_cache._RENAMEAT2 is not None  # this machine: Linux, glibc
    else:
        monkeypatch.setattr(file_cache, "_RENAMEAT2", None)
    cache = FileCache(str(tmp_path), {})
    cache.set("bucket", 0, timeout=60)
    stop = multiprocessing.Event()
    writer = multiprocessing.get_context("fork").Process(
        target=_rewrite, args=(str(tmp_path), stop)
    )
    writer.start()
    try:
        missing = sum(cache.get("bucket") is None for _ in range(20_000))
    finally:
        stop.set()
        writer.join(timeout=10)
    assert missing == 0
    only = Path(cache._key_to_file("bucket")).name
    assert [p.name for p in tmp_path.iterdir()] == [only]  # no temporary file left


def _rewrite(location: str, stop) -> None:
    cache = FileCache(location, {})
    n = 0
    while not stop.is_set():
        n += 1
        cache.set("bucket", n, timeout=60)

"""Version stamps read once per request (core.stamps): the principal's generation and the
reference data's version cost one cache read together, and nothing read in one request is
trusted in the next, so a change made elsewhere is seen on the very next request."""

from __future__ import annotations

from django.core.cache import cache

from core import stamps


def test_inside_a_request_the_stamps_are_read_once_and_together(monkeypatch):
    stamps.stamp_register("tests:stamp:a")
    stamps.stamp_register("tests:stamp:b")
    cache.set("tests:stamp:a", "a1")
    cache.set("tests:stamp:b", "b1")
    reads: list[object] = []
    real = cache.get_many
    monkeypatch.setattr(cache, "get_many", lambda keys: reads.append(keys) or real(keys))

    stamps.request_started()
    try:
        assert stamps.stamp_read("tests:stamp:a") == "a1"
        cache.set("tests:stamp:b", "b2")  # another process moves b during this request
        assert stamps.stamp_read("tests:stamp:b") == "b1"  # one consistent read per request
        assert len(reads) == 1
        assert {"tests:stamp:a", "tests:stamp:b"} <= set(reads[0])
    finally:
        stamps.request_finished()

    stamps.request_started()  # the next request sees the change
    try:
        assert stamps.stamp_read("tests:stamp:b") == "b2"
    finally:
        stamps.request_finished()


def test_a_request_that_moves_a_stamp_reads_its_own_new_value():
    stamps.stamp_register("tests:stamp:c")
    cache.set("tests:stamp:c", "c1")
    stamps.request_started()
    try:
        assert stamps.stamp_read("tests:stamp:c") == "c1"
        stamps.stamp_move("tests:stamp:c")
        moved = stamps.stamp_read("tests:stamp:c")
        assert moved != "c1"
        assert cache.get("tests:stamp:c") == moved
    finally:
        stamps.request_finished()


def test_outside_a_request_every_read_goes_to_the_cache_and_a_lost_stamp_is_recreated():
    stamps.stamp_register("tests:stamp:d")
    cache.delete("tests:stamp:d")
    first = stamps.stamp_read("tests:stamp:d")
    assert first
    assert cache.get("tests:stamp:d") == first
    cache.set("tests:stamp:d", "d2")
    assert stamps.stamp_read("tests:stamp:d") == "d2"


def test_a_stamp_the_cache_went_back_to_is_moved_on():
    """A cache restored from an older snapshot (or a replica that missed the last writes)
    holds an older value again: a process that saw a newer one moves the stamp on, so what
    was kept under the older value is not trusted again. A value of the earlier format (no
    time) is taken as it is."""
    stamps.stamp_register("tests:stamp:e")
    cache.delete("tests:stamp:e")
    older = stamps.stamp_read("tests:stamp:e")
    stamps.stamp_move("tests:stamp:e")
    newer = stamps.stamp_read("tests:stamp:e")
    assert newer > older
    cache.set("tests:stamp:e", older)  # the cache went back
    moved = stamps.stamp_read("tests:stamp:e")
    assert moved not in (older, newer)
    assert moved > newer
    assert cache.get("tests:stamp:e") == moved
    cache.set("tests:stamp:e", "0123abc")  # written before stamps carried their time
    assert stamps.stamp_read("tests:stamp:e") == "0123abc"

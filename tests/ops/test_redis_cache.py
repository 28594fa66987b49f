"""The Redis cache backend (CACHE_URL): one client per connection pool for the life of the
process, instead of Django's new client object per call, and still a plain Django cache that
works across threads and in a forked worker."""

from __future__ import annotations

import multiprocessing
import threading
import uuid

import pytest

from core.cache import RedisCache


@pytest.fixture
def redis_cache():
    cache = RedisCache(
        "redis://127.0.0.1:6379/13", {"KEY_PREFIX": f"test-{uuid.uuid4().hex}", "TIMEOUT": 60}
    )
    yield cache
    cache.delete_many(["a", "b", "n", "gone", "child", "thread-0", "thread-1", "thread-2"])


def test_the_client_is_built_once_and_shared_by_reads_and_writes(redis_cache):
    client = redis_cache._cache.get_client()
    assert redis_cache._cache.get_client(write=True) is client
    redis_cache.set("a", 1)
    assert redis_cache._cache.get_client("a") is client


def test_it_is_a_plain_django_cache(redis_cache):
    redis_cache.set("a", {"x": 1})
    assert redis_cache.get("a") == {"x": 1}
    assert redis_cache.add("a", 2) is False
    assert redis_cache.add("b", 2) is True
    assert redis_cache.get_many(["a", "b", "missing"]) == {"a": {"x": 1}, "b": 2}
    redis_cache.set("n", 1)
    assert redis_cache.incr("n", 5) == 6
    redis_cache.set("gone", 1, timeout=0)  # a non-positive timeout deletes
    assert redis_cache.get("gone") is None
    redis_cache.delete("a")
    assert redis_cache.get("a", "default") == "default"


def test_threads_share_the_client(redis_cache):
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(50):
                redis_cache.set(f"thread-{n}", i)
                assert redis_cache.get(f"thread-{n}") == i
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def _in_child(cache: RedisCache, queue) -> None:
    cache.set("child", "written after the fork")
    queue.put(cache.get("child"))


def test_a_forked_worker_gets_connections_of_its_own(redis_cache):
    redis_cache.set("a", 1)  # the parent's pool holds a connection before the fork
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_in_child, args=(redis_cache, queue))
    child.start()
    assert queue.get(timeout=20) == "written after the fork"
    child.join(timeout=20)
    assert child.exitcode == 0
    assert redis_cache.get("a") == 1  # the parent's connection still answers
    assert redis_cache.get("child") == "written after the fork"

"""The Redis cache backend (CACHE_URL): one client per connection pool for the life of the
process, instead of Django's new client object per call, and still a plain Django cache that
works across threads and in a forked worker."""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

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


@pytest.fixture
def silent_server():
    from tests.faults import silent_server

    with silent_server() as url:
        yield url


def _timed(call) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        call()
    except BaseException as exc:
        return time.monotonic() - started, exc
    return time.monotonic() - started, None


@pytest.mark.django_db
def test_a_silent_cache_costs_a_request_the_socket_timeout_then_fails_at_once(
    client, settings, silent_server
):
    """A hung Redis waited six seconds per command (redis-py's default: no timeout, three
    retries with backoff), holding a web worker each time; now at most the socket timeout,
    and the requests of the next seconds are answered 503 without waiting at all."""
    settings.CUSTODIA_CACHE_SOCKET_TIMEOUT = 0.3
    settings.CUSTODIA_CACHE_FAIL_FAST_SECONDS = 30
    settings.CACHES = {"default": {"BACKEND": "core.cache.RedisCache", "LOCATION": silent_server}}
    url = "/api/v1/consent/public/config/?key=unknown&region=EU"
    first, _ = _timed(lambda: client.get(url))
    response = client.get(url)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    second, _ = _timed(lambda: client.get(url))
    assert first < 2.0, first
    assert second < 0.1, second


def test_the_cache_is_tried_again_once_the_fail_fast_window_ends(settings, tmp_path):
    from tests.faults import RedisBroker

    settings.CUSTODIA_CACHE_FAIL_FAST_SECONDS = 0.5
    server = RedisBroker(tmp_path)  # a private redis-server, not started yet
    cache = RedisCache(server.url, {"KEY_PREFIX": "fail-fast"})
    _, refused = _timed(lambda: cache.get("a"))
    assert isinstance(refused, RedisConnectionError)
    server.start()
    try:
        elapsed, still = _timed(lambda: cache.get("a"))  # within the window: not tried
        assert isinstance(still, RedisConnectionError)
        assert elapsed < 0.05
        time.sleep(0.6)
        cache.set("a", 1)
        assert cache.get("a") == 1
    finally:
        server.stop()

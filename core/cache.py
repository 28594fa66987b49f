"""The project's cache backends: `FileCache` for the embedded setup (no CACHE_URL) and
`RedisCache` when CACHE_URL names a Redis server.

`RedisCache` is Django's, with one `redis.Redis` client per connection pool kept for the life
of the process. Django builds a new client object for every cache call (its constructor fills
a table of about 170 response callbacks: roughly 0.1 ms, three times per banner write or
webhook call). A client holds no connection of its own (it borrows one from the pool per
command), is safe across threads, and its pool re-creates its connections after a fork, so
sharing it changes nothing but the cost.

`FileCache`: Django's, without a disk flush per write.

Django's `FileBasedCache` writes an entry to a temporary file and renames it over the old one.
On ext4 (auto_da_alloc) a rename over an existing file starts writeback of the new file at
once: about a millisecond per write here, twice per public request (the rate-limit buckets).
This one removes the old file first, then moves the new one in: a reader in between sees a
miss, which every user of the cache already handles (a miss is never a stale value).

Django also lists the whole directory on every write to decide whether to cull (O(entries)
per write, with one rate-limit bucket per client), and culls entries at random. Here a
process looks at most once per `CULL_INTERVAL` seconds, and drops expired entries before any
live one (a live rate-limit bucket is dropped only when the cache is full of live entries)."""

from __future__ import annotations

import contextlib
import os
import random
import tempfile
import time
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient

CULL_INTERVAL = 1.0  # seconds between two looks at the directory, per process


class FileCache(FileBasedCache):
    _last_cull = float("-inf")

    def _cull(self) -> None:
        now = time.monotonic()
        if now - self._last_cull < CULL_INTERVAL:
            return
        self._last_cull = now
        base: Any = self
        files = base._list_cache_files()
        if len(files) < base._max_entries:
            return
        live = []
        for fname in files:
            with contextlib.suppress(FileNotFoundError), open(fname, "rb") as f:
                if not base._is_expired(f):  # an expired entry deletes itself
                    live.append(fname)
        if len(live) >= base._max_entries:
            for fname in random.sample(live, len(live) // max(base._cull_frequency, 1)):
                base._delete(fname)

    def set(
        self,
        key: str,
        value: Any,
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> None:
        # Django's private helpers, which its type stubs do not list.
        base: Any = self
        base._createdir()  # the directory can be deleted at any time
        fname = base._key_to_file(key, version)
        base._cull()
        fd, tmp_path = tempfile.mkstemp(dir=base._dir)
        try:
            with open(fd, "wb") as f:
                base._write_content(f, timeout, value)
            with contextlib.suppress(FileNotFoundError):
                os.remove(fname)
            os.rename(tmp_path, fname)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp_path)
            raise


class _SharedClient(RedisCacheClient):
    """Django's Redis client wrapper, building each pool's `redis.Redis` once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        base: Any = self  # Django's private helpers, which its type stubs do not list
        index = base._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = base._client(connection_pool=base._get_connection_pool(write))
            self._clients[index] = client
        return client


class RedisCache(DjangoRedisCache):
    """Django's Redis cache with the client of each pool built once per process."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _SharedClient

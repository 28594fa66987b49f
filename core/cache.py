"""The project's cache backends: `FileCache` for the embedded setup (no CACHE_URL) and
`RedisCache` when CACHE_URL names a Redis server.

`RedisCache` is Django's, with one `redis.Redis` client per connection pool kept for the life
of the process. Django builds a new client object for every cache call (its constructor fills
a table of about 170 response callbacks: roughly 0.1 ms, three times per banner write or
webhook call). A client holds no connection of its own (it borrows one from the pool per
command), is safe across threads, and its pool re-creates its connections after a fork, so
sharing it changes nothing but the cost. A silent or unreachable server costs a request at
most `CUSTODIA_CACHE_SOCKET_TIMEOUT` (`CACHE_SOCKET_TIMEOUT`, 1 s), and the commands of the
next `CUSTODIA_CACHE_FAIL_FAST_SECONDS` (`CACHE_FAIL_FAST_SECONDS`, 2 s) fail at once: the API
answers 503 `service_unavailable` (ops.errors) without waiting on the cache again.

`FileCache`: Django's, without a disk flush per write.

Django's `FileBasedCache` writes an entry to a temporary file and renames it over the old one.
On ext4 (auto_da_alloc) a rename over an existing file starts writeback of the new file at
once: about a millisecond per write here, at least once per public request (the rate-limit
buckets). Removing the old file first avoids that, but a reader in between then finds no
entry: a rate bucket read missing starts full again, so another worker let more calls through
than the limit. This one swaps the new file with the old (Linux `renameat2` with
RENAME_EXCHANGE, which ext4 does not write back), then removes the old: a reader sees the old
entry or the new, never none, for about 0.08 ms. A new key is renamed in (nothing to replace);
where the swap is not offered, the entry is replaced with `os.replace` (atomic, slower).

Django also lists the whole directory on every write to decide whether to cull (O(entries)
per write, with one rate-limit bucket per client), and culls entries at random. Here a
process looks at most once per `CULL_INTERVAL` seconds, and drops expired entries before any
live one (a live rate-limit bucket is dropped only when the cache is full of live entries).

A key's file name (Django's hash of the made key) is kept per process after its first use,
so the few keys a request reads or writes are not hashed again on every call.

Entries are read and written in Django's format with plain system calls (open, read or write,
close) instead of Python file objects and mkstemp's random names: a rate-limit bucket or an
endpoint version read costs a few microseconds, not tens."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import io
import os
import pickle
import random
import sys
import threading
import time
import zlib
from typing import Any

import redis
from django.conf import settings
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

CULL_INTERVAL = 1.0  # seconds between two looks at the directory, per process
MAX_KEPT_FILE_NAMES = 4096  # file names of keys kept per backend instance (then forgotten)


class FileCache(FileBasedCache):
    _last_cull = float("-inf")

    def __init__(self, dir: str, params: dict[str, Any]) -> None:
        super().__init__(dir, params)
        self._files: dict[tuple[str, int | None], str] = {}

    def _key_to_file(self, key: str, version: int | None = None) -> str:
        """Django's file name of `key` (its key made, validated and hashed), kept per key: the
        few keys a request uses (an endpoint's version, a rate bucket) are hashed once per
        process, not on every call. A key's validation warning is then given once."""
        fname = self._files.get((key, version))
        if fname is None:
            if len(self._files) >= MAX_KEPT_FILE_NAMES:
                self._files.clear()
            fname = self._files[key, version] = super()._key_to_file(key, version)  # type: ignore[misc]
        return fname

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

    def get(self, key: str, default: Any = None, version: int | None = None) -> Any:
        value = self._live(key, version)
        if value is None:
            return default
        return pickle.loads(zlib.decompress(value))  # noqa: S301 - the cache's own files

    def has_key(self, key: str, version: int | None = None) -> bool:
        return self._live(key, version) is not None

    def _live(self, key: str, version: int | None) -> bytes | None:
        """The compressed value of the entry, or None when there is none or it expired (then
        removed, as Django does)."""
        base: Any = self
        fname = base._key_to_file(key, version)
        data = _read(fname)
        if data is None:
            return None
        expiry, value = _parse(data)
        if expiry is not None and expiry < time.time():
            base._delete(fname)
            return None
        return value

    def set(
        self,
        key: str,
        value: Any,
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> None:
        # Django's private helpers, which its type stubs do not list.
        base: Any = self
        fname = base._key_to_file(key, version)
        base._cull()
        content = pickle.dumps(base.get_backend_timeout(timeout), base.pickle_protocol)
        content += zlib.compress(pickle.dumps(value, base.pickle_protocol))
        # A name of this process and thread (at most one write at a time uses it), not
        # mkstemp's random one: the write is a few system calls, no Python file object.
        tmp_path = f"{fname}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            fd = os.open(tmp_path, _WRITE_FLAGS, 0o600)
        except FileNotFoundError:  # the directory can be deleted at any time
            base._createdir()
            fd = os.open(tmp_path, _WRITE_FLAGS, 0o600)
        try:
            try:
                _write_all(fd, content)
            finally:
                os.close(fd)
            _install(tmp_path, fname)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp_path)
            raise


def _renameat2() -> Any:
    """Linux's renameat2 from the C library (glibc 2.28+), or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    function.restype = ctypes.c_int
    return function


_RENAMEAT2 = _renameat2()
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _install(tmp_path: str, fname: str) -> None:
    """Put the entry written at `tmp_path` in place of `fname` atomically (see the module's
    docstring): swapped with the old entry, which is then removed; renamed in when there is
    none; replaced where the swap is not offered."""
    global _RENAMEAT2
    if _RENAMEAT2 is not None:
        swapped = _RENAMEAT2(
            _AT_FDCWD, os.fsencode(tmp_path), _AT_FDCWD, os.fsencode(fname), _RENAME_EXCHANGE
        )
        if swapped == 0:
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp_path)  # the old entry, now under the temporary name
            return
        error = ctypes.get_errno()
        if error == errno.ENOENT:  # no entry yet (nothing to write back on ext4)
            os.rename(tmp_path, fname)
            return
        if error in (errno.EINVAL, errno.ENOSYS):  # not offered here (file system, kernel)
            _RENAMEAT2 = None
        else:
            raise OSError(error, os.strerror(error), fname)
    os.replace(tmp_path, fname)


_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)


def _read(fname: str) -> bytes | None:
    """The whole entry file (written elsewhere, then renamed in: never a partial one), or None."""
    try:
        fd = os.open(fname, _READ_FLAGS)
    except FileNotFoundError:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def _parse(data: bytes) -> tuple[float | None, bytes]:
    """(expiry, compressed value) of an entry in Django's format: the pickled expiry, then the
    zlib-compressed pickled value. An empty file is expired, as for Django."""
    if not data:
        return 0.0, b""
    buffer = io.BytesIO(data)
    expiry = pickle.load(buffer)  # noqa: S301 - the cache's own files
    return expiry, data[buffer.tell() :]


def _write_all(fd: int, content: bytes) -> None:
    view = memoryview(content)
    while view:
        view = view[os.write(fd, view) :]


class _FailFastRedis(redis.Redis):
    """A client that, once a command found the server unreachable or silent, fails the
    commands of the next `CUSTODIA_CACHE_FAIL_FAST_SECONDS` at once with the same error
    instead of waiting out a socket timeout each (a request then answers 503 in microseconds,
    not after a second, and the web workers stay free for the requests that need no cache).
    The first command after that window tries the server again."""

    _fail_until = float("-inf")

    def execute_command(self, *args: Any, **options: Any) -> Any:
        if time.monotonic() < self._fail_until:
            raise RedisConnectionError("the cache failed a moment ago: not tried again yet")
        try:
            return super().execute_command(*args, **options)
        except (RedisConnectionError, RedisTimeoutError):
            self._fail_until = time.monotonic() + settings.CUSTODIA_CACHE_FAIL_FAST_SECONDS
            raise


class _SharedClient(RedisCacheClient):
    """Django's Redis client wrapper, building each pool's `redis.Redis` once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}
        self._client = _FailFastRedis

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
        # A silent server costs a request at most the socket timeout, not redis-py's default
        # of no timeout and three retries with backoff (six seconds against a hung server);
        # a dropped idle connection (the server restarted) is reconnected once at once.
        timeout = settings.CUSTODIA_CACHE_SOCKET_TIMEOUT
        options = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "retry": Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
            **params.get("OPTIONS", {}),
        }
        super().__init__(server, {**params, "OPTIONS": options})
        self._class = _SharedClient

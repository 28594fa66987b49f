"""Version stamps in the shared cache that many requests check (the API principal's
generation, the consent reference data's version), read together once per request.

A stamp is a value (the time it was made and a random part) that a change replaces, so each
process knows whether what it keeps in memory is still current. A decision needs two of them:
two round trips to Redis. Apps register their stamps here (`stamp_register`); inside an HTTP
request the first `stamp_read` fetches every registered stamp in one `get_many` and answers the
others from that read for the rest of the request. A request that moves a stamp (`stamp_move`)
reads its own new value. Outside a request (workers, shells) every read goes to the cache.
What a request reads is as fresh as before: nothing is kept from one request to the next.

The time (nanoseconds, zero-padded) comes first, and each process remembers the newest value
it has seen of each stamp. A cache that goes back (restored from an older snapshot, failed over
to a replica that missed the last writes) holds an older value again, under which what was
cached before a change would be trusted again: a process that saw a newer value moves the
stamp on instead (one comparison per read)."""

from __future__ import annotations

import contextvars
import time
import uuid
from typing import Any

from django.core.cache import cache

_registered: list[str] = []
_in_request: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "core_stamps_in_request", default=None
)


# Per stamp: the time part of the newest value this process has read or made.
_newest: dict[str, int] = {}
_TIME_DIGITS = 20


def _time_of(value: Any) -> int | None:
    """The time a value was made, or None for a value without one (made before this format)."""
    if isinstance(value, str) and len(value) > _TIME_DIGITS and value[_TIME_DIGITS] == "-":
        head = value[:_TIME_DIGITS]
        if head.isdigit():
            return int(head)
    return None


def _new_value(key: str) -> str:
    """A value newer than any this process has seen of `key` (clocks of hosts differ)."""
    made = max(time.time_ns(), _newest.get(key, 0) + 1)
    return f"{made:0{_TIME_DIGITS}d}-{uuid.uuid4().hex}"


def _checked(key: str, value: Any) -> Any:
    """`value` as read from the cache, or a new value when it is older than one this process
    has seen (the cache went back: see the module's docstring)."""
    made = _time_of(value)
    if made is None:
        return value
    if made < _newest.get(key, 0):
        return _moved(key)
    _newest[key] = made
    return value


def stamp_register(key: str) -> None:
    if key not in _registered:
        _registered.append(key)


def stamps_read_with(keys: list[str]) -> dict[str, Any]:
    """The cache values of `keys` (those present), read in the same round trip as the stamps
    this request has not read yet: a request that needs other keys anyway (the public API's
    rate buckets) then reads its stamps for free."""
    read = _in_request.get()
    missing = [k for k in _registered if read is not None and k not in read]
    found = cache.get_many(missing + keys)
    if read is not None:
        read.update({k: _checked(k, found.get(k)) for k in missing})
    return {k: found[k] for k in keys if k in found}


def stamp_read(key: str) -> str:
    """The stamp's current value (created if the cache lost it: whatever was kept under the
    old value is then not trusted)."""
    read = _in_request.get()
    if read is not None and key in _registered:
        if key not in read:
            stamps_read_with([])
        value = read[key]
        if value is None:
            value = read[key] = _present(key, None)
        return value
    return _present(key, cache.get(key))


def _present(key: str, value: Any) -> Any:
    """`value` as read from the cache, checked (`_checked`); a new one if the cache had none
    (first read, or evicted: whatever was kept under the lost value is not trusted)."""
    if value is None:
        cache.add(key, _new_value(key), timeout=None)
        value = cache.get(key)
    return _checked(key, value)


def stamp_read_with(key: str, also: tuple[str, ...] = ()) -> tuple[str | None, dict[str, Any]]:
    """A stamp of one object (not registered: a source endpoint's version, one per source)
    and the cache values of the keys `also`, in one round trip, with the same checks as
    `stamp_read`: created if the cache lost it, moved on if the cache went back."""
    found = cache.get_many([key, *also])
    return _present(key, found.pop(key, None)), found


def stamp_move(key: str) -> None:
    """Replace the stamp: every process drops what it kept under the old value."""
    _moved(key)


def _moved(key: str) -> str:
    value = _new_value(key)
    cache.set(key, value, timeout=None)
    _newest[key] = _time_of(value) or 0
    read = _in_request.get()
    if read is not None:
        read[key] = value
    return value


def request_started(**_: Any) -> None:
    _in_request.set({})


def request_finished(**_: Any) -> None:
    _in_request.set(None)


def connect() -> None:
    from django.core.signals import request_finished as finished
    from django.core.signals import request_started as started

    started.connect(request_started, weak=False, dispatch_uid="core.stamps.started")
    finished.connect(request_finished, weak=False, dispatch_uid="core.stamps.finished")

"""Rate limits of the public API (banner, privacy center, DSAR intake): a token bucket per
(publishable key, client address), so one client cannot use up a property's allowance, and a
much higher ceiling per key, against a flood from many addresses.

Buckets live in the cache shared by every web process. A read-modify-write per request, as
DRF's own throttles: under heavy concurrency a bucket may let a few extra requests through,
never lock a client out wrongly."""

from __future__ import annotations

import functools
import ipaddress
import re
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.request import Request
from rest_framework.throttling import AnonRateThrottle, BaseThrottle
from rest_framework.views import APIView

from audit.actors import client_ip

KEY_HEADER = "HTTP_X_CUSTODIA_KEY"
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_COUNT = re.compile(r"[0-9]{1,15}\Z")  # ASCII digits: int() refuses "²", which isdigit() takes


@functools.lru_cache(maxsize=256)
def parse_rate(rate: str) -> tuple[int, float]:
    """'120/min' -> (capacity 120, refill 2.0 tokens per second). Kept per rate text: a few
    rates, parsed on every request (a bad one raises every time: errors are not kept)."""
    count, _, period = rate.partition("/")
    seconds = _PERIODS.get(period.strip()[:1])
    if not _COUNT.match(count.strip()) or int(count) < 1 or seconds is None:
        raise ImproperlyConfigured(f"rate {rate!r} is not N/second|minute|hour|day")
    return int(count), int(count) / seconds


def _take(state: tuple[float, float] | None, rate: str, now: float) -> tuple[float, float, float]:
    """(tokens left, stamp, seconds to wait: 0 if granted) after taking one token."""
    capacity, per_second = parse_rate(rate)
    tokens, stamp = state or (float(capacity), now)
    tokens = min(float(capacity), tokens + (now - stamp) * per_second)
    if tokens >= 1:
        return tokens - 1, now, 0.0
    return tokens, now, (1 - tokens) / per_second


def _ttl(rate: str) -> int:
    capacity, per_second = parse_rate(rate)
    return int(capacity / per_second) + 1


def bucket_take(name: str, rate: str, found: dict[str, Any] | None = None) -> float:
    """Take one token from the bucket `name`: 0 if granted, else the seconds until one is back.
    `found`: the bucket's cache value already read by the caller (in a read it made anyway),
    so taking costs one cache write."""
    return buckets_take([(name, rate)], found=found)


def buckets_take(buckets: list[tuple[str, str]], found: dict[str, Any] | None = None) -> float:
    """Take one token from each bucket in turn, stopping at the first that refuses (later ones
    are left untouched): 0 if all granted, else the seconds until that one has a token again.
    One cache read (none when the caller gives the values `found`) and one write for all (for
    one bucket a plain `set`: on Redis a single SET with its expiry, not a MULTI/EXEC
    pipeline of MSET and EXPIRE)."""
    now = time.time()
    if found is None:
        found = cache.get_many([name for name, _ in buckets])
    updated, wait = {}, 0.0
    for name, rate in buckets:
        tokens, stamp, wait = _take(found.get(name), rate, now)
        updated[name] = (tokens, stamp)
        if wait:
            break
    timeout = max(_ttl(rate) for _, rate in buckets)
    if len(updated) == 1:
        [(name, state)] = updated.items()
        cache.set(name, state, timeout=timeout)
    else:
        cache.set_many(updated, timeout=timeout)
    return wait


def client_bucket_id(address: str) -> str:
    """IPv4: the address. IPv6: its /64, the block one subscriber gets (or it could rotate
    through 2^64 addresses, one fresh bucket each)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address or "unknown"
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False).network_address) + "/64"
    return str(parsed)


def publishable_key(request: Request) -> str:
    return request.META.get(KEY_HEADER) or request.query_params.get("key") or ""


def public_buckets(request: Request, key: str) -> list[tuple[str, str]]:
    """The public API's buckets for a call with publishable key `key`: (name, rate), the
    client's first."""
    client = client_bucket_id(client_ip(request))
    return [
        (f"throttle:public:client:{key}:{client}", settings.CUSTODIA_PUBLIC_CLIENT_RATE),
        (f"throttle:public:key:{key}", settings.CUSTODIA_PUBLIC_KEY_RATE),
    ]


class PublicClientThrottle(BaseThrottle):
    """A bucket per (key, client) (CUSTODIA_PUBLIC_CLIENT_RATE), then the key's ceiling
    (CUSTODIA_PUBLIC_KEY_RATE). A client over its own limit is refused before it touches the
    key's ceiling, so it cannot drain the ceiling for everyone else. A view that already read
    the buckets (in one cache read with what it needed anyway) leaves them in `view.buckets`
    (`public_buckets` of the call) and their values in `view.buckets_found`: taking them then
    costs one cache write. A view that took them itself leaves the outcome in
    `view.throttle_wait` (seconds to wait, 0 when granted): they are not taken again."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        taken = getattr(view, "throttle_wait", None)
        if taken is not None:  # the view's lean path took this call's tokens already
            self.wait_seconds = taken
            return not taken
        key = publishable_key(request)
        if not key:
            return True  # the view answers 401 for a missing key
        found = getattr(view, "buckets_found", None)
        buckets = getattr(view, "buckets", None) or public_buckets(request, key)
        self.wait_seconds = buckets_take(buckets, found=found)
        return not self.wait_seconds

    def wait(self) -> float | None:
        return self.wait_seconds


class IntakeThrottle(AnonRateThrottle):
    """Requests that mail a code, per client address (CUSTODIA_INTAKE_RATE, default 20/hour)."""

    scope = "public_intake"

    def get_rate(self) -> str:
        return settings.CUSTODIA_INTAKE_RATE

    def get_ident(self, request: Request) -> str:
        return client_bucket_id(client_ip(request))

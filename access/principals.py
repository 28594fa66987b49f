"""The API principal (token -> user, permissions, region scope) cached in the shared cache, so a
token request costs no query, and refused on the very next request after any change.

Every cached principal sits under the current *generation*, a random value in the shared cache
(every web process and worker sees the same). Any change to what a principal is made of (API
tokens, users, their groups and permissions, group permissions, region scopes) moves the
generation at once and again when the change commits: entries of the old generation are never
read again, and an entry built from a read that raced an uncommitted change is orphaned by the
commit-time move. The move made before a write refuses the write while the cache is
unreachable (a change it cannot announce is not made). Changes made with `QuerySet.update()`
send no signal: the services doing them call `principal_generation_bump()` themselves (e.g.
`api_token_revoke`), inside their transaction."""

from __future__ import annotations

import hashlib
from typing import Any

from django.core.cache import cache
from django.db import transaction

from core.stamps import connect as stamps_connect
from core.stamps import stamp_move, stamp_read, stamp_register

GENERATION_KEY = "access:principal:generation"
TTL_SECONDS = 300


def principal_generation() -> str:
    """The current generation (created if the cache lost it: then nothing cached is trusted).
    Read once per request, with the other stamps (`core.stamps`)."""
    return stamp_read(GENERATION_KEY)


def principal_generation_bump(**_: Any) -> None:
    """Forget every cached principal, now and when the surrounding transaction commits."""
    stamp_move(GENERATION_KEY)
    transaction.on_commit(lambda: stamp_move(GENERATION_KEY))


def _generation_move_before_write(**_: Any) -> None:
    """Before a row a principal is made of is written: with the cache unreachable this raises
    and nothing is written. A save outside a transaction commits before its post_save, whose
    move would then fail: the change would be served from every process's copy once the
    cache answers again, under the generation it still holds."""
    stamp_move(GENERATION_KEY)


USED_TTL_SECONDS = 60


def _key(raw_token: str) -> str:
    return f"access:principal:{hashlib.sha256(raw_token.encode()).hexdigest()}"


def _used_key(prefix: str) -> str:
    return f"access:token-used:{prefix}"


# This process's copies of the principals it served, under the generation they were cached
# with: a request whose generation matches reads nothing more than the generation itself.
_local: dict[str, tuple[str, Any]] = {}
LOCAL_MAX_ENTRIES = 1024


def cached_token(raw_token: str) -> tuple[str, Any]:
    """(generation, the cached token with its user, or None): the generation only (read with
    the request's other stamps) when this process holds the principal under it, else also the
    shared entry. An entry cached under another generation is never returned."""
    key = _key(raw_token)
    generation = principal_generation()
    local = _local.get(key)
    if local is not None and generation == local[0]:
        return generation, local[1]
    entry = cache.get(key)
    if entry is None or entry[0] != generation:
        return generation, None
    _remember(key, entry)
    return generation, entry[1]


def cache_token(generation: str, raw_token: str, token: Any) -> None:
    """Cache a token whose user carries its permissions and region scope already loaded, under
    the generation read before it was loaded (shared, and in this process)."""
    key = _key(raw_token)
    cache.set(key, (generation, token), timeout=TTL_SECONDS)
    _remember(key, (generation, token))


def _remember(key: str, entry: tuple[str, Any]) -> None:
    if len(_local) >= LOCAL_MAX_ENTRIES:
        _local.clear()  # a bound, not an eviction policy: entries of old generations go too
    _local[key] = entry


def token_use_note(prefix: str) -> bool:
    """True for the first use of a token in a minute (whatever the number of processes)."""
    return cache.add(_used_key(prefix), 1, timeout=USED_TTL_SECONDS)


def connect_invalidation() -> None:
    """Wire the generation bump to every model a principal is built from."""
    stamp_register(GENERATION_KEY)
    stamps_connect()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission
    from django.db.models.signals import (
        m2m_changed,
        post_delete,
        post_save,
        pre_delete,
        pre_save,
    )

    from access.models import ApiToken, RegionScope

    user_model = get_user_model()
    for model in (ApiToken, RegionScope, user_model, Group, Permission):
        pre_save.connect(_generation_move_before_write, sender=model, weak=False)
        pre_delete.connect(_generation_move_before_write, sender=model, weak=False)
        post_save.connect(principal_generation_bump, sender=model, weak=False)
        post_delete.connect(principal_generation_bump, sender=model, weak=False)
    # m2m_changed is sent before the write too (pre_add, pre_remove, pre_clear).
    for through in (
        user_model.groups.through,
        user_model.user_permissions.through,
        Group.permissions.through,
    ):
        m2m_changed.connect(principal_generation_bump, sender=through, weak=False)

"""Who did it: the actor recorded on audit events (a staff user, an API token, a system task)."""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass
from typing import Any


def client_ip(request: Any) -> str:
    """The address of the client behind an HTTP request: the one place an address is read.

    `X-Forwarded-For` is anyone's to write, so it counts only when CUSTODIA_TRUSTED_PROXIES says
    how many proxies of ours stand in front of the hub: each appends the address it saw, so the
    client is that many entries from the right. Default (0): the socket's peer address. A header
    with fewer entries than trusted proxies, or no address there, falls back to the peer."""
    from django.conf import settings

    meta = getattr(request, "META", {})  # axes may ask without a request
    remote = meta.get("REMOTE_ADDR", "") or ""
    trusted = settings.CUSTODIA_TRUSTED_PROXIES
    if trusted <= 0:
        return remote
    forwarded = [part.strip() for part in meta.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < trusted:
        return remote
    candidate = forwarded[-trusted]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


@functools.lru_cache(maxsize=4096)
def truncate_ip(raw: str | None) -> str:
    """IPv4 to /24, IPv6 to /48: enough for abuse analysis, not enough to identify a person."""
    if not raw:
        return ""
    try:
        address = ipaddress.ip_address(raw.strip())
    except ValueError:
        return ""
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


NO_REGION: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Actor:
    """Who acts, and the regions of subjects they may write (`regions`; None = every region).

    Write services refuse, and never match, subjects outside `regions`. The scope fails closed:
    an actor built from a request or a user without an explicit scope has no region at all;
    `access.scoping.actor_for(request)` builds the request's actor with its scope. System
    actors (beat, seed, a pipeline acting on a request already bound to a scope) and public
    actors (a person acting on their own data, proven by a mailed code or a banner key) have
    every region."""

    kind: str  # "user" | "token" | "system" | "public"
    id: str
    label: str
    ip: str = ""
    request_id: str = ""
    regions: frozenset[str] | None = NO_REGION

    def covers(self, *regions: str) -> bool:
        """True if every one of `regions` is within this actor's scope."""
        return self.regions is None or all(r in self.regions for r in regions)

    @classmethod
    def system(cls, name: str, *, regions: frozenset[str] | None = None) -> Actor:
        return cls(kind="system", id=name, label=name, regions=regions)

    @classmethod
    def public(cls, label: str, *, ip: str = "", request_id: str = "") -> Actor:
        return cls(
            kind="public",
            id=label,
            label=label,
            ip=truncate_ip(ip),
            request_id=request_id,
            regions=None,
        )

    @classmethod
    def from_request(cls, request: Any, *, regions: frozenset[str] | None = NO_REGION) -> Actor:
        """The actor behind an HTTP request: its API token if any, else its signed-in user.

        Without `regions` it may write in no region (fail closed): build write actors with
        `access.scoping.actor_for(request)`, which passes the request's scope."""
        ip = truncate_ip(client_ip(request))
        request_id = getattr(request, "request_id", "")
        token = getattr(request, "auth", None)
        if token is not None and hasattr(token, "token_prefix"):
            return cls(
                kind="token",
                id=str(token.pk),
                label=token.token_prefix,
                ip=ip,
                request_id=request_id,
                regions=regions,
            )
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return cls(
                kind="user",
                id=str(user.pk),
                label=user.get_username(),
                ip=ip,
                request_id=request_id,
                regions=regions,
            )
        return cls(kind="public", id="anonymous", label="anonymous", ip=ip, request_id=request_id)

    @classmethod
    def for_user(
        cls, user: Any, *, request_id: str = "", regions: frozenset[str] | None = NO_REGION
    ) -> Actor:
        return cls(
            kind="user",
            id=str(user.pk),
            label=user.get_username(),
            request_id=request_id,
            regions=regions,
        )

"""Demo sources and destinations (`seed_demo`, idempotent): the web shop's inbound webhook
(Segment format) and the e-mail tool (the demo's "E-mail platform" system) as a destination
bound to `marketing_email`. What `scripts/demo_send_events.py` needs to play the shop and the
e-mail tool (the source's URL and signing secret, two service-account API tokens) is written to
`var/demo-sources.json`, mode 0600, like the demo login; tokens are created once and kept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from access import roles
from access.models import ApiToken, RegionScope
from access.services import api_token_create
from activation.models import Destination, SourceEndpoint
from audit.actors import Actor
from consent.models import Purpose
from profiles.models import System

SOURCE_SYSTEM = "Web shop"
DESTINATION_SYSTEM = "E-mail platform"
DESTINATION_PURPOSES = ["marketing_email"]
SHOP_REGIONS = ["EU"]
# name, username, scopes, regions (None: all)
TOKENS = {
    "shop_token": ("web shop backend", "service.web-shop", ["profiles:read", "consent:write"]),
    "destination_token": ("e-mail tool audience", "service.email-tool", ["destinations:read"]),
}


def config_path() -> Path:
    return Path(settings.VAR_DIR) / "demo-sources.json"


def _service_account(username: str) -> Any:
    user, _ = get_user_model().objects.get_or_create(username=username)
    user.is_staff = False
    user.set_unusable_password()
    user.save()
    user.groups.set([Group.objects.get(name=roles.SERVICE_ACCOUNT)])
    RegionScope.objects.update_or_create(user=user, defaults={"all_regions": True, "regions": []})
    return user


def _token(previous: dict[str, Any], key: str, actor: Actor) -> dict[str, Any]:
    """The token recorded last time if it still works, else a new one (the raw secret is only
    known at creation: the file is its one copy)."""
    kept = previous.get(key) or {}
    alive = ApiToken.objects.filter(pk=kept.get("id"), revoked_at__isnull=True).exists()
    if alive and kept.get("token"):
        return kept
    name, username, scopes = TOKENS[key]
    regions = SHOP_REGIONS if key == "shop_token" else None
    token, raw = api_token_create(
        user=_service_account(username),
        name=f"demo: {name}",
        scopes=scopes,
        actor=actor,
        regions=regions,
        all_regions=regions is None,
    )
    return {"id": token.pk, "token": raw}


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def seed(*, subjects: int = 0, stdout: IO[str], path: Path | None = None) -> dict[str, Any]:
    path = path or config_path()
    actor = Actor.system("seed_demo")
    previous = _read(path)
    with transaction.atomic():
        shop, _ = System.objects.get_or_create(
            name=SOURCE_SYSTEM, defaults={"kind": System.Kind.SOURCE}
        )
        source, _ = SourceEndpoint.objects.get_or_create(
            system=shop, defaults={"regions": SHOP_REGIONS, "format": "segment"}
        )
        tool, _ = System.objects.get_or_create(
            name=DESTINATION_SYSTEM, defaults={"kind": System.Kind.DESTINATION}
        )
        destination, _ = Destination.objects.get_or_create(system=tool)
        destination.purposes.set(Purpose.objects.filter(slug__in=DESTINATION_PURPOSES))
        tokens = {key: _token(previous, key, actor) for key in TOKENS}
        Destination.objects.filter(pk=destination.pk).update(
            token_id=tokens["destination_token"]["id"]
        )
    base = settings.CUSTODIA_PUBLIC_URL.rstrip("/")
    config = {
        "base_url": base,
        "source": {
            "id": str(source.pk),
            "path": f"/api/v1/sources/{source.pk}/events/",
            "secret": source.secret,
        },
        "destination": {
            "id": destination.pk,
            "path": f"/api/v1/destinations/{destination.pk}/audience/",
        },
        "purposes": DESTINATION_PURPOSES,
        **tokens,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(json.dumps(config, indent=2))
    stdout.write(
        f"  source {SOURCE_SYSTEM} (Segment) -> destination {DESTINATION_SYSTEM} "
        f"({', '.join(DESTINATION_PURPOSES)}); try: uv run --frozen python "
        f"scripts/demo_send_events.py (reads {path.name})\n"
    )
    return config

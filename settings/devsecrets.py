"""Development-only secrets: generated once into var/ (never committed), never in production."""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path


def load_or_create(path: Path) -> dict[str, str]:
    """Return the development secrets stored at `path`, creating them on first use."""
    if path.exists():
        return json.loads(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    values = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "CUSTODIA_KEYS": "1:" + base64.b64encode(os.urandom(32)).decode(),
        "CUSTODIA_BLIND_INDEX_KEY": base64.b64encode(os.urandom(32)).decode(),
        "CUSTODIA_SIGNING_KEY": base64.b64encode(os.urandom(32)).decode(),
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(values, indent=2))
    tmp.chmod(0o600)
    tmp.replace(path)
    return values

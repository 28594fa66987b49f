"""Keyed blind indexes (HMAC-SHA256) over normalized values, for exact lookups without plaintext."""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import unicodedata

import phonenumbers

from core.errors import DomainError
from core.parsers import text_is_blank
from profiles.crypto.keyring import blind_index_key

IDENTIFIER_KINDS = ("email", "phone", "customer_id", "device_id")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class InvalidIdentifier(DomainError):
    code = "invalid_identifier"


def normalize(kind: str, value: str, *, default_region: str | None = None) -> str:
    """Canonical form: lowercased trimmed e-mail, E.164 phone, trimmed ids, NFKC text."""
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if kind == "email":
        text = text.lower()
        if not _EMAIL.match(text):
            raise InvalidIdentifier(
                "Not a valid e-mail address.", fields={"value": ["invalid email"]}
            )
        return text
    if kind == "phone":
        region = (default_region or "").split("-")[0] or None
        if region == "EU":
            region = None
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException as exc:
            raise InvalidIdentifier(
                "Not a valid phone number; use +<country code>.",
                fields={"value": ["invalid phone"]},
            ) from exc
        if not phonenumbers.is_possible_number(number):
            raise InvalidIdentifier(
                "Not a possible phone number.", fields={"value": ["invalid phone"]}
            )
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if kind in ("customer_id", "device_id"):
        if text_is_blank(text):
            raise InvalidIdentifier("Identifier is empty.", fields={"value": ["empty"]})
        return text
    if kind == "name":
        return " ".join(text.casefold().split())
    if kind == "postcode":
        return "".join(ch for ch in text.casefold() if ch.isalnum())  # "1000-001" == "1000 001"
    if kind == "birth_date":
        return text
    raise InvalidIdentifier(f"Unknown identifier kind '{kind}'.", fields={"kind": ["unknown kind"]})


def blind_index(kind: str, normalized_value: str) -> str:
    """HMAC-SHA256 of kind + normalized value under the blind-index key (hex)."""
    mac = _keyed_hmac(blind_index_key()).copy()
    mac.update(f"{kind}\x00{normalized_value}".encode())
    return mac.hexdigest()


@functools.lru_cache(maxsize=4)
def _keyed_hmac(key: bytes) -> hmac.HMAC:
    # The keyed state is computed once and copied per value (same digest as hmac.new(key, msg)).
    return hmac.new(key, digestmod=hashlib.sha256)


def index_of(kind: str, value: str, *, default_region: str | None = None) -> str:
    return blind_index(kind, normalize(kind, value, default_region=default_region))

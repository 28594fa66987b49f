"""Versioned master keys (CUSTODIA_KEYS="1:<b64>,2:<b64>") that wrap per-subject data keys.

A KMS adapter fits behind `MasterKeyring.wrap/unwrap`: nothing else touches master keys.
"""

from __future__ import annotations

import base64
import binascii
import os
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

NONCE_BYTES = 12


class DecryptionError(Exception):
    """A ciphertext could not be authenticated: wrong key, wrong row, tampered or shredded.
    Never carries the ciphertext or the plaintext."""


def _decode_key(text: str, label: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImproperlyConfigured(f"{label} is not valid base64") from exc
    if len(key) != 32:
        raise ImproperlyConfigured(f"{label} must decode to 32 bytes (AES-256)")
    return key


class MasterKeyring:
    def __init__(self, spec: str, current: int = 0) -> None:
        self.keys: dict[int, bytes] = {}
        for item in spec.split(","):
            if not item.strip():
                continue
            version_text, sep, key_text = item.strip().partition(":")
            if not sep or not version_text.isdigit() or int(version_text) < 1:
                raise ImproperlyConfigured("CUSTODIA_KEYS entries look like '1:<base64 key>'")
            version = int(version_text)
            if version in self.keys:
                raise ImproperlyConfigured(f"CUSTODIA_KEYS lists version {version} twice")
            self.keys[version] = _decode_key(key_text, f"CUSTODIA_KEYS version {version}")
        if not self.keys:
            raise ImproperlyConfigured("CUSTODIA_KEYS holds no key")
        # One AES-GCM object per master key: its key schedule is computed once, not per wrap.
        self._ciphers = {version: AESGCM(key) for version, key in self.keys.items()}
        self.current = current or max(self.keys)
        if self.current not in self.keys:
            raise ImproperlyConfigured(
                f"CUSTODIA_CURRENT_KEY_VERSION {current} is not in CUSTODIA_KEYS"
            )

    def wrap(
        self, data_key: bytes, *, context: bytes, version: int | None = None
    ) -> tuple[bytes, int]:
        """Encrypt a data key under master `version` (default: current), bound to `context`."""
        version = version or self.current
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._ciphers[version].encrypt(nonce, data_key, context), version

    def unwrap(self, wrapped: bytes, *, version: int, context: bytes) -> bytes:
        cipher = self._ciphers.get(version)
        if cipher is None:
            raise DecryptionError(f"master key version {version} is not configured")
        try:
            return cipher.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], context)
        except Exception as exc:  # InvalidTag and malformed input alike
            raise DecryptionError("data key could not be unwrapped") from exc


@lru_cache(maxsize=1)
def _keyring(spec: str, current: int) -> MasterKeyring:
    return MasterKeyring(spec, current)


def master_keyring() -> MasterKeyring:
    """The keyring configured by settings (re-read when the settings change, e.g. in tests)."""
    return _keyring(settings.CUSTODIA_KEYS, settings.CUSTODIA_CURRENT_KEY_VERSION)


def blind_index_key() -> bytes:
    # Read tens of times per imported line (blind indexes, matching encodings): Django's
    # settings object keeps each value read in its own __dict__ (cleared when the settings
    # change, override_settings included), which is read here without LazyObject's Python
    # __getattribute__ hook (over a microsecond per access).
    text = object.__getattribute__(settings, "__dict__").get("CUSTODIA_BLIND_INDEX_KEY")
    return _blind_index_key(settings.CUSTODIA_BLIND_INDEX_KEY if text is None else text)


@lru_cache(maxsize=4)
def _blind_index_key(text: str) -> bytes:
    # Decoded once per configured value (imports compute several indexes per line).
    return _decode_key(text, "CUSTODIA_BLIND_INDEX_KEY")

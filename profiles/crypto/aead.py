"""AES-256-GCM for field values. Format: "v1:" + base64(nonce || ciphertext+tag).

Associated data binds a value to (model, field, row id, subject key id), so a ciphertext copied
to another row or field fails to decrypt instead of being silently accepted.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from profiles.crypto.keyring import NONCE_BYTES, DecryptionError

PREFIX = "v1:"


def associated_data(*, model: str, field: str, row_id: object, key_id: object) -> bytes:
    return f"custodia|{model}|{field}|{row_id}|{key_id}".encode()


def encrypt(plaintext: bytes, *, key: bytes, aad: bytes) -> str:
    nonce = os.urandom(NONCE_BYTES)
    return PREFIX + base64.b64encode(nonce + AESGCM(key).encrypt(nonce, plaintext, aad)).decode()


def decrypt(token: str, *, key: bytes, aad: bytes) -> bytes:
    """Raise DecryptionError on any failure; never return the stored text."""
    if not isinstance(token, str) or not token.startswith(PREFIX):
        raise DecryptionError("value is not a Custodia ciphertext")
    try:
        raw = base64.b64decode(token[len(PREFIX) :], validate=True)
        return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
    except (binascii.Error, ValueError) as exc:
        raise DecryptionError("ciphertext is malformed") from exc
    except Exception as exc:  # cryptography's InvalidTag
        raise DecryptionError("ciphertext failed authentication") from exc

"""AES-256-GCM for field values. Format: "v1:" + base64(nonce || ciphertext+tag).

Associated data binds a value to (model, field, row id, subject key id), so a ciphertext copied
to another row or field fails to decrypt instead of being silently accepted.

`key` may be the raw 32-byte key or an `AESGCM` built from it (`cipher(key)`): key owners keep
the cipher with their cached data key so its key schedule is computed once, not per value.
A fresh random 96-bit nonce is drawn for every encryption either way.
"""

from __future__ import annotations

import binascii
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from profiles.crypto.keyring import NONCE_BYTES, DecryptionError

PREFIX = "v1:"
_PREFIX_LEN = len(PREFIX)


def associated_data(*, model: str, field: str, row_id: object, key_id: object) -> bytes:
    return f"custodia|{model}|{field}|{row_id}|{key_id}".encode()


def cipher(key: bytes) -> AESGCM:
    return AESGCM(key)


def _as_cipher(key: bytes | AESGCM) -> AESGCM:
    return key if isinstance(key, AESGCM) else AESGCM(key)


def encrypt(plaintext: bytes, *, key: bytes | AESGCM, aad: bytes) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = nonce + _as_cipher(key).encrypt(nonce, plaintext, aad)
    return PREFIX + binascii.b2a_base64(sealed, newline=False).decode("ascii")


def decrypt(token: str, *, key: bytes | AESGCM, aad: bytes) -> bytes:
    """Raise DecryptionError on any failure; never return the stored text."""
    if not isinstance(token, str) or not token.startswith(PREFIX):
        raise DecryptionError("value is not a Custodia ciphertext")
    try:
        raw = binascii.a2b_base64(token[_PREFIX_LEN:], strict_mode=True)
        return _as_cipher(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
    except (binascii.Error, ValueError) as exc:
        raise DecryptionError("ciphertext is malformed") from exc
    except Exception as exc:  # cryptography's InvalidTag
        raise DecryptionError("ciphertext failed authentication") from exc

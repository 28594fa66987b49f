"""Encrypted model fields used like normal fields by services and the admin.

Values are encrypted in `pre_save` with the owning subject's data key and bound to
(model, field, row id, key id). Rows come back as ciphertext and are decrypted on first access
to the attribute. Filtering on an encrypted field raises: search through the blind index.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import FieldError
from django.db import models
from django.db.models.query_utils import DeferredAttribute

from profiles.crypto import aead


class Ciphertext(str):
    """A value exactly as stored: still encrypted."""


class _Sealed(str):
    """A value encrypted by pre_save in this process, safe to hand to the database."""


_MISSING = object()


class EncryptedAttribute(DeferredAttribute):
    def __get__(self, instance: Any, cls: Any = None) -> Any:
        if instance is None:
            return self
        value = instance.__dict__.get(self.field.attname, _MISSING)
        if value is _MISSING:  # deferred: let Django load it
            value = super().__get__(instance, cls)
        if not isinstance(value, Ciphertext):
            return value
        plain = self.field.decrypt_for(instance, value)
        instance.__dict__[self.field.attname] = plain
        return plain

    def __set__(self, instance: Any, value: Any) -> None:
        # A data descriptor, so __get__ runs even once the value sits in instance.__dict__.
        instance.__dict__[self.field.attname] = value


class EncryptedFieldMixin:
    """Needs the model to provide `encryption_cipher(*, create: bool) -> (AESGCM, key id)`:
    the cipher of its owner's data key (see profiles.models.KeyOwner)."""

    descriptor_class = EncryptedAttribute

    def __init__(self, *args: Any, empty_unkeyed: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("editable", True)
        super().__init__(*args, **kwargs)
        self._aad_heads: dict[str, str] = {}
        # The last key id seen and its text (one tuple, replaced whole: safe across threads):
        # a unit of work seals or opens many values under one owner's key, and str(UUID)
        # costs over a microsecond.
        self._key_text: tuple[object, str] = (None, "None")
        # An empty string is stored as it is (no ciphertext, so no data key is needed or
        # created for it) and read back as "". Only for fields where an owner's empty value is
        # common and tells nothing (a ciphertext's length already shows the value's length);
        # the cost: a database writer can blank such a value without a decryption error.
        self.empty_unkeyed = empty_unkeyed

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()  # type: ignore[misc]
        if self.empty_unkeyed:
            kwargs["empty_unkeyed"] = True
        return name, path, args, kwargs

    def _unkeyed(self, value: Any) -> bool:
        return self.empty_unkeyed and value == ""

    def get_internal_type(self) -> str:
        return "TextField"

    def db_type(self, connection: Any) -> str:
        return models.TextField().db_type(connection)

    def _aad(self, instance: Any, key_id: object) -> bytes:
        return self._aad_of(instance._meta.label_lower, instance.pk, key_id)

    def _aad_of(self, label: str, row_id: object, key_id: object) -> bytes:
        # Same bytes as aead.associated_data(model, field, row id, key id); the constant head
        # "custodia|<model>|<field>|" is built once per model instead of once per value.
        head = self._aad_heads.get(label)
        if head is None:
            head = self._aad_heads[label] = f"custodia|{label}|{self.name}|"
        known = self._key_text
        if known[0] is key_id:
            key_text = known[1]
        else:
            key_text = str(key_id)
            self._key_text = (key_id, key_text)
        return f"{head}{row_id}|{key_text}".encode()

    def seal(self, value: Any, *, row_id: object, cipher: Any, key_id: object) -> str:
        """The stored form of `value` in row `row_id` of this field's model, exactly as
        `pre_save` writes it (bulk inserts that build rows without model instances)."""
        if self._unkeyed(value):
            return _Sealed("")
        label = self.model._meta.label_lower  # type: ignore[attr-defined]
        return _Sealed(
            aead.encrypt(self.encode(value), key=cipher, aad=self._aad_of(label, row_id, key_id))
        )

    def encode(self, value: Any) -> bytes:
        return str(value).encode()

    def decode(self, raw: bytes) -> Any:
        return raw.decode()

    def pre_save(self, model_instance: Any, add: bool) -> Any:
        # Read from the instance's dict: the value was set (plaintext or a loaded Ciphertext),
        # so the descriptor's decrypt-on-read has nothing to do here.
        value = model_instance.__dict__.get(self.attname, _MISSING)
        if value is _MISSING:
            value = getattr(model_instance, self.attname)
        if value is None or isinstance(value, Ciphertext):
            return value
        if self._unkeyed(value):
            return _Sealed("")
        pk = model_instance.pk
        if pk is None:
            raise ValueError("encrypted rows need their primary key before saving (UUID default)")
        cipher, key_id = model_instance.encryption_cipher(create=True)
        aad = self._aad_of(model_instance._meta.label_lower, pk, key_id)
        return _Sealed(aead.encrypt(self.encode(value), key=cipher, aad=aad))

    def decrypt_row(self, *, pk: Any, token: str, cipher: Any, key_id: object) -> Any:
        """Decrypt a value read without its model instance (`values_list`, large exports):
        the same associated data as `decrypt_for` on the row `pk`, under the owner's cipher."""
        return self.decode(self.decrypt_row_bytes(pk=pk, token=token, cipher=cipher, key_id=key_id))

    def decrypt_row_bytes(self, *, pk: Any, token: str, cipher: Any, key_id: object) -> bytes:
        """`decrypt_row` without decoding: the serialized plaintext (JSON text for a JSON field)."""
        if self._unkeyed(token):
            return b""
        label = self.model._meta.label_lower  # type: ignore[attr-defined]
        return aead.decrypt(token, key=cipher, aad=self._aad_of(label, pk, key_id))

    def decrypt_for(self, instance: Any, token: str) -> Any:
        cipher, key_id = instance.encryption_cipher(create=False)
        return self.decode(aead.decrypt(token, key=cipher, aad=self._aad(instance, key_id)))

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or self._unkeyed(value):
            return value
        return Ciphertext(value)

    def to_python(self, value: Any) -> Any:
        return value

    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, (_Sealed, Ciphertext)):
            return str(value)
        # bulk_update() and update() skip pre_save: refuse rather than store plaintext.
        raise FieldError(
            f"'{self.name}' is encrypted: save it through the model's save(), never through "
            "update() or bulk_update(), so it can be encrypted"
        )

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        raise FieldError(
            f"'{self.name}' is encrypted and cannot be filtered ({lookup_name}); search through "
            f"the blind index instead, e.g. filter(value_index=blind_index(kind, value))"
        )

    def get_transform(self, lookup_name: str) -> Any:
        raise FieldError(f"'{self.name}' is encrypted and cannot be transformed in queries")

    def value_to_string(self, obj: Any) -> str:
        return str(getattr(obj, self.attname))


class EncryptedTextField(EncryptedFieldMixin, models.TextField):
    pass


class EncryptedJSONField(EncryptedFieldMixin, models.TextField):
    """Schemaless JSON, serialized then encrypted (never pickled)."""

    # For django-stubs: the attribute holds any JSON value, not the TextField's str.
    _pyi_private_set_type: Any
    _pyi_private_get_type: Any

    def encode(self, value: Any) -> bytes:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()

    def decode(self, raw: bytes) -> Any:
        return json.loads(raw)

    def formfield(self, **kwargs: Any) -> Any:
        from core.forms import CheckedJSONField

        return CheckedJSONField(**kwargs)

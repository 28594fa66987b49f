"""The one key store that destroys data keys (crypto-shredding) and re-wraps them under a new
master key. Other apps destroy keys through `subject_shred` or `keys_shred`, never by deleting
rows."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any, cast

from django.db import transaction
from django.utils import timezone

from audit.actors import Actor
from audit.services import audit_record
from profiles.crypto.keyring import master_keyring
from profiles.models import KeyOwner, SubjectKey


def subject_shred(*, subject_id: uuid.UUID) -> bool:
    """Destroy the subject's data key: every ciphertext under it becomes undecryptable by
    anyone, with any master key. Returns whether a key existed."""
    return bool(keys_shred(owner_ids=[subject_id]))


def keys_shred(*, owner_ids: Iterable[uuid.UUID]) -> int:
    """Destroy the data keys of these key owners (subjects, requests, their timeline entries,
    archives): whatever is encrypted under them becomes unreadable. Returns how many rows went."""
    deleted, _ = SubjectKey.objects.filter(subject_id__in=list(owner_ids)).delete()
    return deleted


def keys_create_for(*, owners: Sequence[KeyOwner]) -> None:
    """Give each new key owner (rows about to be bulk-created, primary keys set) its data key
    in one insert, cached on the instance so their encrypted fields are sealed without a
    query per row."""
    rows = []
    for owner in owners:
        row, key = SubjectKey.build_for(cast(Any, owner).pk)  # a model with the mixin
        owner.remember_data_key(key, row.key_id)
        rows.append(row)
    SubjectKey.objects.bulk_create(rows)


def rotate_keys_batch(*, actor: Actor, batch_size: int = 500) -> int:
    """Re-wrap up to `batch_size` data keys that are not under the current master key.

    Online and resumable: each row is swapped with a compare-and-set on its old wrapped value,
    so concurrent reads keep working (old versions stay in the keyring until retired) and a
    concurrent shred or rotation is never overwritten. A batch commits with one audit event
    (`profiles.keys.rewrap`: how many keys, under which version; no key material, no subject).
    Returns how many keys were re-wrapped."""
    if batch_size < 1:
        raise ValueError("the batch size must be at least 1")
    keyring = master_keyring()
    with transaction.atomic():
        rows = list(
            SubjectKey.objects.exclude(master_version=keyring.current).order_by("id")[:batch_size]
        )
        done = 0
        for row in rows:
            context = SubjectKey.context(row.subject_id, row.key_id)
            data_key = keyring.unwrap(
                bytes(row.wrapped_key), version=row.master_version, context=context
            )
            wrapped, version = keyring.wrap(data_key, context=context)
            done += SubjectKey.objects.filter(
                pk=row.pk, master_version=row.master_version, key_id=row.key_id
            ).update(wrapped_key=wrapped, master_version=version, rewrapped_at=timezone.now())
        if done:
            audit_record(
                actor=actor,
                action="profiles.keys.rewrap",
                object_type="profiles.master_key",
                object_id=keyring.current,
                reason=f"re-wrapped {done} data keys under master key version {keyring.current}",
            )
    return done


def keys_depending_on(version: int) -> int:
    """How many data keys are still wrapped by master key `version`."""
    return SubjectKey.objects.filter(master_version=version).count()

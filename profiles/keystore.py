"""The one key store of profiles: destroying a data key (crypto-shredding) happens here only.

Subjects, DSAR requests, their timeline entries and export archives each own a data key (a
SubjectKey row keyed by the owner's id); destroying it makes every ciphertext under it
unreadable with any master key. Other apps call this instead of deleting SubjectKey rows."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from profiles.models import SubjectKey


def data_keys_shred(*, owner_ids: Collection[Any]) -> int:
    """Destroy the data keys of the given owners (subject, request, archive… ids). Returns how
    many keys existed; owners without a key are skipped. Runs in the caller's transaction."""
    if not owner_ids:
        return 0
    deleted, _ = SubjectKey.objects.filter(subject_id__in=list(owner_ids)).delete()
    return deleted

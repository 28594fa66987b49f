"""Appending to the audit chain. Call inside the same transaction as the change it records."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.db import connection, transaction
from django.utils import timezone

from audit.actors import Actor
from audit.chain import GENESIS_HASH, link_hash
from audit.models import AuditEvent

# Key of the PostgreSQL transaction-scoped advisory lock that serializes appends.
_CHAIN_LOCK_KEY = 0x637573746F6469  # "custodi"


def audit_record(
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str | uuid.UUID,
    subject_id: uuid.UUID | str | None = None,
    region: str = "",
    fields: Iterable[str] = (),
    reason: str = "",
) -> AuditEvent:
    """Append one event to the chain, atomically and serialized with every other append.

    Guarantees: the event is committed with the caller's transaction or not at all; two
    concurrent appends never share a predecessor. `fields` are field *names*; never pass values.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
        last = AuditEvent.objects.order_by("-sequence").values("sequence", "hash").first()
        values = {
            "sequence": (last["sequence"] + 1) if last else 1,
            "occurred_at": timezone.now(),
            "actor_type": actor.kind,
            "actor_id": str(actor.id)[:64],
            "actor_label": actor.label[:150],
            "action": action,
            "object_type": object_type,
            "object_id": str(object_id),
            "subject_id": uuid.UUID(str(subject_id)) if subject_id else None,
            "region": region or "",
            "fields": sorted(set(fields)),
            "reason": reason[:500],
            "request_id": actor.request_id,
            "ip_truncated": actor.ip,
        }
        prev_hash = last["hash"] if last else GENESIS_HASH
        return AuditEvent.objects.create(
            **values, prev_hash=prev_hash, hash=link_hash(prev_hash, values)
        )

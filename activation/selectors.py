"""Reads of the activation app."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from activation.models import InboxMessage, SourceEndpoint


def source_endpoint_active(source_id: uuid.UUID | str) -> SourceEndpoint | None:
    return SourceEndpoint.objects.select_related("system").filter(pk=source_id, active=True).first()


def inbox_dead_letters(who: object, source_id: uuid.UUID | None = None) -> QuerySet[InboxMessage]:
    """Dead-lettered messages the viewer may see (their region scope)."""
    rows = InboxMessage.objects.restrict(who, "view").filter(status=InboxMessage.Status.DEAD)
    return rows.filter(source_id=source_id) if source_id else rows

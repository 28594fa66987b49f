"""Reads about access: active unmask grants."""

from __future__ import annotations

from typing import Any

from django.utils import timezone


def unmask_grant_active(*, user: Any, subject_id: Any) -> bool:
    """True if `user` holds an unexpired unmask grant for the subject."""
    from access.models import UnmaskGrant

    return UnmaskGrant.objects.filter(
        user=user, subject_id=subject_id, expires_at__gt=timezone.now()
    ).exists()

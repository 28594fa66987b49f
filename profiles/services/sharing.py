"""Per-case sharing of one subject with one staff user (a time-limited per-object grant)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.actors import Actor
from audit.services import audit_subject_action
from core.errors import DomainError
from profiles.models import Subject
from profiles.services.guards import subject_scope_check


def subject_share(*, subject: Subject, user: Any, actor: Actor, reason: str, days: int = 7) -> Any:
    """Share one subject with one staff user for a case (a django-guardian per-object grant on a
    direct foreign-key model), even outside their regions, for `days` days. The sharer's own
    regions must cover the subject. Audited."""
    from django.contrib.auth.models import Permission

    from profiles.models import SubjectShare

    if len((reason or "").strip()) < 10:
        raise DomainError(
            "State the case this share is for.",
            code="reason_required",
            fields={"reason": ["required"]},
        )
    subject_scope_check(subject, actor)
    permission = Permission.objects.get(content_type__app_label="profiles", codename="view_subject")
    with transaction.atomic():
        share = SubjectShare.objects.create(
            content_object=subject,
            user=user,
            permission=permission,
            reason=reason[:500],
            granted_by=actor.label,
            expires_at=timezone.now() + dt.timedelta(days=days),
        )
        audit_subject_action(
            actor=actor,
            action="access.subject.share",
            subject=subject,
            reason=reason,
        )
    return share

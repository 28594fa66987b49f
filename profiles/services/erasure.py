"""Erasure (crypto-shredding, suppression) and rectification of a subject. Transactional,
audited with field names, never values."""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from audit.actors import Actor
from audit.services import audit_append_many, audit_subject_action
from core.errors import DomainError, NotFoundError
from profiles.models import (
    Attribute,
    Event,
    Identifier,
    MatchReview,
    Subject,
    SubjectKey,
    SuppressedIdentity,
)
from profiles.services import matching as matching_service
from profiles.services.guards import subject_scope_check
from profiles.services.ingest import default_category
from profiles.services.keys import keys_shred, subject_shred


def subject_erase(
    *,
    subject_id: uuid.UUID,
    actor: Actor,
    reason: str = "erasure request",
    keep_events: Collection[uuid.UUID] = (),
) -> dict[str, Any]:
    """Erase a subject (Art. 17): suppress its identities' blind indexes, destroy its data key
    (crypto-shredding, so backups hold only unreadable ciphertext), delete its rows, and keep
    the Subject row as a PII-free anchor with status `erased`. Returns a PII-free summary.

    `keep_events` narrows the erasure to what the law lets us keep (a retention exception such
    as invoices under tax law): those events stay, the data key with them, and the subject is
    `restricted` until a later call without `keep_events` finishes the job. Idempotent."""
    with transaction.atomic():
        subject = Subject.objects.select_for_update().filter(pk=subject_id).first()
        if subject is None or not actor.covers(subject.region):
            raise NotFoundError("Subject not found.")
        identities = list(
            Identifier.objects.filter(subject=subject).values_list("kind", "value_index")
        )
        for kind, index in identities:
            SuppressedIdentity.objects.get_or_create(kind=kind, value_index=index)
        kept = Event.objects.filter(subject=subject, pk__in=list(keep_events))
        kept_count = kept.count()
        key_destroyed = False if kept_count else subject_shred(subject_id=subject.pk)
        summary = {
            "subject_id": str(subject.pk),
            "region": subject.region,
            "identifiers": Identifier.objects.filter(subject=subject).delete()[0],
            "attributes": Attribute.objects.filter(subject=subject).delete()[0],
            "events": Event.objects.filter(subject=subject)
            .exclude(pk__in=list(keep_events))
            .delete()[0],
            "events_kept": kept_count,
            "suppressed_identities": len(identities),
            "data_key_destroyed": key_destroyed,
            "erased_at": timezone.now().isoformat(),
        }
        MatchReview.objects.filter(Q(subject=subject) | Q(candidate=subject)).delete()
        matching_service.match_profile_drop(subject.pk)
        status = Subject.Status.RESTRICTED if kept_count else Subject.Status.ERASED
        Subject.objects.filter(pk=subject.pk).update(status=status)
        audit_subject_action(
            actor=actor,
            action="profiles.subject.erase" if not kept_count else "profiles.subject.restrict",
            subject=subject,
            fields=["identifiers", "attributes", "events"] + ([] if kept_count else ["data_key"]),
            reason=reason if not kept_count else f"{reason}; {kept_count} events kept",
        )
    return summary


def subjects_erase(
    *, reasons: dict[uuid.UUID, str], actor: Actor
) -> dict[uuid.UUID, dict[str, Any]]:
    """Erase many subjects at once, with the same effects and audit events as `subject_erase`
    without `keep_events` for each: a fixed number of statements whatever their number (the
    DSAR pipeline erases a batch of requests this way). `reasons` maps each subject id to its
    audit reason. Subjects missing or outside the actor's regions are left alone; the result
    holds a PII-free summary per subject erased. Call inside a transaction."""
    with transaction.atomic():
        subjects = [
            s
            for s in Subject.objects.select_for_update().filter(pk__in=sorted(reasons))
            if actor.covers(s.region)
        ]
        ids = sorted(s.pk for s in subjects)
        suppressed, keyed, counts = _subjects_rows_erase(ids)
        now = timezone.now().isoformat()
        summaries = {
            s.pk: {
                "subject_id": str(s.pk),
                "region": s.region,
                **{name: counts[name].get(s.pk, 0) for name in counts},
                "events_kept": 0,
                "suppressed_identities": suppressed.get(s.pk, 0),
                "data_key_destroyed": s.pk in keyed,
                "erased_at": now,
            }
            for s in subjects
        }
        audit_append_many(
            actor=actor,
            entries=[
                {
                    "action": "profiles.subject.erase",
                    "object_type": "profiles.subject",
                    "object_id": s.pk,
                    "subject_id": s.pk,
                    "region": s.region,
                    "fields": ["identifiers", "attributes", "events", "data_key"],
                    "reason": reasons[s.pk],
                }
                for s in subjects
            ],
        )
    return summaries


def _subjects_rows_erase(
    ids: list[uuid.UUID],
) -> tuple[dict[uuid.UUID, int], set[uuid.UUID], dict[str, dict[uuid.UUID, int]]]:
    """Suppress the subjects' identities, destroy their data keys, delete their identifiers,
    attributes, events, matching encodings and review items, mark them erased. Returns the
    identities suppressed and the keys destroyed per subject, and the rows deleted per kind."""
    identities = list(
        Identifier.objects.filter(subject_id__in=ids).values_list(
            "subject_id", "kind", "value_index"
        )
    )
    SuppressedIdentity.objects.bulk_create(
        [SuppressedIdentity(kind=kind, value_index=index) for _, kind, index in identities],
        ignore_conflicts=True,
    )
    keyed = set(SubjectKey.objects.filter(subject_id__in=ids).values_list("subject_id", flat=True))
    keys_shred(owner_ids=keyed)
    models = (("identifiers", Identifier), ("attributes", Attribute), ("events", Event))
    counts = {name: _counts_by_subject(model, ids) for name, model in models}
    for _name, model in models:
        model.objects.filter(subject_id__in=ids).delete()
    matching_service.match_profiles_drop(ids)
    MatchReview.objects.filter(Q(subject_id__in=ids) | Q(candidate_id__in=ids)).delete()
    Subject.objects.filter(pk__in=ids).update(status=Subject.Status.ERASED)
    suppressed: dict[uuid.UUID, int] = {}
    for subject_id, _, _ in identities:
        suppressed[subject_id] = suppressed.get(subject_id, 0) + 1
    return suppressed, keyed, counts


def _counts_by_subject(model: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    rows = model.objects.filter(subject_id__in=ids).values("subject_id").annotate(n=Count("pk"))
    return {row["subject_id"]: row["n"] for row in rows.order_by()}


CORRECTIONS_REQUIRED = "A rectification names the corrections: {attribute key: corrected value}."


def corrections_check(corrections: Any) -> None:
    """Raise DomainError (naming the field, never a value) unless `corrections` is what
    `subject_rectify` can write: {attribute key: value}, keys lowercase slugs, values text,
    numbers or booleans. Checked when a request is made, so a correction that cannot be written
    is refused then, not failed on each of its step's attempts."""
    if not isinstance(corrections, dict) or not corrections:
        raise DomainError(CORRECTIONS_REQUIRED, fields={"corrections": ["required"]})
    for key, value in corrections.items():
        if not isinstance(key, str) or not re.fullmatch(r"[a-z0-9_-]{1,64}", key):
            raise DomainError(
                "Attribute keys are lowercase slugs.", fields={"corrections": ["invalid key"]}
            )
        if value is None or isinstance(value, (dict, list)):
            raise DomainError(
                "A corrected value is text, a number or a boolean.",
                fields={"corrections": ["invalid value"]},
            )


def subject_rectify(
    *, subject: Subject, corrections: dict[str, Any], actor: Actor, reason: str
) -> list[str]:
    """Correct attribute values (Art. 16, CPRA right to correct): each key is set to its new
    value under the subject's key, with a new collection time. Audited with the keys changed
    (never the values). Returns the keys changed. The subject must be in the actor's regions;
    the corrections as `corrections_check` says."""
    subject_scope_check(subject, actor)
    corrections_check(corrections)
    changed = []
    with transaction.atomic():
        for key, value in corrections.items():
            attribute = Attribute.objects.filter(subject=subject, key=key).first()
            if attribute is None:
                attribute = Attribute(id=uuid.uuid4(), subject=subject, key=key)
                attribute.category = default_category(key)
            attribute.subject = subject
            attribute.value = value
            attribute.collected_at = timezone.now()
            attribute.save()
            changed.append(key)
        matching_service.match_profile_refresh(subject)
        audit_subject_action(
            actor=actor,
            action="profiles.subject.rectify",
            subject=subject,
            fields=[f"attribute:{key}" for key in changed],
            reason=reason,
        )
    return changed

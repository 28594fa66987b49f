"""Identity resolution: match candidates, probabilistic resolution, merges and the officer's
review decisions. Subjects of other regions are never matched or merged: a shared identity
or a probable match with one becomes a MatchReview for an officer whose regions cover both."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from audit.actors import Actor
from audit.services import audit_record, audit_subject_action
from core.errors import ConflictError, DomainError, NotFoundError
from profiles import matching
from profiles.models import (
    Attribute,
    Event,
    Identifier,
    MatchReview,
    MergeLineage,
    Subject,
    System,
)
from profiles.services.guards import subject_scope_check
from profiles.services.keys import subject_shred


def review_across_regions(
    subject: Subject, others: dict[uuid.UUID, set[str]], *, actor: Actor
) -> int:
    """Propose each active subject of another region sharing an identity with `subject` to an
    officer (a MatchReview, score 1.0): never merged automatically. Returns how many of the
    proposals the actor may know of (their regions cover the other subject)."""
    known = 0
    for other in Subject.objects.filter(pk__in=list(others), status=Subject.Status.ACTIVE):
        pair = Q(subject=subject, candidate=other) | Q(subject=other, candidate=subject)
        if not MatchReview.objects.filter(pair).exists():
            MatchReview.objects.create(
                subject=subject, candidate=other, score=1.0, signals=sorted(others[other.pk])
            )
            known += int(actor.covers(other.region))
    return known


def match_candidates(subject: Subject) -> list[tuple[Subject, float, list[str]]]:
    """Other active subjects sharing matching signals with `subject`, with their scores."""
    mine = dict(
        Attribute.objects.filter(subject=subject)
        .exclude(match_index="")
        .values_list("key", "match_index")
    )
    if not mine:
        return []
    condition = Q()
    for key, index in mine.items():
        condition |= Q(key=key, match_index=index)
    rows = (
        Attribute.objects.filter(condition)
        .exclude(subject=subject)
        .filter(subject__status=Subject.Status.ACTIVE)
        .values("subject_id")
        .annotate(n=Count("id"))
        .order_by("-n")[:20]
    )
    candidates = []
    for row in rows:
        keys = set(
            Attribute.objects.filter(condition, subject_id=row["subject_id"]).values_list(
                "key", flat=True
            )
        )
        candidates.append(
            (Subject.objects.get(pk=row["subject_id"]), matching.score(keys), sorted(keys))
        )
    return sorted(candidates, key=lambda c: -c[1])


def resolve_probabilistically(
    subject: Subject, *, actor: Actor, source: System | None
) -> tuple[int, uuid.UUID | None]:
    """Merge a same-region candidate above the auto-merge threshold; propose the others above
    the review threshold (a candidate of another region is only ever proposed). Returns the
    proposals the actor may know of, and the survivor's id if merged."""
    reviews = 0
    for candidate, score, signals in match_candidates(subject):
        same_region = candidate.region == subject.region
        if score >= settings.CUSTODIA_MATCH_AUTO_MERGE and same_region:
            survivor = candidate if candidate.created_at <= subject.created_at else subject
            merged = subject if survivor is candidate else candidate
            subjects_merge(
                survivor=survivor,
                merged=merged,
                method="probabilistic",
                confidence=score,
                signals=signals,
                actor=actor,
                source=source,
            )
            return reviews, survivor.pk
        if score >= settings.CUSTODIA_MATCH_REVIEW:
            _, made = MatchReview.objects.get_or_create(
                subject=subject, candidate=candidate, defaults={"score": score, "signals": signals}
            )
            reviews += int(made and actor.covers(candidate.region))
    return reviews, None


def subjects_merge(
    *,
    survivor: Subject,
    merged: Subject,
    method: str,
    confidence: float,
    signals: list[str],
    actor: Actor,
    source: System | None = None,
) -> MergeLineage:
    """Fold `merged` into `survivor`: values are re-encrypted under the survivor's key, the
    survivor keeps its own attribute values where both have one, lineage is kept, the merged
    subject's key is destroyed and its status becomes `merged`. Audited on both subjects.

    The actor's regions must cover both subjects (else 404). Identifiers move to the
    survivor's region; one the survivor holds already is dropped, one another subject of that
    region holds refuses the merge (409: merge or reject that pair first)."""
    if survivor.pk == merged.pk:
        raise DomainError("A subject cannot be merged into itself.", code="invalid_merge")
    subject_scope_check(survivor, actor)
    subject_scope_check(merged, actor)
    across = survivor.region != merged.region
    with transaction.atomic():
        _rows_move(merged, survivor, across=across)
        for lineage in MergeLineage.objects.filter(survivor=merged):
            lineage.survivor = survivor
            lineage.save(update_fields=["survivor"])
        lineage = MergeLineage.objects.create(
            survivor=survivor,
            merged_subject_id=merged.pk,
            method=method,
            confidence=confidence,
            signals=signals,
            source=source,
            merged_by=actor.label,
        )
        subject_shred(subject_id=merged.pk)
        merged.forget_data_key()
        Subject.objects.filter(pk=merged.pk).update(
            status=Subject.Status.MERGED, merged_into=survivor
        )
        MatchReview.objects.filter(
            Q(subject=merged) | Q(candidate=merged), status="pending"
        ).update(status=MatchReview.Status.REJECTED, decided_by="merge", decided_at=timezone.now())
        for subject in (survivor, merged):
            audit_subject_action(
                actor=actor,
                action="profiles.subject.merge",
                subject=subject,
                reason=f"{method} merge, confidence {confidence:.2f}",
            )
    return lineage


def _rows_move(merged: Subject, survivor: Subject, *, across: bool) -> None:
    """Move the merged subject's identifiers, attributes and events to the survivor,
    re-encrypted under its key; rows the survivor already has (its attribute keys, an event
    recorded twice, an identity held in its region) are dropped."""
    kept = set(Attribute.objects.filter(subject=survivor).values_list("key", flat=True))
    merged.forget_data_key()
    for model, attr in ((Identifier, "value"), (Attribute, "value"), (Event, "payload")):
        row: Any  # an Identifier, Attribute or Event: `model is ...` below says which
        for row in model.objects.filter(subject=merged).iterator(chunk_size=500):
            duplicate = (
                (model is Attribute and row.key in kept)
                or (
                    model is Event
                    and Event.objects.filter(subject=survivor, dedup_key=row.dedup_key).exists()
                )
                or (model is Identifier and across and _identity_held(row, survivor))
            )
            if duplicate:
                row.delete()
                continue
            row.subject = merged  # decrypt under the merged subject's key (cached once)
            value = getattr(row, attr)
            row.subject = survivor  # re-encrypt under the survivor's key on save
            setattr(row, attr, value)
            if model is Identifier:
                row.region = survivor.region
            row.save()


def _identity_held(row: Identifier, survivor: Subject) -> bool:
    """True if the survivor holds this identity already (the row is a duplicate); raises if
    another subject of the survivor's region holds it."""
    holder = (
        Identifier.objects.filter(
            kind=row.kind, value_index=row.value_index, region=survivor.region
        )
        .values_list("subject_id", flat=True)
        .first()
    )
    if holder is not None and holder != survivor.pk:
        raise ConflictError(
            "Another subject of the survivor's region holds one of these identities.",
            code="identity_conflict",
        )
    return holder is not None


def match_review_decide(*, review: MatchReview, accept: bool, actor: Actor) -> MatchReview:
    """An officer accepts (merge into the older subject) or rejects a probable match. The
    actor's regions must cover both subjects (a review across regions needs both): else 404."""
    with transaction.atomic():
        review = (
            MatchReview.objects.select_for_update()
            .select_related("subject", "candidate")
            .get(pk=review.pk)
        )
        if not actor.covers(review.subject.region, review.candidate.region):
            raise NotFoundError("Match review not found.")
        if review.status != MatchReview.Status.PENDING:
            raise DomainError("This match was already decided.", code="already_decided", status=409)
        if accept:
            a, b = review.subject, review.candidate
            survivor, merged = (a, b) if a.created_at <= b.created_at else (b, a)
            subjects_merge(
                survivor=survivor,
                merged=merged,
                method="review",
                confidence=review.score,
                signals=review.signals,
                actor=actor,
            )
        review.status = MatchReview.Status.ACCEPTED if accept else MatchReview.Status.REJECTED
        review.decided_by = actor.label
        review.decided_at = timezone.now()
        review.save()
        audit_record(
            actor=actor,
            action="profiles.match.accept" if accept else "profiles.match.reject",
            object_type="profiles.matchreview",
            object_id=review.pk,
            subject_id=review.subject_id,
            region=review.subject.region,
        )
    return review

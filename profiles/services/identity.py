"""Identity resolution: match candidates, probabilistic resolution, merges and the officer's
review decisions. Subjects of other regions are never matched or merged: a shared identity
or a probable match with one becomes a MatchReview for an officer whose regions cover both."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.actors import Actor
from audit.services import audit_record, audit_subject_action
from core.errors import ConflictError, DomainError, NotFoundError
from profiles.models import (
    Attribute,
    Event,
    Identifier,
    MatchReview,
    MergeLineage,
    Subject,
    SubjectKey,
    System,
)
from profiles.services import matching
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


def resolve_probabilistically(
    subject: Subject, *, actor: Actor, source: System | None
) -> tuple[int, uuid.UUID | None]:
    """Score the subject's blocked candidates with the current match model: merge the best
    same-region candidate at or above the auto-merge weight; propose the others at or above
    the review weight (a candidate of another region is only ever proposed). Every merge and
    review records the model version, the weight and its explanation. Returns the proposals
    the actor may know of, and the survivor's id if merged."""
    reviews = 0
    for scored in matching.match_candidates(subject):
        candidate = scored.candidate
        if scored.auto_merge and candidate.region == subject.region:
            survivor = candidate if candidate.created_at <= subject.created_at else subject
            merged = subject if survivor is candidate else candidate
            subjects_merge(
                survivor=survivor,
                merged=merged,
                method="probabilistic",
                confidence=scored.probability,
                signals=matching.review_scored_fields(scored)["signals"],
                actor=actor,
                source=source,
                scored=scored,
            )
            return reviews, survivor.pk
        if scored.proposable:
            fields = matching.review_scored_fields(scored)
            _, made = MatchReview.objects.get_or_create(
                subject=subject, candidate=candidate, defaults=fields
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
    scored: matching.Scored | None = None,
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
        _both_locked_unchanged(survivor, merged)
        moved = _rows_move(merged, survivor, across=across)
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
            moved_rows=moved,
            **_score_of(scored),
        )
        matching.match_profile_drop(merged.pk)
        if moved["Attribute"]:  # the survivor gained values: its encodings change
            matching.match_profile_refresh(survivor)
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


def _both_locked_unchanged(survivor: Subject, merged: Subject) -> None:
    """Lock both subjects (in one order) until the merge commits and refuse if one was erased
    or merged meanwhile: a merge that read the rows an erasure was deleting would save them
    again under the survivor."""
    gone = (Subject.Status.ERASED, Subject.Status.MERGED)
    pair = sorted([survivor.pk, merged.pk])
    status = dict(
        Subject.objects.select_for_update()
        .filter(pk__in=pair)
        .order_by("pk")
        .values_list("pk", "status")
    )
    if any(status.get(pk) in gone or pk not in status for pk in pair):
        raise ConflictError(
            "One of these subjects was erased or merged meanwhile.", code="subject_changed"
        )


def _score_of(scored: matching.Scored | None) -> dict[str, Any]:
    if scored is None:
        return {}
    fields = matching.review_scored_fields(scored)
    return {k: fields[k] for k in ("model_version", "weight", "explanation")}


def _rows_move(
    merged: Subject, survivor: Subject, *, across: bool, only: dict[str, list[str]] | None = None
) -> dict[str, list[str]]:
    """Move the merged subject's identifiers, attributes and events to the survivor,
    re-encrypted under its key; rows the survivor already has (its attribute keys, an event
    recorded twice, an identity held in its region) are dropped. Returns the ids of the rows
    moved, per model (what a split moves back); `only` restricts the move to those ids."""
    kept = set(Attribute.objects.filter(subject=survivor).values_list("key", flat=True))
    merged.forget_data_key()
    moved: dict[str, list[str]] = {}
    for model, attr in ((Identifier, "value"), (Attribute, "value"), (Event, "payload")):
        row: Any  # an Identifier, Attribute or Event: `model is ...` below says which
        rows = model.objects.filter(subject=merged)
        if only is not None:
            rows = rows.filter(pk__in=only.get(model.__name__, []))
        moved[model.__name__] = []
        for row in rows.iterator(chunk_size=500):
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
            moved[model.__name__].append(str(row.pk))
    return moved


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
            lineage = subjects_merge(
                survivor=survivor,
                merged=merged,
                method="review",
                confidence=review.score,
                signals=review.signals,
                actor=actor,
            )
            lineage.model_version = review.model_version
            lineage.weight = review.weight
            lineage.explanation = review.explanation
            lineage.save(update_fields=["model_version", "weight", "explanation"])
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


def match_reviews_rescore(*, actor: Actor) -> dict[str, int]:
    """Re-score every pending review with the current model: a pair now at or above the
    auto-merge weight (same region) is merged as the model would merge a new pair, one below
    the review weight leaves the queue (rejected by the model, not a label), the others keep
    their place with the new score and explanation. Merges already made stay. Only the
    reviews both of whose subjects lie in `actor`'s regions are touched (an officer's click
    re-scores their own regions; beat's system actor all of them)."""
    counts = {"rescored": 0, "merged": 0, "dismissed": 0}
    pending = MatchReview.objects.filter(status=MatchReview.Status.PENDING).order_by("pk")
    if actor.regions is not None:
        pending = pending.filter(
            subject__region__in=actor.regions, candidate__region__in=actor.regions
        )
    for review_id in list(pending.values_list("pk", flat=True)):
        with transaction.atomic():
            review = (
                MatchReview.objects.select_for_update()
                .select_related("subject", "candidate")
                .filter(pk=review_id, status=MatchReview.Status.PENDING)
                .first()
            )
            scored = matching.pair_rescore(review) if review else None
            if review is None or scored is None:
                continue
            counts["rescored"] += 1
            fields = matching.review_scored_fields(scored)
            for name, value in fields.items():
                setattr(review, name, value)
            a, b = review.subject, review.candidate
            if scored.auto_merge and a.region == b.region and a.status == b.status == "active":
                survivor, merged = (a, b) if a.created_at <= b.created_at else (b, a)
                subjects_merge(
                    survivor=survivor,
                    merged=merged,
                    method="probabilistic",
                    confidence=scored.probability,
                    signals=fields["signals"],
                    actor=actor,
                    scored=scored,
                )
                review.status = MatchReview.Status.ACCEPTED
                counts["merged"] += 1
            elif not scored.proposable:
                review.status = MatchReview.Status.REJECTED
                counts["dismissed"] += 1
            if review.status != MatchReview.Status.PENDING:
                review.decided_by = f"model v{scored.version}"
                review.decided_at = timezone.now()
            review.save()
    return counts


def subject_split(*, lineage: MergeLineage, actor: Actor, reason: str) -> Subject:
    """Undo a wrong merge: the merged subject becomes active again, in its own region, with a
    new data key, and the identifiers, attributes and events that came from it move back
    (re-encrypted under the new key; the identifiers into its region). Attributes the
    survivor kept its own value for were not moved and stay. The lineage records the split;
    the pair is kept as a labelled non-match (a rejected review) so the model learns from the
    mistake. Audited on both subjects. The actor's regions must cover the survivor and the
    merged subject's own region (else 404), as the merge's."""
    survivor = lineage.survivor
    subject_scope_check(survivor, actor)
    with transaction.atomic():
        lineage = MergeLineage.objects.select_for_update().get(pk=lineage.pk)
        if lineage.split_at is not None:
            raise DomainError("This merge was already split.", code="already_split", status=409)
        restored = Subject.objects.get(pk=lineage.merged_subject_id)
        # A merge across regions needed both regions: so does its undo.
        subject_scope_check(restored, actor)
        # Back in its own region (a merge never changed it): a Californian wrongly folded into
        # an EU subject is a Californian again, under California's regime, and so are the
        # identifiers moved back (refused, 409, if another subject of that region took one).
        Subject.objects.filter(pk=restored.pk).update(
            status=Subject.Status.ACTIVE, merged_into=None
        )
        restored.refresh_from_db()
        SubjectKey.create_for(restored.pk)
        restored.forget_data_key()
        _rows_move(
            survivor,
            restored,
            across=restored.region != survivor.region,
            only=lineage.moved_rows,
        )
        matching.match_profile_refresh(survivor)
        matching.match_profile_refresh(restored)
        lineage.split_at = timezone.now()
        lineage.split_into = restored.pk
        lineage.split_by = actor.label
        lineage.save(update_fields=["split_at", "split_into", "split_by"])
        vector = matching.vector_of(lineage.explanation)
        MatchReview.objects.update_or_create(
            subject=restored,
            candidate=survivor,
            defaults={
                "score": lineage.confidence,
                "weight": lineage.weight,
                "model_version": lineage.model_version,
                "levels": vector or [],
                "explanation": lineage.explanation,
                "signals": lineage.signals,
                "status": MatchReview.Status.REJECTED,
                "decided_by": actor.label,
                "decided_at": timezone.now(),
            },
        )
        for subject in (survivor, restored):
            audit_subject_action(
                actor=actor, action="profiles.subject.split", subject=subject, reason=reason
            )
    return restored

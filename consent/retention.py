"""Retention policies enforced (Art. 5(1)(e) storage limitation): expired events and attributes
are deleted, or events anonymised, in bounded batches, each batch in its own transaction.

The trail: a RetentionRun row per policy and run (counts per region, updated in each batch's
transaction, so it always matches the data) and, for an applied run, one audit event per policy
and region (`consent.retention.apply`) once the region is done. Counts and ids only, never values.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from audit.actors import Actor
from audit.services import audit_record
from consent.models import RetentionPolicy, RetentionRun
from profiles import retention as profile_retention
from profiles.models import Attribute, Event
from profiles.retention import ANONYMISED_PREFIX

BATCH_SIZE = 500

logger = logging.getLogger(__name__)


@dataclass
class PolicyResult:
    policy_id: int
    policy: str
    target: str
    action: str
    dry_run: bool
    cutoff: dt.datetime
    counts: dict[str, int] = field(default_factory=dict)
    run_id: int | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def describe(self) -> str:
        verb = "would be " if self.dry_run else ""
        verb += "anonymised" if self.action == RetentionPolicy.Action.ANONYMISE else "deleted"
        per_region = ", ".join(f"{n} ({region})" for region, n in sorted(self.counts.items()))
        return f"{self.policy}: {self.target} {verb}: {per_region or 0}"


@dataclass
class RetentionReport:
    dry_run: bool
    results: list[PolicyResult] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)  # ids of policies that raised

    @property
    def total(self) -> int:
        return sum(r.total for r in self.results)


def retention_cutoff(*, policy: RetentionPolicy, now: dt.datetime | None = None) -> dt.datetime:
    return (now or timezone.now()) - dt.timedelta(days=policy.max_age_days)


def retention_expired(
    *, policy: RetentionPolicy, cutoff: dt.datetime, regions: Collection[str] | None = None
) -> QuerySet:
    """Rows the policy acts on: older than `cutoff`, matching its category, event name and
    region, within `regions` (None = every region), not yet anonymised when it anonymises."""
    if policy.target == RetentionPolicy.Target.EVENTS:
        rows = Event.objects.filter(occurred_at__lt=cutoff)
        if policy.event_name:
            rows = rows.filter(name=policy.event_name)
        if policy.action == RetentionPolicy.Action.ANONYMISE:
            rows = rows.exclude(dedup_key__startswith=ANONYMISED_PREFIX)
    else:
        rows = Attribute.objects.filter(collected_at__lt=cutoff)
    if policy.data_category:
        rows = rows.filter(category=policy.data_category)
    if policy.region:
        rows = rows.filter(subject__region=policy.region)
    if regions is not None:
        rows = rows.filter(subject__region__in=sorted(regions))
    return rows.order_by()


def retention_counts(
    *,
    policy: RetentionPolicy,
    regions: Collection[str] | None = None,
    now: dt.datetime | None = None,
) -> dict[str, int]:
    """How many rows the policy would act on now, per subject region (a read; writes nothing)."""
    rows = retention_expired(
        policy=policy, cutoff=retention_cutoff(policy=policy, now=now), regions=regions
    )
    counted = rows.values("subject__region").annotate(n=Count("pk")).order_by("subject__region")
    return {row["subject__region"]: row["n"] for row in counted if row["n"]}


def _apply_batch(policy: RetentionPolicy, ids: list) -> int:
    if policy.action == RetentionPolicy.Action.ANONYMISE:
        return profile_retention.events_anonymise(ids=ids)
    if policy.target == RetentionPolicy.Target.EVENTS:
        return profile_retention.events_delete(ids=ids)
    return profile_retention.attributes_delete(ids=ids)


def _run_policy(
    policy: RetentionPolicy,
    *,
    dry_run: bool,
    actor: Actor,
    regions: Collection[str] | None,
    now: dt.datetime,
    batch_size: int,
) -> PolicyResult:
    cutoff = retention_cutoff(policy=policy, now=now)
    result = PolicyResult(
        policy_id=policy.pk,
        policy=policy.name,
        target=policy.target,
        action=policy.action,
        dry_run=dry_run,
        cutoff=cutoff,
    )
    expected = retention_counts(policy=policy, regions=regions, now=now)
    run = RetentionRun.objects.create(
        policy=policy,
        dry_run=dry_run,
        action=policy.action,
        cutoff=cutoff,
        regions=sorted(regions) if regions is not None else None,
        counts=expected if dry_run else {},
        actor_label=actor.label[:150],
        started_at=now,
        finished_at=timezone.now() if dry_run else None,
    )
    result.run_id = run.pk
    if dry_run:
        result.counts = expected
        return result
    verb = "anonymised" if policy.action == RetentionPolicy.Action.ANONYMISE else "deleted"
    fields = (
        ["event.payload", "event.occurred_at"]
        if policy.action == RetentionPolicy.Action.ANONYMISE
        else [policy.target.rstrip("s")]
    )
    for region in sorted(expected):
        done = 0
        while True:
            # Effect, counts and audit event commit together: no deletion without its proof.
            with transaction.atomic():
                batch = retention_expired(policy=policy, cutoff=cutoff, regions=[region])
                ids = list(batch.values_list("pk", flat=True)[:batch_size])
                if not ids:
                    break
                applied = _apply_batch(policy, ids)
                done += applied
                result.counts[region] = done
                RetentionRun.objects.filter(pk=run.pk).update(counts=result.counts)
                audit_record(
                    actor=actor,
                    action="consent.retention.apply",
                    object_type="consent.retentionpolicy",
                    object_id=policy.pk,
                    region=region,
                    fields=fields,
                    reason=f"{policy.target} {verb}: {applied} ({region}); run {run.pk}, "
                    f"older than {cutoff:%Y-%m-%d}",
                )
    finished = timezone.now()
    RetentionRun.objects.filter(pk=run.pk).update(finished_at=finished)
    RetentionPolicy.objects.filter(pk=policy.pk).update(last_run_at=finished)
    return result


def retention_run(
    *,
    policy: RetentionPolicy | None = None,
    dry_run: bool,
    actor: Actor,
    regions: Collection[str] | None = None,
    now: dt.datetime | None = None,
    batch_size: int = BATCH_SIZE,
) -> RetentionReport:
    """Apply `policy` (or every active policy) to rows older than its maximum age.

    `regions` limits the run to subjects of those regions (a staff member's scope; None = all).
    A dry run changes no personal data: it counts what an applied run would act on and records
    a RetentionRun marked dry_run. An applied run deletes or anonymises in batches of
    `batch_size` (bounded memory, one transaction per batch), keeps its RetentionRun counts in
    step with each batch, and writes one `consent.retention.apply` audit event per batch, in the
    batch's transaction, with the region and count in `reason` (no values). Running it again is
    harmless. When every active policy runs (the beat task), one failing policy is logged and
    the others still run."""
    now = now or timezone.now()
    policies = [policy] if policy is not None else list(RetentionPolicy.objects.filter(active=True))
    report = RetentionReport(dry_run=dry_run)
    for item in policies:
        try:
            report.results.append(
                _run_policy(
                    item,
                    dry_run=dry_run,
                    actor=actor,
                    regions=regions,
                    now=now,
                    batch_size=batch_size,
                )
            )
        except Exception:
            if policy is not None:
                raise
            logger.exception("retention policy %s failed; the others go on", item.pk)
            report.failed.append(item.pk)
    return report

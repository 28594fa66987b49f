"""Consent reads: which regime applies, may a subject's data be used for a purpose, and the
data map / Art. 30 record of processing activities."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from consent.art30 import processing_activities
from consent.models import (
    ConsentRecord,
    CurrentConsent,
    Jurisdiction,
    ProcessingActivity,
    Purpose,
)
from consent.refdata import refdata
from core.db.pipeline import fetch_prepared
from core.errors import NotFoundError, echo


class Reason:
    ESSENTIAL = "essential"
    EXPLICIT_GRANT = "explicit_grant"
    DENIED = "denied"
    WITHDRAWN = "withdrawn"
    GPC_OPT_OUT = "gpc_opt_out"
    EXPIRED = "expired"
    REGIME_DEFAULT = "regime_default"
    NOT_YET_COLLECTED = "not_yet_collected"


# The latest choice of a subject for a purpose: state, time, GPC flag, record id (all None and
# False when there is none).
Choice = tuple[str | None, dt.datetime | None, bool, Any]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    purpose: str
    jurisdiction: str
    record_id: str | None = None
    decided_at: dt.datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "reason": self.reason,
            "purpose": self.purpose,
            "jurisdiction": self.jurisdiction,
            "record": self.record_id,
            "at": self.decided_at.isoformat() if self.decided_at else None,
        }


def jurisdiction_for_region(region: str, at: dt.datetime | None = None) -> Jurisdiction:
    """The regime governing `region` at time `at` (now by default), e.g. 'EU' -> GDPR, 'US-TX'
    -> TDPSA from 2024-07-01 and its fallback regime before; NotFoundError if none."""
    jurisdiction = refdata().jurisdiction_of_region(region)
    if jurisdiction is None:
        raise NotFoundError(f"No jurisdiction covers region {echo(region)}.", code="unknown_region")
    return in_force(jurisdiction, at)


def in_force(jurisdiction: Jurisdiction, at: dt.datetime | None = None) -> Jurisdiction:
    """`jurisdiction`, or the regime it falls back to while it is not yet in force at `at`."""
    day = timezone.localdate(at) if at is not None else timezone.localdate()
    seen = {jurisdiction.code}
    while not jurisdiction.in_force(day) and jurisdiction.fallback not in seen:
        fallback = refdata().jurisdictions.get(jurisdiction.fallback)
        if fallback is None:
            break
        seen.add(fallback.code)
        jurisdiction = fallback
    return jurisdiction


def jurisdiction_reach(*, code: str, regions: Any) -> list[str] | None:
    """The regions regime `code` can govern: its own `regions` and, transitively, those of the
    regimes falling back to it (before their effective date, point-in-time decisions included,
    so whatever their dates); None (every region) if it or one of those names no region.
    Read from the database (the admin decides who may change it)."""
    rows = list(Jurisdiction.objects.values_list("code", "regions", "fallback"))
    reached: set[str] = set()
    pending, seen = [(code, regions)], set()
    while pending:
        current, current_regions = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        if not isinstance(current_regions, list) or not current_regions:
            return None
        reached |= {str(region).strip().upper() for region in current_regions}
        pending += [(other, other_regions) for other, other_regions, fb in rows if fb == current]
    return sorted(reached)


def jurisdiction_for_subject(subject: Any, at: dt.datetime | None = None) -> Jurisdiction:
    """The subject's overriding jurisdiction if set, else the one of its region (at `at`)."""
    if subject.jurisdiction:
        found = refdata().jurisdictions.get(subject.jurisdiction)
        if found is not None:
            return in_force(found, at)
    return jurisdiction_for_region(subject.region, at)


def _expired(record_time: dt.datetime | None, jurisdiction: Jurisdiction, at: dt.datetime) -> bool:
    max_age = jurisdiction.consent_max_age_days
    if not max_age or record_time is None:
        return False
    return record_time + dt.timedelta(days=max_age) < at


def _choice(row: CurrentConsent | ConsentRecord | None) -> Choice:
    """The choice a projection row or ledger record holds; no row: no choice."""
    if row is None:
        return (None, None, False, None)
    record_id = row.record_id if isinstance(row, CurrentConsent) else row.pk
    return (row.state, row.recorded_at, row.gpc, record_id)


def may_process(*, subject: Any, purpose: Purpose, at: dt.datetime | None = None) -> Decision:
    """May this subject's data be used for `purpose`, now or at time `at`?

    Now: from the CurrentConsent projection (one indexed read). At a past time: from the ledger,
    so a withdrawal never rewrites what was lawful before it (Art. 7(3))."""
    jurisdiction = jurisdiction_for_subject(subject, at)
    now = timezone.now()
    when = at or now
    if at is None:
        choice = _choice(CurrentConsent.objects.filter(subject=subject, purpose=purpose).first())
    else:
        record = (
            ConsentRecord.objects.filter(subject=subject, purpose=purpose, recorded_at__lte=at)
            .order_by("-recorded_at")
            .first()
        )
        choice = _choice(record)
    return _decide(*choice, purpose, jurisdiction, when)


@functools.cache
def _subject_consent_sql(vendor: str) -> str:
    """The statement of `subject_consent_now`, built once per database vendor."""
    from django.db import connection

    from profiles.models import Subject

    subjects, current = Subject._meta, CurrentConsent._meta
    quote = connection.ops.quote_name
    columns = {field.name: field.column for field in current.concrete_fields if field.column}
    column = {
        name: quote(columns[name])
        for name in ("subject", "purpose", "state", "recorded_at", "gpc", "record")
    }
    return " ".join(
        [
            f"SELECT s.{quote('region')}, s.{quote('jurisdiction')},",
            f"c.{column['state']}, c.{column['recorded_at']}, c.{column['gpc']},",
            f"c.{column['record']} FROM {quote(subjects.db_table)} s",
            f"LEFT JOIN {quote(current.db_table)} c ON c.{column['subject']} = s.{quote('id')}",
            f"AND c.{column['purpose']} = %s WHERE s.{quote('id')} = %s",
        ]
    )


def subject_consent_now(*, subject_id: Any, purpose: Purpose) -> dict[str, Any] | None:
    """The subject's region, jurisdiction override and current choice for `purpose` (from the
    projection, never cached), in one statement: None if no such subject. Unscoped: the caller
    checks the region (`_subject_in_scope`-style) before answering. Written as one plain SQL
    read because it is the decision API's only query, and building two ORM querysets cost more
    than the rest of the request."""
    from django.db import connection

    from profiles.models import Subject

    sql = _subject_consent_sql(connection.vendor)
    found = fetch_prepared(
        sql, [purpose.pk, Subject._meta.pk.get_db_prep_value(subject_id, connection)]
    )
    if not found:
        return None
    region, override, state, recorded_at, gpc, record_id = found[0]
    return {
        "region": region,
        "jurisdiction": override,
        "state": state,
        "recorded_at": _aware(recorded_at),
        "gpc": bool(gpc),
        "record_id": uuid.UUID(str(record_id)) if record_id else None,  # SQLite: hex text
    }


def _aware(value: Any) -> dt.datetime | None:
    """A time read by plain SQL as the ORM would give it: SQLite hands back naive UTC text."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value is not None and timezone.is_naive(value):
        value = value.replace(tzinfo=dt.UTC)
    return value


@functools.cache
def _visitor_consent_sql(vendor: str) -> str:
    """The statement of `visitor_consent_now`, built once per database vendor."""
    from django.db import connection

    from consent.models import VisitorLink

    quote = connection.ops.quote_name
    current, records, links = CurrentConsent._meta, ConsentRecord._meta, VisitorLink._meta

    def col(meta: Any, name: str) -> str:
        return quote(meta.get_field(name).column)

    projected = ", ".join(
        f"c.{col(current, name)}"
        for name in ("purpose", "state", "gpc", "recorded_at", "expires_at")
    )
    return " ".join(
        [
            f"SELECT {projected}, r.{col(records, 'hash')}, 0",
            f"FROM {quote(current.db_table)} c JOIN {quote(records.db_table)} r",
            f"ON r.{col(records, 'id')} = c.{col(current, 'record')}",
            f"WHERE c.{col(current, 'subject')} IS NULL AND c.{col(current, 'visitor_id')} = %s",
            "UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, 1",
            f"FROM {quote(links.db_table)} l WHERE l.{col(links, 'visitor_id')} = %s",
        ]
    )


def visitor_consent_now(*, visitor_id: str) -> tuple[list[tuple], bool]:
    """A banner visitor's projection rows (purpose id, state, GPC flag, time, expiry, hash of
    the record) and whether the visitor was identified (a VisitorLink), in one statement.
    Visitor rows hold no personal data of a subject: no scope applies."""
    from django.db import connection

    found = fetch_prepared(_visitor_consent_sql(connection.vendor), [visitor_id, visitor_id])
    rows = [
        (purpose_id, state, bool(gpc), _aware(recorded_at), _aware(expires_at), record_hash)
        for purpose_id, state, gpc, recorded_at, expires_at, record_hash, link in found
        if not link
    ]
    return rows, len(rows) < len(found)


def may_process_now(*, subject_id: Any, purpose: Purpose | str, who: Any) -> Decision | None:
    """`may_process` now, for a subject id, in one query: None if the subject does not exist
    or lies outside `who`'s regions (consent readers need no profile permission). `purpose` may
    be a slug (NotFoundError if unknown, before the subject is read)."""
    from access.scoping import region_allowed

    data = refdata()  # one version check for the purpose and the jurisdiction
    if isinstance(purpose, str):
        purpose = _purpose_of(data, purpose)
    row = subject_consent_now(subject_id=subject_id, purpose=purpose)
    if row is None or not region_allowed(who, row["region"]):
        return None
    found = (
        data.jurisdictions.get(row["jurisdiction"]) if row["jurisdiction"] else None
    ) or data.jurisdiction_of_region(row["region"])
    if found is None:
        raise NotFoundError(
            f"No jurisdiction covers region {echo(row['region'])}.", code="unknown_region"
        )
    # A state law not yet in force falls back to its fallback regime (point in time).
    jurisdiction = found if found.in_force(timezone.localdate()) else in_force(found)
    return _decide(
        row["state"],
        row["recorded_at"],
        row["gpc"],
        row["record_id"],
        purpose,
        jurisdiction,
        timezone.now(),
    )


def _decide(
    state: str | None,
    time: dt.datetime | None,
    gpc: bool,
    record_id: Any,
    purpose: Purpose,
    jurisdiction: Jurisdiction,
    when: dt.datetime,
) -> Decision:
    base: dict[str, Any] = {
        "purpose": purpose.slug,
        "jurisdiction": jurisdiction.code,
        "decided_at": when,
        "record_id": str(record_id) if record_id else None,
    }
    if purpose.essential:
        return Decision(allowed=True, reason=Reason.ESSENTIAL, **base)
    if state == ConsentRecord.State.GRANTED:
        if _expired(time, jurisdiction, when):
            return Decision(allowed=False, reason=Reason.EXPIRED, **base)
        return Decision(allowed=True, reason=Reason.EXPLICIT_GRANT, **base)
    if state == ConsentRecord.State.DENIED:
        return Decision(allowed=False, reason=Reason.GPC_OPT_OUT if gpc else Reason.DENIED, **base)
    if state == ConsentRecord.State.WITHDRAWN:
        return Decision(allowed=False, reason=Reason.WITHDRAWN, **base)
    opt_out = jurisdiction.consent_model == Jurisdiction.ConsentModel.OPT_OUT
    reason = Reason.REGIME_DEFAULT if opt_out else Reason.NOT_YET_COLLECTED
    return Decision(allowed=opt_out and not purpose.sensitive, reason=reason, **base)


def may_process_bulk(
    *, who: Any, subject_ids: list[Any], purposes: list[Purpose], at: dt.datetime | None = None
) -> dict[str, dict[str, Decision]]:
    """Decisions for many subjects x purposes: subjects outside `who`'s regions are left out.
    Now: two queries whatever the size; at a past time: one ledger query per pair."""
    from access.scoping import allowed_regions
    from profiles.models import Subject

    regions = allowed_regions(who)
    found = Subject.objects.filter(pk__in=subject_ids)
    if regions is not None:
        found = found.filter(region__in=sorted(regions))
    subjects = list(found.values_list("pk", "region", "jurisdiction"))
    if at is None:
        return may_process_loaded(subjects=subjects, purposes=purposes)
    return {
        str(pk): {
            purpose.slug: _decide(
                *_choice(
                    ConsentRecord.objects.filter(
                        subject_id=pk, purpose=purpose, recorded_at__lte=at
                    )
                    .order_by("-recorded_at")
                    .first()
                ),
                purpose,
                jurisdiction,
                at,
            )
            for purpose in purposes
        }
        for pk, jurisdiction in _jurisdictions(subjects, at)
    }


def _jurisdictions(
    subjects: list[tuple[Any, str, str]], at: dt.datetime | None
) -> list[tuple[Any, Jurisdiction]]:
    """Each (pk, region, jurisdiction override) with the regime in force for it at `at` (now by
    default); subjects no regime covers are left out."""
    jurisdictions = refdata().jurisdictions
    by_region = {r: j for j in jurisdictions.values() for r in j.regions}
    in_force_of: dict[str, Jurisdiction] = {}
    out = []
    for pk, region, override in subjects:
        jurisdiction = jurisdictions.get(override) or by_region.get(region)
        if jurisdiction is None:
            continue
        if jurisdiction.code not in in_force_of:
            in_force_of[jurisdiction.code] = in_force(jurisdiction, at)
        out.append((pk, in_force_of[jurisdiction.code]))
    return out


def may_process_loaded(
    *, subjects: list[tuple[Any, str, str]], purposes: list[Purpose]
) -> dict[str, dict[str, Decision]]:
    """Decisions now for subjects already read and scoped by the caller, given as (pk, region,
    jurisdiction override) tuples (a keyset page reads them in its own ordered scan): one
    projection query whatever the size, no second read of the subjects."""
    when = timezone.now()
    current: dict[tuple[Any, Any], Choice] = {}
    if subjects and purposes:
        rows = CurrentConsent.objects.filter(
            subject_id__in=[pk for pk, _, _ in subjects], purpose__in=purposes
        ).values_list("subject_id", "purpose_id", "state", "recorded_at", "gpc", "record_id")
        current = {(s, p): (state, t, gpc, r) for s, p, state, t, gpc, r in rows}
    none: Choice = (None, None, False, None)
    return {
        str(pk): {
            purpose.slug: _decide(*current.get((pk, purpose.pk), none), purpose, jurisdiction, when)
            for purpose in purposes
        }
        for pk, jurisdiction in _jurisdictions(subjects, None)
    }


def subject_choices_now(*, subject_id: Any) -> dict[str, dict[str, Any]]:
    """The subject's current choice per purpose slug, from the projection (system read, for the
    demo page; the caller decides who may see it)."""
    rows = CurrentConsent.objects.filter(subject_id=subject_id).select_related("purpose", "record")
    return {
        row.purpose.slug: {
            "state": row.state,
            "gpc": row.gpc,
            "channel": row.record.channel,
            "language": row.record.language,
            "recorded_at": row.recorded_at.isoformat(),
        }
        for row in rows
    }


def purpose_get(slug: str) -> Purpose:
    return _purpose_of(refdata(), slug)


def _purpose_of(data: Any, slug: str) -> Purpose:
    purpose = data.purposes.get(slug)
    if purpose is None:
        raise NotFoundError(f"Unknown purpose '{echo(slug)}'.", code="unknown_purpose")
    return purpose


def consent_history_export(*, subject_id: Any) -> list[dict[str, Any]]:
    """A subject's whole ledger with the notice versions shown, oldest first (for Art. 15)."""
    records = (
        ConsentRecord.objects.filter(subject_id=subject_id)
        .select_related("purpose", "notice")
        .order_by("recorded_at")
    )
    return [
        {
            "record": str(r.pk),
            "purpose": r.purpose.slug,
            "state": r.state,
            "channel": r.channel,
            "recorded_at": r.recorded_at.isoformat(),
            "jurisdiction": r.jurisdiction,
            "notice": f"{r.notice.title} v{r.notice.version} ({r.notice.language})"
            if r.notice
            else None,
            "gpc": r.gpc,
            "tc_string": r.tc_string or None,
            "gpp_string": r.gpp_string or None,
            "language": r.language or None,
            "hash": r.hash,
        }
        for r in records
    ]


def subject_purposes_export(*, subject: Any) -> list[dict[str, Any]]:
    """For a data subject's access export (Art. 15(1)(a), (c)-(d), 15(2)): every purpose, saying
    whether it applies to this person now and on which basis, with the dates of their consent
    choices and the activities of the data map serving it in their region (recipients,
    transfers, retention, systems).

    A purpose applies when the decision engine allows it (essential, consent given, an opt-out
    regime's default), or when its activities rest on a basis other than consent and the person
    has not refused it. A refusal, withdrawal, GPC opt-out or expired consent means it does not
    apply, whatever the basis. System read of the subject's own consent state; no scoping."""
    jurisdiction = jurisdiction_for_subject(subject)
    now = timezone.now()
    current = {row.purpose_id: row for row in CurrentConsent.objects.filter(subject=subject)}
    activities: dict[int, list[ProcessingActivity]] = {}
    for activity in processing_activities():
        if activity.applies_to(subject.region):
            activities.setdefault(activity.purpose_id, []).append(activity)
    safeguards = dict(ProcessingActivity.TransferSafeguard.choices)
    rows = []
    for purpose in Purpose.objects.all():
        latest = current.get(purpose.pk)
        decision = _decide(*_choice(latest), purpose, jurisdiction, now)
        serving = activities.get(purpose.pk, [])
        applies, basis = _applies_on_basis(decision, purpose, serving)
        rows.append(
            {
                "purpose": purpose.slug,
                "name": purpose.name,
                "description": purpose.description,
                "applies": applies,
                "basis": basis,
                "sale_sharing": purpose.sale_sharing,
                "reason": decision.reason,
                "consent": {
                    "state": latest.state,
                    "recorded_at": latest.recorded_at.isoformat(),
                    "gpc": latest.gpc,
                }
                if latest
                else None,
                "activities": [_activity_export(a, safeguards) for a in serving],
            }
        )
    return rows


def _applies_on_basis(
    decision: Decision, purpose: Purpose, serving: list[ProcessingActivity]
) -> tuple[bool, str]:
    """Whether the purpose applies to the person now, and on which basis ('' when it does
    not): see `subject_purposes_export`."""
    bases = sorted({a.effective_lawful_basis for a in serving}) or [purpose.lawful_basis]
    other_basis = [b for b in bases if b != Purpose.LawfulBasis.CONSENT]
    applies = decision.allowed or (
        decision.reason == Reason.NOT_YET_COLLECTED and bool(other_basis)
    )
    if decision.reason == Reason.EXPLICIT_GRANT:
        return applies, Purpose.LawfulBasis.CONSENT
    if applies and other_basis:
        return applies, other_basis[0]
    if decision.reason == Reason.REGIME_DEFAULT:
        return applies, "not_opted_out"
    return applies, bases[0] if applies else ""


def _activity_export(activity: ProcessingActivity, safeguards: dict[str, str]) -> dict[str, Any]:
    """One data-map activity serving a purpose, as the access export shows it."""
    return {
        "activity": activity.name,
        "lawful_basis": activity.effective_lawful_basis,
        "data_categories": list(activity.data_categories),
        "recipients": list(activity.recipients),
        "transfers": [
            {**t, "safeguard_text": safeguards.get(t.get("safeguard"), "")}
            for t in activity.transfers
        ],
        "retention": activity.retention,
        "systems": sorted(s.name for s in activity.systems.all()),
    }

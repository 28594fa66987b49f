"""Consent writes: the append-only ledger, its projection, per-owner hash chains."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audit.actors import Actor, truncate_ip
from audit.services import audit_record
from consent.identity import identity_assertion_verify
from consent.models import (
    ConsentProperty,
    ConsentRecord,
    CurrentConsent,
    IdentityAssertionUse,
    Jurisdiction,
    Notice,
    ProcessingActivity,
    Purpose,
    VisitorLink,
    identity_secret,
)
from consent.refdata import refdata
from consent.selectors import jurisdiction_for_region, jurisdiction_for_subject
from consent.webhooks import outbox_enqueue_many
from core.db.pipeline import execute_together
from core.errors import ConflictError, DomainError, NotFoundError
from profiles.models import Subject
from profiles.selectors import subjects_find_by_identifier

GENESIS = "0" * 64
_STATES = frozenset(ConsentRecord.State.values)
AUDITED_CHANNELS = {"api", "admin", "import", "dsar"}


class ConsentError(DomainError):
    code = "consent_invalid"


@dataclass(frozen=True)
class Proof:
    """What the person saw and how they answered: evidence kept with the record."""

    user_agent: str = ""
    ip: str = ""
    gpc: bool = False
    tc_string: str = ""
    gpp_string: str = ""
    language: str = ""  # the language version of the notice and banner shown


def _owner_key(owner: str) -> int:
    """The PostgreSQL advisory lock key of a subject's or visitor's chain."""
    return int.from_bytes(hashlib.sha256(owner.encode()).digest()[:8], "big", signed=True)


def _owner_lock(owner: str) -> None:
    """Serialize appends per subject/visitor so each chain has one order (PostgreSQL advisory
    lock; SQLite's IMMEDIATE transactions serialize writers already)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_owner_key(owner)])


def visitor_lock(*, visitor_id: str) -> None:
    """Inside a transaction: hold the visitor's ledger lock until commit, so a read of their
    choices and the writes decided on it cannot interleave with another write of theirs."""
    _owner_lock(f"visitor:{visitor_id}")


def _chain_hash(prev_hash: str, record: ConsentRecord) -> str:
    content = {
        "id": str(record.id),
        "subject": str(record.subject_id or ""),
        "visitor": record.visitor_id,
        "purpose": record.purpose.slug,
        "state": record.state,
        "notice": record.notice_id,
        "channel": record.channel,
        "jurisdiction": record.jurisdiction,
        "recorded_at": record.recorded_at.isoformat(timespec="microseconds"),
        "gpc": record.gpc,
        "tc_string": record.tc_string,
        "ip": record.ip_truncated,
        "ua": record.user_agent,
    }
    if record.gpp_string:  # only when set, so records written before GPP keep their hashes
        content["gpp_string"] = record.gpp_string
    if record.language:  # chained only when recorded, so older records keep their hashes
        content["language"] = record.language
    payload = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(prev_hash.encode() + b"\n" + payload).hexdigest()


def consent_record(
    *,
    purpose: Purpose,
    state: str,
    channel: str,
    actor: Actor,
    subject: Any = None,
    visitor_id: str = "",
    region: str = "",
    notice: Notice | None = None,
    proof: Proof | None = None,
    idempotency_key: str | None = None,
    recorded_at: dt.datetime | None = None,
) -> ConsentRecord:
    """Append one consent decision and update the projection, in one transaction.

    Exactly one of `subject` / `visitor_id`. Essential purposes cannot be refused. A repeated
    `idempotency_key` returns the first record (or 409 if it named something else). Appends of
    one owner are serialized, so concurrent writes lose nothing and the projection equals the
    last record. Staff, API, import and DSAR writes are also audited. A subject outside the
    actor's regions does not exist for them (NotFoundError), before anything is written."""
    _check_record(purpose=purpose, state=state, actor=actor, subject=subject, visitor_id=visitor_id)
    _check_notice(notice, purpose)
    proof = proof or Proof()
    if idempotency_key:
        existing = ConsentRecord.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return _replay(existing, subject, visitor_id, purpose, state)
    jurisdiction = (
        jurisdiction_for_subject(subject)
        if subject is not None
        else jurisdiction_for_region(region)
    )
    try:
        with transaction.atomic():
            (record,) = _append(
                entries=[ConsentEntry(purpose=purpose, state=state, notice=notice, proof=proof)],
                channel=channel,
                actor=actor,
                subject=subject,
                visitor_id=visitor_id,
                region=subject.region if subject is not None else region,
                jurisdiction=jurisdiction,
                idempotency_key=idempotency_key,
                recorded_at=recorded_at,
            )
    except IntegrityError:
        if idempotency_key:  # a concurrent retry with the same key won the race
            existing = ConsentRecord.objects.filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                return _replay(existing, subject, visitor_id, purpose, state)
        raise
    return record


def _check_record(
    *, purpose: Purpose, state: str, actor: Actor, subject: Any, visitor_id: str
) -> None:
    """One owner, in the actor's regions (else not found), a known state, essentials granted."""
    if (subject is None) == (not visitor_id):
        raise ConsentError("Give either a subject or a visitor id.", fields={"subject": ["one of"]})
    if subject is not None and not actor.covers(subject.region):
        raise NotFoundError("Subject not found.")
    if state not in _STATES:
        raise ConsentError(
            "State must be granted, denied or withdrawn.", fields={"state": ["invalid"]}
        )
    if purpose.essential and state != ConsentRecord.State.GRANTED:
        raise ConsentError("Essential purposes cannot be refused.", code="purpose_essential")


def _check_notice(notice: Notice | None, purpose: Purpose) -> None:
    if notice is not None and not notice.purposes.filter(pk=purpose.pk).exists():
        raise ConsentError(
            "That notice does not cover this purpose.", fields={"notice": ["mismatch"]}
        )


@dataclass(frozen=True)
class ChainHead:
    """The last record of an owner's chain (no time: the chain is empty)."""

    recorded_at: dt.datetime | None = None
    hash: str = GENESIS


@dataclass(frozen=True)
class ConsentEntry:
    """One decision of a batch: a purpose, its new state, the notice shown, the proof."""

    purpose: Purpose
    state: str
    notice: Notice | None = None
    proof: Proof = Proof()


def consent_record_many(
    *,
    entries: list[ConsentEntry],
    channel: str,
    actor: Actor,
    visitor_id: str,
    region: str,
    lock_held: bool = False,
    chain_head: ChainHead | None = None,
) -> list[ConsentRecord]:
    """Append several decisions of one visitor (a banner choice) in one transaction, with a
    number of queries that does not grow with the number of purposes: the records inserted
    together, chained in memory in one strict order, the projection upserted in one statement,
    the webhook outbox filled in one insert. Same guarantees as `consent_record` otherwise
    (essential purposes cannot be refused; appends of one visitor serialized). `lock_held`: the
    caller already holds `visitor_lock` in the current transaction; `chain_head`: the visitor's
    chain head the caller read under that lock (saves reading it again)."""
    _check_entries(entries, visitor_id)
    if not entries:
        return []
    jurisdiction = jurisdiction_for_region(region)
    with transaction.atomic(savepoint=False):
        return _append(
            entries=entries,
            channel=channel,
            actor=actor,
            visitor_id=visitor_id,
            region=region,
            jurisdiction=jurisdiction,
            lock_held=lock_held,
            chain_head=chain_head if lock_held else None,
        )


def _check_entries(entries: list[ConsentEntry], visitor_id: str) -> None:
    if not visitor_id:
        raise ConsentError("Give a visitor id.", fields={"visitor_id": ["required"]})
    for entry in entries:
        if entry.state not in _STATES:
            raise ConsentError(
                "State must be granted, denied or withdrawn.", fields={"state": ["invalid"]}
            )
        if entry.purpose.essential and entry.state != ConsentRecord.State.GRANTED:
            raise ConsentError("Essential purposes cannot be refused.", code="purpose_essential")


def visitor_append_unlocked_applies() -> bool:
    """Whether `consent_record_many_after` can append: on PostgreSQL, with no active webhook
    (its outbox rows are written in the records' transaction by the locked path)."""
    return connection.vendor == "postgresql" and not refdata().webhooks


def consent_record_many_after(
    *,
    entries: list[ConsentEntry],
    channel: str,
    actor: Actor,
    visitor_id: str,
    region: str,
    jurisdiction: Jurisdiction,
    chain_head: ChainHead,
    unlinked: bool = False,
) -> list[ConsentRecord] | None:
    """`consent_record_many` for choices decided on the visitor's state read without their lock
    (`chain_head`: the head of that read), where `visitor_append_unlocked_applies`: one round
    trip, one transaction of its own (committed when this returns). The statement takes the
    visitor's lock, then appends the records and upserts their projection rows only if no
    record of the visitor is newer than `chain_head`; else it writes nothing and this returns
    None: another write came in between, and the caller decides again on a read under the lock
    (`consent_record_many` with `lock_held`). Same checks and chain as `consent_record_many`;
    `jurisdiction`: the regime of `region` now (`jurisdiction_for_region`).

    With `chain_head` empty the choices were decided for a visitor never seen (no read at
    all): the statement writes only if the visitor has no record, and with `unlinked` only if
    they were not identified either (an identified visitor's choices follow them: the caller
    reads that)."""
    _check_entries(entries, visitor_id)
    if not entries:
        return []
    records = _records_after(
        chain_head,
        entries,
        subject=None,
        visitor_id=visitor_id,
        region=region,
        jurisdiction=jurisdiction,
        channel=channel,
        recorded_at=None,
        idempotency_key=None,
        recorded_by=actor.label[:150],
    )
    max_age = jurisdiction.consent_max_age_days
    params: list[Any] = [_owner_key(f"visitor:{visitor_id}")]
    params += _record_params(records)
    params += [visitor_id, chain_head.recorded_at]
    if unlinked:
        params.append(visitor_id)
    params += [ConsentRecord.State.GRANTED, max_age * 86400 if max_age else None]
    lock, params = params[:1], params[1:]
    # Inside a caller's transaction, a savepoint: a failed statement undoes only itself.
    savepoint = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
    with savepoint:
        _, appended = execute_together(
            [(_LOCK_SQL, lock), (_append_after_sql(len(records), unlinked=unlinked), params)]
        )
    if appended != len(records):
        return None
    _mark_saved(records)
    return records


def _chained_records(
    entries: list[ConsentEntry], prev_hash: str, *, subject: Any, visitor_id: str, **common: Any
) -> list[ConsentRecord]:
    """The unsaved ledger records of `entries`, each a microsecond after the one before and
    chained to it (the first to `prev_hash`); `common`: the fields every record shares."""
    start = common.pop("recorded_at")
    idempotency_key = common.pop("idempotency_key") or None
    jurisdiction = common.pop("jurisdiction")
    records = []
    for position, entry in enumerate(entries):
        record = ConsentRecord(
            id=uuid.uuid4(),
            subject=subject,
            visitor_id="" if subject is not None else visitor_id,
            jurisdiction=jurisdiction.code,
            purpose=entry.purpose,
            state=entry.state,
            notice=entry.notice,
            recorded_at=start + dt.timedelta(microseconds=position),
            user_agent=entry.proof.user_agent[:300],
            ip_truncated=truncate_ip(entry.proof.ip),
            gpc=entry.proof.gpc,
            tc_string=entry.proof.tc_string,
            gpp_string=entry.proof.gpp_string,
            language=entry.proof.language[:16],
            idempotency_key=idempotency_key,
            **common,
        )
        record.prev_hash = prev_hash
        record.hash = prev_hash = _chain_hash(prev_hash, record)
        records.append(record)
    return records


def _append(
    *,
    entries: list[ConsentEntry],
    channel: str,
    actor: Actor,
    region: str,
    jurisdiction: Jurisdiction,
    subject: Any = None,
    visitor_id: str = "",
    idempotency_key: str | None = None,
    recorded_at: dt.datetime | None = None,
    lock_held: bool = False,
    chain_head: ChainHead | None = None,
) -> list[ConsentRecord]:
    """Inside a transaction: lock the owner's chain, append `entries` after its last record
    (each strictly later than the one before), upsert the projection, fill the outbox, audit
    staff channels."""
    owner = f"subject:{subject.pk}" if subject is not None else f"visitor:{visitor_id}"
    if not lock_held:
        _owner_lock(owner)
    records = _records_after(
        chain_head or _chain_head(subject, visitor_id),
        entries,
        subject=subject,
        visitor_id=visitor_id,
        region=region,
        jurisdiction=jurisdiction,
        channel=channel,
        recorded_at=recorded_at,
        idempotency_key=idempotency_key,
        recorded_by=actor.label[:150],
    )
    _insert_and_project(records, jurisdiction.consent_max_age_days)
    outbox_enqueue_many(records)
    if channel in AUDITED_CHANNELS:
        for record in records:
            audit_record(
                actor=actor,
                action=f"consent.record.{record.state}",
                object_type="consent.record",
                object_id=record.pk,
                subject_id=getattr(subject, "pk", None),
                region=region,
                fields=[record.purpose.slug],
            )
    return records


def _records_after(
    head: ChainHead, entries: list[ConsentEntry], *, recorded_at: dt.datetime | None, **common: Any
) -> list[ConsentRecord]:
    """The unsaved records of `entries` chained after `head`, the first at `recorded_at` (now
    if None) or a microsecond after the head, whichever is later: one strict order per owner."""
    now = recorded_at or timezone.now()
    if head.recorded_at is not None and now <= head.recorded_at:
        now = head.recorded_at + dt.timedelta(microseconds=1)
    return _chained_records(entries, head.hash, recorded_at=now, **common)


def _chain_head(subject: Any, visitor_id: str) -> ChainHead:
    owner_filter = (
        {"subject": subject}
        if subject is not None
        else {"subject__isnull": True, "visitor_id": visitor_id}
    )
    last = (
        ConsentRecord.objects.filter(**owner_filter)
        .order_by("-recorded_at", "-id")
        .values_list("recorded_at", "hash")
        .first()
    )
    return ChainHead(*last) if last else ChainHead()


@functools.cache
def _insert_sql(vendor: str, rows: int) -> str:
    """INSERT of `rows` ledger records, built once per vendor and size."""
    meta, quote = ConsentRecord._meta, connection.ops.quote_name
    fields: list[Any] = list(meta.concrete_fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    # Names from the model's metadata, values as parameters.
    return " ".join(
        [
            f"INSERT INTO {quote(meta.db_table)}",
            f"({', '.join(quote(f.column) for f in fields)})",
            f"VALUES {', '.join([row] * rows)}",
        ]
    )


def _insert_and_project(records: list[ConsentRecord], max_age_days: int | None) -> None:
    """Insert one owner's new ledger records and upsert their projection rows: what
    `bulk_create` sends for the records (every concrete field prepared by the field itself,
    primary keys set before), without building it through the query compiler each time, and
    the projection's INSERT ... ON CONFLICT (`_project`). On PostgreSQL one statement (the
    records' insert as a data-modifying CTE): one round trip instead of two."""
    params = _record_params(records)
    insert = _insert_sql(connection.vendor, len(records))
    project_sql, project_params = _project(records, max_age_days)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"WITH ledger AS ({insert}) {project_sql}", params + project_params)
        else:
            cursor.execute(insert, params)
            cursor.execute(project_sql, project_params)
    _mark_saved(records)


def _record_params(records: list[ConsentRecord]) -> list[Any]:
    """The values of `records`' concrete fields, row after row, each prepared by its field."""
    fields = ConsentRecord._meta.concrete_fields
    return [
        field.get_db_prep_save(getattr(record, field.attname), connection)
        for record in records
        for field in fields
    ]


def _mark_saved(records: list[ConsentRecord]) -> None:
    for record in records:
        record._state.adding = False
        record._state.db = connection.alias


_PROJECTED = ("state", "record", "gpc", "recorded_at", "expires_at", "region")
_PROJECT_COLUMNS = ("subject", "visitor_id", "purpose", *_PROJECTED, "needs_reprompt")


def _project(records: list[ConsentRecord], max_age_days: int | None) -> tuple[str, list[Any]]:
    """The upsert (SQL and parameters) of the projection rows of one owner's new records in
    one INSERT ... ON CONFLICT (PostgreSQL and SQLite). Written by hand: the unique
    constraints are partial (subject rows, visitor rows), and an ON CONFLICT target must then
    name the constraint's predicate, which Django's bulk_create(update_conflicts=True) cannot
    express."""
    meta = CurrentConsent._meta
    columns = _PROJECT_COLUMNS
    fields: list[Any] = [meta.get_field(name) for name in columns]
    rows = []
    for record in records:
        expires = (
            record.recorded_at + dt.timedelta(days=max_age_days)
            if max_age_days and record.state == ConsentRecord.State.GRANTED
            else None
        )
        values = {
            "subject": record.subject_id,
            "visitor_id": record.visitor_id,
            "purpose": record.purpose_id,
            "state": record.state,
            "record": record.pk,
            "gpc": record.gpc,
            "recorded_at": record.recorded_at,
            "expires_at": expires,
            "region": record.region,
            "needs_reprompt": False,
        }
        pairs = zip(columns, fields, strict=True)
        rows.append([f.get_db_prep_save(values[name], connection) for name, f in pairs])
    sql = _project_sql(connection.vendor, len(rows), records[0].subject_id is not None)
    return sql, [value for row in rows for value in row]


@functools.cache
def _project_sql(vendor: str, rows: int, subject_owned: bool) -> str:
    """The upsert of `_project` for `rows` rows of subject (or visitor) owned records, built
    once per vendor, size and owner kind."""
    meta = CurrentConsent._meta
    fields: list[Any] = [meta.get_field(name) for name in _PROJECT_COLUMNS]
    quote = connection.ops.quote_name
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    # Names from the model's metadata, values as parameters.
    return " ".join(
        [
            f"INSERT INTO {quote(meta.db_table)}",
            f"({', '.join(quote(f.column) for f in fields)})",
            f"VALUES {', '.join([row] * rows)}",
            _project_conflict(subject_owned=subject_owned),
        ]
    )


def _project_conflict(*, subject_owned: bool) -> str:
    """The ON CONFLICT clause of a projection upsert: the owner's row for the purpose takes
    the new record's state, time, expiry and region."""
    meta = CurrentConsent._meta
    quote = connection.ops.quote_name
    target = (
        f"({quote('subject_id')}, {quote('purpose_id')}) WHERE {quote('subject_id')} IS NOT NULL"
        if subject_owned
        else f"({quote('visitor_id')}, {quote('purpose_id')}) WHERE {quote('subject_id')} IS NULL"
    )
    fields: list[Any] = [meta.get_field(name) for name in _PROJECT_COLUMNS]
    updates = ", ".join(
        f"{quote(f.column)} = excluded.{quote(f.column)}" for f in fields if f.name in _PROJECTED
    )
    return f"ON CONFLICT {target} DO UPDATE SET {updates}"


# The owner's advisory lock, for `execute_together` (its parameter typed for PREPARE).
_LOCK_SQL = "SELECT pg_advisory_xact_lock(CAST(%s AS bigint))"


@functools.cache
def _append_after_sql(rows: int, *, unlinked: bool) -> str:
    """PostgreSQL, the statement sent after the visitor's advisory lock (`_LOCK_SQL`) in one
    query text (one round trip, one implicit transaction, each statement prepared once per
    connection: `core.db.pipeline.execute_together`): with a snapshot taken once the lock is
    held, the insert of `rows` ledger records unless a projection row of the visitor is
    newer than the head read before (every record updates its purpose's row in its own
    transaction, and visitor rows are never deleted: a newer row is a newer record; the
    row's partial unique index finds them, where the ledger's indexes can be a scan), as a
    data-modifying CTE, and the upsert of the projection rows of what it inserted. The
    projection row's expiry: the grant's time plus the regime's maximum age (a parameter in
    seconds, NULL for none).
    `unlinked`: and unless the visitor was identified."""
    records, current, links = ConsentRecord._meta, CurrentConsent._meta, VisitorLink._meta
    quote = connection.ops.quote_name
    fields: list[Any] = list(records.concrete_fields)
    # Typed, so that a column NULL in every row is not read as text.
    row = "(" + ", ".join(f"CAST(%s AS {f.cast_db_type(connection)})" for f in fields) + ")"

    def col(meta: Any, name: str) -> str:
        return quote(meta.get_field(name).column)

    # The projection's columns (_PROJECT_COLUMNS) from the inserted records.
    kept = {
        name: col(records, "id" if name == "record" else name)
        for name in _PROJECT_COLUMNS
        if name not in ("expires_at", "needs_reprompt")
    }
    projected = {
        **kept,
        "expires_at": f"CASE WHEN {kept['state']} = %s THEN "
        f"{kept['recorded_at']} + CAST(%s AS double precision) * INTERVAL '1 second' END",
        "needs_reprompt": "FALSE",
    }
    # Names from the models' metadata, values as parameters.
    return " ".join(
        [
            f"WITH ledger AS (INSERT INTO {quote(records.db_table)}",
            f"({', '.join(quote(f.column) for f in fields)})",
            f"SELECT * FROM (VALUES {', '.join([row] * rows)}) AS new",  # noqa: S608
            f"WHERE NOT EXISTS (SELECT 1 FROM {quote(current.db_table)}",  # noqa: S608
            f"WHERE {col(current, 'subject')} IS NULL AND {col(current, 'visitor_id')} = %s",
            f"AND {col(current, 'recorded_at')} > COALESCE(%s, '-infinity'::timestamptz))",
            (
                f"AND NOT EXISTS (SELECT 1 FROM {quote(links.db_table)} "  # noqa: S608
                f"WHERE {col(links, 'visitor_id')} = %s)"
                if unlinked
                else ""
            ),
            f"RETURNING {', '.join(kept.values())})",
            f"INSERT INTO {quote(current.db_table)}",
            f"({', '.join(col(current, name) for name in _PROJECT_COLUMNS)})",
            f"SELECT {', '.join(projected[name] for name in _PROJECT_COLUMNS)}",
            "FROM ledger",
            _project_conflict(subject_owned=False),
        ]
    )


def _replay(
    existing: ConsentRecord, subject: Any, visitor_id: str, purpose: Purpose, state: str
) -> ConsentRecord:
    same = (
        existing.purpose_id == purpose.pk
        and existing.state == state
        and existing.subject_id == getattr(subject, "pk", None)
        and (subject is not None or existing.visitor_id == visitor_id)
    )
    if not same:
        raise ConflictError(
            "This idempotency key was used for another consent.", code="idempotency_key_reused"
        )
    return existing


def consent_chain_verify(*, subject: Any = None, visitor_id: str = "") -> bool:
    """Recompute one owner's chain: True if no record was altered, removed or inserted."""
    owner_filter = (
        {"subject": subject}
        if subject is not None
        else {"subject__isnull": True, "visitor_id": visitor_id}
    )
    prev = GENESIS
    for record in (
        ConsentRecord.objects.filter(**owner_filter)
        .select_related("purpose")
        .order_by("recorded_at", "id")
    ):
        if record.prev_hash != prev or _chain_hash(prev, record) != record.hash:
            return False
        prev = record.hash
    return True


def consent_opt_out_of_sale(
    *, subject: Any, actor: Actor, channel: str = "dsar"
) -> list[ConsentRecord]:
    """Deny every sale/sharing purpose for the subject (a CCPA/CPRA opt-out request)."""
    return [
        consent_record(
            purpose=p,
            state=ConsentRecord.State.DENIED,
            channel=channel,
            actor=actor,
            subject=subject,
        )
        for p in Purpose.objects.filter(sale_sharing=True)
    ]


def visitor_link_to_subject(*, visitor_id: str, subject: Any, actor: Actor) -> int:
    """When a visitor is identified, carry their latest choices to the subject's ledger (new
    records referencing the same proof), unless the subject has a newer choice for that purpose.
    The visitor's own records stay as they are (append-only). Returns how many were carried."""
    carried = 0
    for current in CurrentConsent.objects.filter(
        subject__isnull=True, visitor_id=visitor_id
    ).select_related("record", "purpose"):
        newer = CurrentConsent.objects.filter(
            subject=subject, purpose=current.purpose, recorded_at__gte=current.recorded_at
        ).exists()
        if newer:
            continue
        source = current.record
        consent_record(
            purpose=current.purpose,
            state=current.state,
            channel=source.channel,
            actor=actor,
            subject=subject,
            notice=source.notice,
            proof=Proof(
                user_agent=source.user_agent,
                ip=source.ip_truncated,
                gpc=source.gpc,
                tc_string=source.tc_string,
                gpp_string=source.gpp_string,
                language=source.language,
            ),
        )
        carried += 1
    return carried


def visitor_identify(*, prop: ConsentProperty, visitor_id: str, assertion: str) -> dict[str, Any]:
    """Link a banner visitor to the subject that a signed identity assertion of the property's
    backend names, and carry the visitor's current choices to the subject's ledger; later banner
    choices follow (`visitor_choices_follow`).

    Refuses a forged (401), expired (401), malformed (400) or replayed (409) assertion, and a
    person the blind index does not find exactly once among active subjects of the property's
    identity regions (404): the property's scope is the actor's, so nothing is written outside
    it. The nonce is spent before the lookup, so a refused assertion cannot be retried."""
    identity = identity_assertion_verify(secret=prop.identity_secret, assertion=assertion)
    now = timezone.now()
    try:
        with transaction.atomic():
            IdentityAssertionUse.objects.filter(property=prop, expires_at__lt=now).delete()
            IdentityAssertionUse.objects.create(
                property=prop,
                nonce=identity.nonce,
                expires_at=dt.datetime.fromtimestamp(identity.expires_at, tz=dt.UTC),
            )
    except IntegrityError as exc:
        raise ConflictError(
            "This identity assertion was already used.", code="identity_assertion_replayed"
        ) from exc
    scope = prop.identity_scope
    found = list(
        subjects_find_by_identifier(kind=identity.kind, value=identity.value, regions=scope)
        .filter(status=Subject.Status.ACTIVE)
        .order_by("pk")[:2]
    )
    if len(found) != 1:
        raise NotFoundError(
            "No single customer of this property has that identity.",
            code="identity_subject_unknown",
        )
    (subject,) = found
    with transaction.atomic():
        VisitorLink.objects.update_or_create(
            visitor_id=visitor_id,
            defaults={
                "subject": subject,
                "property": prop,
                "region": subject.region,
                "linked_at": now,
            },
        )
        carried = visitor_link_to_subject(
            visitor_id=visitor_id, subject=subject, actor=_property_actor(prop)
        )
    return {"linked": True, "carried": carried}


def _property_actor(prop: ConsentProperty) -> Actor:
    return Actor.system(f"property:{prop.pk}", regions=prop.identity_scope)


def visitor_choices_follow(*, visitor_id: str) -> int:
    """If the visitor was identified, carry their newest choices to the subject (within the
    linking property's identity regions). Returns how many were carried."""
    link = (
        VisitorLink.objects.filter(visitor_id=visitor_id)
        .select_related("subject", "property")
        .first()
    )
    if link is None:
        return 0
    return visitor_link_to_subject(
        visitor_id=visitor_id, subject=link.subject, actor=_property_actor(link.property)
    )


def consent_property_identity_secret_rotate(*, prop: ConsentProperty, actor: Actor) -> str:
    """Give the property a new identity-assertion secret and return it (shown once); the old
    one stops working at once. Audited (no secret in the audit row)."""
    with transaction.atomic():
        prop.identity_secret = identity_secret()
        prop.save(update_fields=["identity_secret"])
        audit_record(
            actor=actor,
            action="consent.property.identity_secret_rotate",
            object_type="consent.consentproperty",
            object_id=prop.pk,
            fields=["identity_secret"],
        )
    return prop.identity_secret


def consent_flag_expired() -> int:
    """Flag granted consents past their regime's maximum age: decisions already treat them as
    expired; the banner and the privacy center ask again. Returns how many were flagged."""
    return CurrentConsent.objects.filter(
        state=ConsentRecord.State.GRANTED, expires_at__lt=timezone.now(), needs_reprompt=False
    ).update(needs_reprompt=True)


def processing_activity_save(
    *,
    activity: ProcessingActivity,
    actor: Actor,
    systems: Iterable[Any] | None = None,
    changed: Iterable[str] | None = None,
) -> ProcessingActivity:
    """Validate and save one activity of the Art. 30 record (and its systems, if given).

    Guarantees: `full_clean()` ran (categories, regions and transfer safeguards are known
    values; an empty lawful basis takes the purpose's); the row, its systems and one audit
    event (`consent.processing_activity.create`/`.update`, field names only) are committed
    together or not at all. Raises django ValidationError on invalid input."""
    creating = activity._state.adding
    activity.full_clean()
    with transaction.atomic():
        activity.save()
        if systems is not None:
            activity.systems.set(systems)
        audit_record(
            actor=actor,
            action=f"consent.processing_activity.{'create' if creating else 'update'}",
            object_type="consent.processingactivity",
            object_id=activity.pk,
            fields=changed if changed is not None else [],
        )
    return activity

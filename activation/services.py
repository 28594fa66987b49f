"""Writes of the activation app: a source's signing secret (rotation with an overlap), the
durable inbox (accept in one short transaction, drain in claimed batches through profiles'
upsert, dead-letter, replay). Audited with ids and field names, never payload values."""

from __future__ import annotations

import datetime as dt
import functools
import io
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, TypeVar

from django.conf import settings
from django.db import (
    DEFAULT_DB_ALIAS,
    IntegrityError,
    OperationalError,
    connection,
    connections,
    models,
    transaction,
)
from django.db.models import F, Q
from django.utils import timezone
from rest_framework.exceptions import ParseError

from activation import formats, selectors
from activation.models import (
    AudienceChange,
    AudienceMember,
    Destination,
    InboxMessage,
    SourceEndpoint,
    source_secret,
)
from audit.actors import Actor
from audit.services import audit_record
from core import webhooks
from core.bulk import rows_set
from core.csvsafe import csv_writer
from core.db import conflicted
from core.db.pipeline import execute_together
from core.errors import DomainError, ForbiddenError
from core.parsers import json_loads_checked
from core.stamps import stamp_move
from core.wake import wake, wake_key, woken
from profiles.models import SubjectKey
from profiles.services import (
    ParsedRecord,
    parse_record,
    records_ingest,
    region_check,
    subject_upsert,
    subject_upsert_parsed,
)

logger = logging.getLogger(__name__)

DRAIN_TASK = "activation.inbox_drain"
PUSH_TASK = "activation.destinations_push"
WAKE_KEY = wake_key(DRAIN_TASK)
DEFAULT_OVERLAP = dt.timedelta(hours=24)
T = TypeVar("T")
MAX_ATTEMPTS = 5


class InvalidSignature(DomainError):
    code = "invalid_signature"
    status = 401


def signature_valid(endpoint: SourceEndpoint, body: bytes, header: str) -> bool:
    """A fresh signature under the current secret, or under the previous one while its
    overlap lasts (a rotation does not drop the source's in-flight calls)."""
    tolerance = endpoint.tolerance_seconds
    if webhooks.verify(endpoint.secret, body, header, tolerance=tolerance):
        return True
    overlap = endpoint.previous_valid_until
    return bool(
        endpoint.previous_secret
        and overlap is not None
        and overlap > timezone.now()
        and webhooks.verify(endpoint.previous_secret, body, header, tolerance=tolerance)
    )


def source_secret_rotate(
    *, endpoint: SourceEndpoint, actor: Actor, overlap: dt.timedelta = DEFAULT_OVERLAP
) -> str:
    """A new signing secret, returned once (the officer hands it to the source); the old one
    keeps working for `overlap`, then never again. Audited, without either secret."""
    secret = source_secret()
    until = timezone.now() + overlap
    with transaction.atomic():
        SourceEndpoint.objects.filter(pk=endpoint.pk).update(
            secret=secret, previous_secret=endpoint.secret, previous_valid_until=until
        )
        audit_record(
            actor=actor,
            action="activation.source.rotate_secret",
            object_type="activation.sourceendpoint",
            object_id=endpoint.pk,
            reason=f"system {endpoint.system_id}; previous secret valid {overlap}",
        )
        source_endpoint_changed(endpoint.pk)
    endpoint.previous_secret, endpoint.previous_valid_until = endpoint.secret, until
    endpoint.secret = secret
    return secret


def inbox_wake() -> None:
    """Ask the workers to drain the inbox: one wake-up message at most waits in the broker
    (`core.wake`), so N accepted payloads do not cost N broker sends; a lost wake-up delays
    the inbox by `core.wake.HOLD_SECONDS` at most (beat drains too)."""
    wake(DRAIN_TASK)


class InboxCall(NamedTuple):
    """A signed call read at intake: its JSON payload, its kind and its message id."""

    payload: Any
    kind: str
    message_id: str


def inbox_call(endpoint: SourceEndpoint, body: bytes) -> InboxCall:
    """The call in `body` (no side effect). Raises DomainError (400) for a body that is not
    JSON, or that the API's parser refuses (nested too deep, NUL or lone surrogates, NaN), or
    a call without a kind or message id."""
    try:
        payload = json_loads_checked(body)
    except ParseError as exc:
        raise DomainError("The body is not JSON.", code="invalid_payload") from exc
    kind, mid = formats.call_kind_and_id(endpoint, payload)
    return InboxCall(payload, kind, mid)


def inbox_accept(
    *,
    endpoint: SourceEndpoint,
    body: bytes,
    signature: str,
    throttle: Callable[[], None] | None = None,
    wake_waiting: bool = False,
) -> tuple[InboxMessage, bool]:
    """Verify and store one signed call (see `inbox_store`). Raises InvalidSignature (401) or
    DomainError (400). `throttle` runs once the signature is proven, so strangers cannot drain
    a source's rate."""
    if not endpoint.active or not signature_valid(endpoint, body, signature):
        raise InvalidSignature("Unknown source or bad signature.")
    if throttle is not None:
        throttle()
    return inbox_store(
        endpoint=endpoint, call=inbox_call(endpoint, body), wake_waiting=wake_waiting
    )


def inbox_store(
    *, endpoint: SourceEndpoint, call: InboxCall, wake_waiting: bool = False
) -> tuple[InboxMessage, bool]:
    """Store a verified call (encrypted, under a data key of its own) in one short
    transaction, then wake the workers (coalesced: see `inbox_wake`); a worker drains it.
    Returns (message, created): a repeated message id returns the first row, not a new one
    (replay protection and idempotency). `wake_waiting`: the caller read the wake-up flag set
    in a cache read it made anyway, so no wake-up is asked (a drain woken by it claims after
    it starts; a drain that started in between still leaves the row to the next call's
    wake-up or to beat's drain)."""
    message = InboxMessage(
        id=uuid.uuid4(),
        source=endpoint,
        message_id=call.message_id,
        kind=call.kind,
        region=endpoint.default_region,
    )
    key, data_key = SubjectKey.build_for(message.pk)  # a new row: no key to look up
    message.remember_data_key(data_key, key.key_id)
    message.payload = call.payload
    try:
        _insert_together(key, message)
    except IntegrityError:  # a message id already accepted (a replay, or concurrently)
        return InboxMessage.objects.get(source=endpoint, message_id=call.message_id), False
    if not wake_waiting:
        transaction.on_commit(inbox_wake)  # at once when no outer transaction holds the rows
    return message, True


@functools.cache
def _insert_fields(model: type[models.Model]) -> tuple[Any, ...]:
    """The columns an insert gives (not a database-generated key), listed once per model."""
    return tuple(f for f in model._meta.concrete_fields if not getattr(f, "db_returning", False))


@functools.cache
def _insert_sql(model: type[models.Model], vendor: str) -> str:
    """One prepared INSERT of the columns of `model` (built once per vendor)."""
    quote = connection.ops.quote_name
    fields = _insert_fields(model)
    columns = ", ".join(quote(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    return f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608 - model metadata, no outside value


@functools.cache
def _insert_together_sql(models_: tuple[type[models.Model], ...]) -> str:
    """One PostgreSQL statement inserting a row into each table: the first ones as
    data-modifying CTEs, the last as the main statement (atomic on its own)."""
    *first, last = (_insert_sql(model, "postgresql") for model in models_)
    ctes = ", ".join(f"i{n} AS ({sql})" for n, sql in enumerate(first))
    return f"WITH {ctes} {last}"


def _insert_together(*rows: models.Model) -> None:
    """Insert new rows, all or none, by prepared statements, without the ORM's save machinery
    (signals, a compiler per call): the 202 path's writes. Every field's value is prepared as
    save prepares it (defaults, auto_now_add, encrypted fields sealed under the row's key).
    Outside a transaction, on PostgreSQL: one statement, so one round trip and no BEGIN or
    COMMIT of its own, planned once per connection (`core.db.pipeline`); on SQLite: one
    transaction on the driver's connection (`BEGIN IMMEDIATE`, as Django's, without its
    atomic block and cursor wrappers around each step).
    Elsewhere, or inside a transaction: one savepoint or transaction through Django."""
    db = connections[DEFAULT_DB_ALIAS]  # the connection itself, not the proxy per attribute
    values = [
        [f.get_db_prep_save(f.pre_save(row, True), db) for f in _insert_fields(type(row))]
        for row in rows
    ]
    if db.in_atomic_block or db.vendor not in ("postgresql", "sqlite"):
        with transaction.atomic(using=db.alias), db.cursor() as cursor:
            for row, row_values in zip(rows, values, strict=True):
                cursor.execute(_insert_sql(type(row), db.vendor), row_values)
    elif db.vendor == "postgresql":  # planned once per connection
        sql = _insert_together_sql(tuple(type(row) for row in rows))
        execute_together([(sql, [v for row_values in values for v in row_values])])
    else:
        statements = zip([_insert_sql_qmark(type(row)) for row in rows], values, strict=True)
        _insert_sqlite(db, list(statements))
    for row in rows:
        row._state.adding = False
        row._state.db = db.alias


@functools.cache
def _insert_sql_qmark(model: type[models.Model]) -> str:
    """`_insert_sql` in the SQLite driver's own parameter style."""
    return _insert_sql(model, "sqlite").replace("%s", "?")


def _insert_sqlite(db: Any, statements: list[tuple[str, list[Any]]]) -> None:
    """Run `statements` in one write transaction on the SQLite driver's connection, which
    Django keeps in autocommit mode outside atomic blocks (so it is back there after), with
    Django's error classes (an IntegrityError is Django's)."""
    db.ensure_connection()
    raw = db.connection
    queue = getattr(db, "writer_lock_acquire", None)  # core.db.sqlite3: writers queue on it
    if queue is not None:
        queue()
    try:
        with db.wrap_database_errors:
            raw.execute(f"BEGIN {db.transaction_mode or ''}")
            try:
                for sql, params in statements:
                    raw.execute(sql, params)
                raw.execute("COMMIT")
            except BaseException:
                if raw.in_transaction:
                    raw.execute("ROLLBACK")
                raise
    finally:
        if queue is not None:
            db.writer_lock_release()


def source_endpoint_changing(endpoint_id: Any) -> None:
    """Before an endpoint is written: its version replaced, so that with the cache unreachable
    this raises and nothing is written (a save outside a transaction commits before its
    post_save, whose move would fail: every process would keep the old endpoint, a
    deactivated source still accepted, once the cache answers again)."""
    stamp_move(selectors.ENDPOINT_VERSION_KEY.format(uuid.UUID(str(endpoint_id))))


def source_endpoint_changed(endpoint_id: Any) -> None:
    """A source's endpoint changed (saved, rotated, deactivated, deleted): once committed,
    replace its version so every process reads the row again on its next call. Replaced now
    too: a process reading in between keeps what it read for one version only."""
    source_endpoint_changing(endpoint_id)
    transaction.on_commit(lambda: source_endpoint_changing(endpoint_id))


def source_actor(endpoint: SourceEndpoint) -> Actor:
    """The source acts within its own regions (none configured: none at all, fail closed)."""
    return Actor(
        kind="system",
        id=f"source:{endpoint.system_id}",
        label=f"source:{endpoint.system.name}"[:150],
        regions=frozenset(str(r).upper() for r in endpoint.regions),
    )


def _placed(message: InboxMessage, endpoint: SourceEndpoint) -> None:
    """The message's region becomes the one its call is processed in (its source's default
    region now, which staff of every region may have changed since it was accepted): the
    message is listed to that region's officers, not to those of a region its person is no
    longer in. A source left with no region keeps it where it was."""
    if endpoint.default_region:
        message.region = endpoint.default_region


def _dead(message: InboxMessage, reason: str) -> None:
    _dead_mark(message, reason)
    message.save(update_fields=["status", "last_error", "attempts", "region"])


def inbox_process(message_id: uuid.UUID | str) -> str:
    """Process one inbox message through profiles' upsert, once: under a row lock, in one
    transaction with the upsert, so a worker killed midway leaves it pending (its attempt not
    counted) and the next claim does it once. A domain error (malformed call, region outside
    the source's scope, a suppressed identity) dead-letters it at once; any other error is
    raised for the drain to retry later, and dead-letters it on the last attempt. Returns the
    resulting status."""
    with transaction.atomic():
        message = (
            InboxMessage.objects.select_for_update()
            .select_related("source", "source__system")
            .filter(pk=message_id)
            .first()
        )
        if message is None or message.status != InboxMessage.Status.PENDING:
            return message.status if message is not None else "missing"
        message.attempts += 1
        endpoint = message.source
        _placed(message, endpoint)
        try:
            with transaction.atomic():
                record = formats.to_record(endpoint, message.payload)
                result = subject_upsert(
                    record=record, actor=source_actor(endpoint), source=endpoint.system
                )
        except DomainError as exc:
            _dead(message, f"{exc.code}: {exc}")
            return message.status
        except Exception as exc:
            if message.attempts < MAX_ATTEMPTS or conflicted(exc):
                raise  # a lost lock race is no fault of the message: never its last attempt
            _dead(message, f"error: {type(exc).__name__}")
            return message.status
        _done_mark(message, result.subject_id, timezone.now())
        message.save(
            update_fields=[
                "status",
                "subject_id",
                "processed_at",
                "last_error",
                "attempts",
                "region",
            ]
        )
        return message.status


def inbox_claim(*, limit: int, lease: dt.timedelta) -> list[uuid.UUID]:
    """Claim up to `limit` pending messages, oldest first, for `lease`: free ones and those
    whose lease ran out (a killed worker's). Other workers skip rows being claimed (PostgreSQL
    SKIP LOCKED; SQLite's write transactions are serialized), so two drains share the work."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            _inbox_free()
            .select_for_update(skip_locked=True)
            .order_by("received_at")
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            InboxMessage.objects.filter(pk__in=ids).update(claimed_until=now + lease)
    return ids


def _retry_later(message_id: uuid.UUID, exc: Exception) -> None:
    """Count the failed attempt and keep the message claimed for a backoff, then free."""
    with transaction.atomic():
        message = InboxMessage.objects.select_for_update().filter(pk=message_id).first()
        if message is None or message.status != InboxMessage.Status.PENDING:
            return
        message.attempts += 1
        message.last_error = f"error: {type(exc).__name__}"[:200]
        message.claimed_until = timezone.now() + dt.timedelta(seconds=min(2**message.attempts, 60))
        message.save(update_fields=["attempts", "last_error", "claimed_until"])


def inbox_drain(*, batch: int | None = None, lease: dt.timedelta | None = None) -> int:
    """Process one claimed batch of pending messages (the task a wake-up or beat runs). A full
    batch wakes another drain first, so a backlog spreads over every worker; an empty inbox
    sends nothing. The batch is processed together (`inbox_process_batch`); if that fails
    for a reason other than a message's own (its call or its record refused), each message
    is processed on its own, so one message's failure is retried, counted and dead-lettered
    alone. Returns how many messages were processed (done or dead-lettered)."""
    woken(DRAIN_TASK)  # payloads accepted from now on wake a new drain
    size = batch or settings.CUSTODIA_INBOX_BATCH
    ids = inbox_claim(
        limit=size, lease=lease or dt.timedelta(seconds=settings.CUSTODIA_INBOX_LEASE_SECONDS)
    )
    if len(ids) == size:
        inbox_wake()
    try:
        processed = _again_on_conflict(lambda: inbox_process_batch(ids))
    except Exception as exc:
        logger.warning("inbox batch failed (%s); its messages one by one", type(exc).__name__)
        processed = 0
        for pk in ids:
            try:
                status = _again_on_conflict(functools.partial(inbox_process, pk))
                processed += status != InboxMessage.Status.PENDING
            except Exception as exc:
                logger.warning(
                    "inbox message %s failed (%s); retried later", pk, type(exc).__name__
                )
                _retry_later(pk, exc)
    if len(ids) < size and _inbox_free().exists():
        inbox_wake()  # accepted meanwhile by a call that saw this drain's flag still set
    return processed


def _again_on_conflict(run: Callable[[], T], *, tries: int = 3) -> T:
    """`run` (one transaction), run again when it lost a lock race with a concurrent drain (a
    deadlock between two batches naming the same people): the transaction rolled back whole,
    so nothing was processed or counted, and the race is no fault of the messages."""
    for attempt in range(1, tries + 1):
        try:
            return run()
        except OperationalError as exc:
            if attempt == tries or not conflicted(exc):
                raise
            logger.info("inbox: lock conflict with a concurrent drain; run again")
    raise AssertionError("unreachable")


class _Call(NamedTuple):
    message: InboxMessage
    parsed: ParsedRecord


def inbox_process_batch(ids: list[uuid.UUID]) -> int:
    """Process the claimed messages `ids` together, in one transaction, with the outcome of
    processing them one by one in the order they were received (`inbox_process`): a message
    whose call cannot be mapped, whose region is outside its source's scope or that carries
    an erased identity is dead-lettered; the others are upserted per source, set-based
    (`profiles.services.records_ingest`, the bulk import's path), after joining the calls of
    one batch that name the same person (sharing an identity) into one record in their order
    (their identities together, the last value of each attribute, every event): the same
    person then, with no transient subject for a visitor the batch itself identifies. A
    joined record refused as a whole is processed message by message. Raises on any other
    error (the transaction rolls back; the caller processes the messages one by one).
    Returns how many messages were processed."""
    if not ids:
        return 0
    now = timezone.now()
    with transaction.atomic():
        messages = list(
            InboxMessage.objects.select_for_update(of=("self",))
            .select_related("source", "source__system")
            .filter(pk__in=ids, status=InboxMessage.Status.PENDING)
            .order_by("received_at", "id")
        )
        InboxMessage.data_keys_load(messages)
        done: list[InboxMessage] = []
        actors: dict[Any, Actor] = {}  # per source: its system actor, with its regions
        by_source: dict[Any, list[_Call]] = {}
        moved: dict[str, list[uuid.UUID]] = {}  # region -> messages placed in it anew
        for message in messages:
            if message.source_id not in actors:
                actors[message.source_id] = source_actor(message.source)
            accepted_in = message.region
            _placed(message, message.source)
            if message.region != accepted_in:
                moved.setdefault(message.region, []).append(message.pk)
            try:
                record = formats.to_record(message.source, message.payload)
                parsed = parse_record(record)
                region_check(region=parsed.region, actor=actors[message.source_id])
            except DomainError as exc:
                _dead_mark(message, f"{exc.code}: {exc}")
                done.append(message)
                continue
            by_source.setdefault(message.source_id, []).append(_Call(message, parsed))
        for source_id, calls in by_source.items():
            done += _calls_ingest(calls[0].message.source, actors[source_id], calls, now)
        _settled_save(done, now)  # with one more attempt each
        for region, moved_ids in moved.items():
            InboxMessage.objects.filter(pk__in=moved_ids).update(region=region)
    return len(done)


def _settled_save(messages: list[InboxMessage], now: dt.datetime) -> None:
    """Save the settled messages' status, subject, error and one more attempt: a few
    statements for the whole batch (the dead ones grouped by reason)."""
    InboxMessage.objects.filter(pk__in=[m.pk for m in messages]).update(attempts=F("attempts") + 1)
    done = {m.pk: m.subject_id for m in messages if m.status == InboxMessage.Status.DONE}
    rows_set(
        InboxMessage,
        "subject_id",
        done,
        status=InboxMessage.Status.DONE,
        processed_at=now,
        last_error="",
    )
    dead: dict[str, list[uuid.UUID]] = {}
    for m in messages:
        if m.status == InboxMessage.Status.DEAD:
            dead.setdefault(m.last_error, []).append(m.pk)
    for reason, ids in dead.items():
        InboxMessage.objects.filter(pk__in=ids).update(
            status=InboxMessage.Status.DEAD, last_error=reason
        )


def _calls_ingest(
    endpoint: SourceEndpoint, actor: Actor, calls: list[_Call], now: dt.datetime
) -> list[InboxMessage]:
    """One source's calls upserted together as its `actor` (see `inbox_process_batch`); their
    messages, marked done or dead."""
    groups = _same_person(calls)
    joined = [_joined([calls[n].parsed for n in group]) for group in groups]
    outcomes = records_ingest(joined, actor=actor, source=endpoint.system)
    settled: list[InboxMessage] = []
    for group, outcome in zip(groups, outcomes, strict=True):
        if isinstance(outcome, DomainError) and len(group) > 1:
            for n in group:  # which of the calls is refused: each on its own, in order
                try:
                    with transaction.atomic():
                        result = subject_upsert_parsed(
                            calls[n].parsed, actor=actor, source=endpoint.system
                        )
                    _done_mark(calls[n].message, result.subject_id, now)
                except DomainError as exc:
                    _dead_mark(calls[n].message, f"{exc.code}: {exc}")
                settled.append(calls[n].message)
            continue
        for n in group:
            if isinstance(outcome, DomainError):
                _dead_mark(calls[n].message, f"{outcome.code}: {outcome}")
            else:
                _done_mark(calls[n].message, outcome, now)
            settled.append(calls[n].message)
    return settled


def _same_person(calls: list[_Call]) -> list[list[int]]:
    """The calls grouped by the person they name: two calls sharing an identity (kind and
    blind index, in one region) are one group, transitively; groups in the order of their
    first call, calls in their order."""
    parent = list(range(len(calls)))

    def root(n: int) -> int:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    first: dict[tuple[str, str, str], int] = {}
    for n, call in enumerate(calls):
        for kind, _normalized, index, _verified in call.parsed.identifiers:
            other = first.setdefault((call.parsed.region, kind, index), n)
            a, b = root(n), root(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for n in range(len(calls)):
        groups.setdefault(root(n), []).append(n)
    return list(groups.values())


def _joined(records: list[ParsedRecord]) -> ParsedRecord:
    """One record of a person's calls in their order: every identity (verified if any call
    says so), the last value of each attribute, every event."""
    if len(records) == 1:
        return records[0]
    identities: dict[tuple[str, str], tuple[str, str, str, bool]] = {}
    attributes: dict[str, tuple[str, str, str]] = {}
    events: list[tuple[str, Any, dt.datetime]] = []
    for record in records:
        for kind, normalized, index, verified in record.identifiers:
            earlier = identities.get((kind, index))
            verified = verified or (earlier is not None and earlier[3])
            identities[(kind, index)] = (kind, normalized, index, verified)
        for attribute in record.attributes:
            attributes.pop(attribute[0], None)  # the last value, in the order it came last
            attributes[attribute[0]] = attribute
        events += record.events
    return ParsedRecord(
        region=records[0].region,
        identifiers=list(identities.values()),
        attributes=list(attributes.values()),
        events=events,
    )


def _done_mark(message: InboxMessage, subject_id: uuid.UUID, now: dt.datetime) -> None:
    message.status = InboxMessage.Status.DONE
    message.subject_id = subject_id
    message.processed_at = now
    message.last_error = ""


def _dead_mark(message: InboxMessage, reason: str) -> None:
    message.status = InboxMessage.Status.DEAD
    message.last_error = reason[:200]


def _inbox_free() -> models.QuerySet[InboxMessage]:
    """Pending messages no worker holds (never claimed, or their lease ran out)."""
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=timezone.now())
    return InboxMessage.objects.filter(free, status=InboxMessage.Status.PENDING)


def inbox_replay(*, message: InboxMessage, actor: Actor) -> None:
    """Put a dead-lettered message back in the queue (after the officer fixed the cause).
    Audited with its id, never its contents. Only by an actor covering every region the
    source writes now: the message is processed with the source's current regions, which may
    not be those it came in with (ForbiddenError otherwise)."""
    if message.status != InboxMessage.Status.DEAD:
        raise DomainError("Only a dead-lettered message can be replayed.", code="not_dead")
    regions = message.source.regions if isinstance(message.source.regions, list) else []
    if not actor.covers(*(str(r).upper() for r in regions)):
        raise ForbiddenError(
            "This message's source now writes outside your regions.", code="source_outside_scope"
        )
    with transaction.atomic():
        InboxMessage.objects.filter(pk=message.pk).update(
            status=InboxMessage.Status.PENDING, attempts=0, last_error="", claimed_until=None
        )
        audit_record(
            actor=actor,
            action="activation.inbox.replay",
            object_type="activation.inboxmessage",
            object_id=message.pk,
            reason=f"source {message.source_id}",
        )
        transaction.on_commit(inbox_wake)
    message.status = InboxMessage.Status.PENDING


def audience_sync(*, who: Any, destination: Destination) -> list[AudienceChange]:
    """Bring the destination's members up to its audience now, within `who`'s regions: one
    `added` change per person newly allowed, one `removed` per person no longer allowed (a
    withdrawal, GPC, an erasure). Returns the new changes (their ids are the feed's cursor),
    one batch (`batch_end`: the id of its last change). Two syncs of one destination at once
    run one after the other (the destination's row locked, the audience read after it), so a
    person is added or removed once."""
    from access.scoping import allowed_regions

    regions = allowed_regions(who)
    with transaction.atomic():
        list(Destination.objects.select_for_update().filter(pk=destination.pk).values_list("pk"))
        allowed = selectors.audience_all(who=who, destination=destination)
        members = AudienceMember.objects.select_for_update().filter(destination=destination)
        if regions is not None:
            members = members.filter(region__in=sorted(regions))
        current = dict(members.values_list("subject_id", "region"))
        added = [(pk, region) for pk, region in allowed.items() if pk not in current]
        removed = [(pk, region) for pk, region in current.items() if pk not in allowed]
        AudienceMember.objects.bulk_create(
            [AudienceMember(destination=destination, subject_id=pk, region=r) for pk, r in added],
            ignore_conflicts=True,
        )
        AudienceMember.objects.filter(
            destination=destination, subject_id__in=[pk for pk, _ in removed]
        ).delete()
        changes = [
            AudienceChange(destination=destination, subject_id=pk, region=r, change=kind)
            for kind, rows in (("added", added), ("removed", removed))
            for pk, r in rows
        ]
        for change in changes:  # saved one by one: their ids are the cursor, on every database
            change.save()
        if changes:  # the destination is locked: the range holds this sync's changes only
            last = changes[-1].pk
            AudienceChange.objects.filter(
                destination=destination, pk__gte=changes[0].pk, pk__lte=last
            ).update(batch_end=last)
            for change in changes:
                change.batch_end = last
    return changes


def destinations_push() -> int:
    """Sync every destination with a push webhook and a usable token (not revoked or expired,
    its user active; within the token's regions) and queue its added/removed changes as one
    signed delivery through consent's outbox (subject ids and the cursor only: the destination
    fetches identifiers with `?since=`). Returns deliveries queued."""
    from access.scoping import Principal
    from access.selectors import api_token_usable
    from consent.webhooks import outbox_enqueue_payload

    woken(PUSH_TASK)  # consent changes from now on wake another push
    queued = 0
    rows = Destination.objects.filter(push_webhook__isnull=False, token__isnull=False)
    for destination in rows.select_related("push_webhook", "token", "token__user", "system"):
        assert destination.token is not None
        assert destination.push_webhook is not None
        if not api_token_usable(destination.token):
            continue  # revoked, expired or its user deactivated: no push acts with it
        who = Principal(user=destination.token.user, token=destination.token)
        changes = audience_sync(who=who, destination=destination)
        if not changes:
            continue
        outbox_enqueue_payload(
            webhook=destination.push_webhook,
            payload={
                "event": "audience.changed",
                "destination": destination.pk,
                "added": [str(c.subject_id) for c in changes if c.change == "added"],
                "removed": [str(c.subject_id) for c in changes if c.change == "removed"],
                "cursor": changes[-1].pk,
            },
        )
        queued += 1
    return queued


EXPORT_CHUNK = 2000  # subjects whose identifiers are read (and keys unwrapped) together


def identifier_csv_lines(ids: list[Any], *, clear: bool) -> Iterator[str]:
    """CSV text of `ids` (subject id, e-mail, phone: SHA-256 of the normalized value, or in
    clear), the header first, then one piece per EXPORT_CHUNK subjects whose identifiers are
    read together. Cells are spreadsheet-safe (`csv_writer`)."""
    keys = ("email", "phone") if clear else ("email_sha256", "phone_sha256")
    out = io.StringIO()
    writer = csv_writer(out)

    def flush() -> str:
        text = out.getvalue()
        out.seek(0)
        out.truncate()
        return text

    writer.writerow(["subject_id", *keys])
    yield flush()
    for start in range(0, len(ids), EXPORT_CHUNK):
        chunk = ids[start : start + EXPORT_CHUNK]
        identifiers = selectors.identifiers_of(chunk, clear=clear)
        for pk in chunk:
            row = identifiers[pk]
            writer.writerow([str(pk), *(";".join(row.get(k, [])) for k in keys)])
        yield flush()


def purpose_export_csv(
    *, who: Any, purpose: Any, clear: bool, actor: Actor
) -> tuple[Iterator[str], int]:
    """The people whose consent allows `purpose` now, within `who`'s regions, as CSV lines
    (subject id, e-mail and phone: SHA-256 of the normalized value, or in clear for a viewer
    allowed to see unmasked data). The audience is decided first and the export audited with
    its purpose, size and identifier form (never its contents) before the first line is
    produced; the lines then stream, identifiers read per chunk. Returns (lines, rows)."""
    if clear and not who.has_perm("access.view_unmasked"):
        raise ForbiddenError(
            "Exporting identifiers in clear needs the permission to view unmasked data."
        )
    ids = list(selectors.consented_all(who=who, purposes=[purpose]))
    audit_record(
        actor=actor,
        action="activation.purpose.export",
        object_type="consent.purpose",
        object_id=purpose.pk,
        reason=f"purpose {purpose.slug}; {len(ids)} rows; identifiers "
        + ("clear" if clear else "sha256"),
    )
    return identifier_csv_lines(ids, clear=clear), len(ids)


def audience_export_csv(
    *, who: Any, destination: Destination, actor: Actor
) -> tuple[Iterator[str], int]:
    """The destination's audience now, within `who`'s regions, as CSV lines (subject id and the
    identifiers as the destination takes them): only people whose consent allows every purpose.
    Audited with its size and purposes, never its contents, before the first line is produced;
    the lines then stream, identifiers read per chunk (as `purpose_export_csv`). Returns
    (lines, rows)."""
    if destination.clear_identifiers and not who.has_perm("access.view_unmasked"):
        raise ForbiddenError(
            "This destination takes identifiers in clear: exporting its audience needs the "
            "permission to view unmasked data."
        )
    ids = list(selectors.audience_all(who=who, destination=destination))
    purposes = ",".join(sorted(p.slug for p in destination.purposes.all()))
    audit_record(
        actor=actor,
        action="activation.audience.export",
        object_type="activation.destination",
        object_id=destination.pk,
        reason=f"purposes {purposes}; {len(ids)} rows",
    )
    return identifier_csv_lines(ids, clear=destination.clear_identifiers), len(ids)

"""Reads of the activation app."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from django.db.models import QuerySet

from access.scoping import allowed_regions
from activation.models import AudienceChange, Destination, InboxMessage, SourceEndpoint
from consent.selectors import may_process_loaded
from core.pagination import keyset_page
from core.stamps import stamp_read_with
from profiles.crypto.blind_index import normalize
from profiles.models import Identifier, Subject

ENDPOINT_VERSION_KEY = "activation:source:{}:version"
# In this process: source id -> (the version it was read under, the endpoint or None).
_endpoints: dict[str, tuple[str, SourceEndpoint | None]] = {}


def source_endpoint_active(
    source_id: uuid.UUID | str, also: tuple[str, ...] = ()
) -> tuple[SourceEndpoint | None, dict[str, Any]]:
    """The active endpoint of a source (None: unknown or inactive), and the cache values of the
    keys `also` read in the same cache round trip (e.g. its rate bucket). Kept in this process
    under the endpoint's version, a cache value that every save, rotation, deactivation and
    deletion replaces once committed (`services.source_endpoint_changed`): the version is read
    before the row, so a change is seen on the very next call whichever process serves it,
    and it is a `core.stamps` value, so a cache that went back to an older version (under
    which this process kept an older endpoint) moves it on instead of trusting it."""
    try:
        key = str(uuid.UUID(str(source_id)))
    except ValueError:
        return None, {}
    version, found = stamp_read_with(ENDPOINT_VERSION_KEY.format(key), also)
    kept = _endpoints.get(key)
    if kept is not None and version is not None and kept[0] == version:
        return kept[1], found
    endpoint = SourceEndpoint.objects.filter(pk=key, active=True).first()
    if version is not None:  # the cache did not answer: nothing kept
        _endpoints[key] = (version, endpoint)
    return endpoint, found


def inbox_dead_letters(who: object, source_id: uuid.UUID | None = None) -> QuerySet[InboxMessage]:
    """Dead-lettered messages the viewer may see (their region scope)."""
    rows = InboxMessage.objects.restrict(who, "view").filter(status=InboxMessage.Status.DEAD)
    return rows.filter(source_id=source_id) if source_id else rows


def destination_get(destination_id: int) -> Destination | None:
    return (
        Destination.objects.select_related("system", "token")
        .prefetch_related("purposes")
        .filter(pk=destination_id)
        .first()
    )


def _allowed(purposes: list[Any], rows: list[tuple[Any, str, str]]) -> list[Any]:
    """Of `rows` (pk, region, jurisdiction override; already within the viewer's regions), those
    whose current consent allows every one of `purposes` (consent's decisions: GPC, expiry and
    each regime's default apply), in order."""
    if not purposes or not rows:
        return []
    decisions = may_process_loaded(subjects=rows, purposes=purposes)
    return [
        row
        for row in rows
        if str(row[0]) in decisions and all(d.allowed for d in decisions[str(row[0])].values())
    ]


def _active_subjects(who: Any) -> QuerySet[Subject]:
    """The active subjects in `who`'s regions (the audience walks read these, in id order)."""
    regions = allowed_regions(who)
    rows = Subject.objects.filter(status=Subject.Status.ACTIVE)
    return rows if regions is None else rows.filter(region__in=sorted(regions))


def consented_rows(
    *, who: Any, purposes: list[Any], after: uuid.UUID | None, limit: int
) -> tuple[list[tuple[Any, str, str]], uuid.UUID | None]:
    """One keyset page of the people whose consent allows every one of `purposes`, as
    (pk, region, jurisdiction override) rows: the active subjects in `who`'s regions, read once
    in id order with what the decisions need."""
    return keyset_page(
        _active_subjects(who),
        after=after,
        limit=limit,
        keep=lambda page: _allowed(purposes, page),
        fields=("region", "jurisdiction"),
    )


def consented_all(*, who: Any, purposes: list[Any]) -> dict[Any, str]:
    """Every person whose consent allows every one of `purposes` now, within `who`'s regions:
    {id: region}, in id order."""
    out: dict[Any, str] = {}
    after = None
    while True:
        rows, after = consented_rows(who=who, purposes=purposes, after=after, limit=2000)
        out.update((row[0], row[1]) for row in rows)
        if after is None:
            return out


def audience_page(
    *, who: Any, destination: Destination, after: uuid.UUID | None, limit: int
) -> tuple[list[Any], uuid.UUID | None]:
    """One page of the audience, ordered by subject id (a keyset cursor): the ids allowed and
    the cursor of the next page (None at the end). Active subjects in `who`'s regions only."""
    purposes = list(destination.purposes.all())
    rows, following = consented_rows(who=who, purposes=purposes, after=after, limit=limit)
    return [row[0] for row in rows], following


def audience_all(*, who: Any, destination: Destination) -> dict[Any, str]:
    """Every person the destination may receive now, within `who`'s regions: {id: region}."""
    return consented_all(who=who, purposes=list(destination.purposes.all()))


def identifiers_for(
    destination: Destination, subject_ids: list[Any]
) -> dict[Any, dict[str, list[str]]]:
    """E-mail and phone of each subject as the destination takes them (`identifiers_of`)."""
    return identifiers_of(subject_ids, clear=destination.clear_identifiers)


def identifiers_of(subject_ids: list[Any], *, clear: bool) -> dict[Any, dict[str, list[str]]]:
    """E-mail and phone of each subject: SHA-256 hex of the normalized value (as ad platforms
    take them), or the normalized value itself when `clear`."""
    out: dict[Any, dict[str, list[str]]] = {pk: {} for pk in subject_ids}
    subjects = {s.pk: s for s in Subject.objects.filter(pk__in=subject_ids)}
    rows = Identifier.objects.filter(subject_id__in=subject_ids, kind__in=("email", "phone"))
    for row in rows.order_by("subject_id", "kind"):
        row.subject = subjects[row.subject_id]  # one key unwrap per subject
        value = normalize(row.kind, row.value)
        shown = value if clear else hashlib.sha256(value.encode()).hexdigest()
        key = row.kind if clear else f"{row.kind}_sha256"
        out[row.subject_id].setdefault(key, []).append(shown)
    return out


def audience_changes(
    *, who: Any, destination: Destination, since: int, limit: int
) -> list[AudienceChange]:
    """The changes after `since` within `who`'s regions, from one sync only (the first with a
    change after `since` they may see), oldest first, at most `limit`: the answer for a cursor
    never grows, so a retried `?since=` gets the same changes. Reads only."""
    regions = allowed_regions(who)
    rows = AudienceChange.objects.filter(destination=destination, pk__gt=since).order_by("pk")
    if regions is not None:
        rows = rows.filter(region__in=sorted(regions))
    first = list(rows.values_list("batch_end", flat=True)[:1])
    if not first:
        return []
    return list((rows if first[0] is None else rows.filter(pk__lte=first[0]))[:limit])


def audience_counts(*, who: Any, destinations: list[Destination]) -> dict[int, int]:
    """How many people each destination may receive now, within `who`'s regions, in one walk
    of the active subjects: each batch is decided once for the union of the destinations'
    purposes (consent's bulk decisions), then counted per destination. The same decisions as
    the feed; cost linear in the subjects, not in subjects x destinations."""
    wanted = {d.pk: {p.slug for p in d.purposes.all()} for d in destinations}
    purposes = list({p.pk: p for d in destinations for p in d.purposes.all()}.values())
    counts = dict.fromkeys(wanted, 0)
    if not purposes:
        return counts

    def count(rows: list[tuple[Any, str, str]]) -> list[Any]:
        decisions = may_process_loaded(subjects=rows, purposes=purposes)
        for decided in decisions.values():
            allowed = {slug for slug, decision in decided.items() if decision.allowed}
            for destination_id, needed in wanted.items():
                if needed and needed <= allowed:
                    counts[destination_id] += 1
        return []  # nothing kept: the walk only counts

    keyset_page(
        _active_subjects(who),
        after=None,
        limit=1,
        keep=count,
        batch=2000,
        fields=("region", "jurisdiction"),
    )
    return counts


def destinations_for_data_map(who: Any) -> dict[int, dict[str, Any]]:
    """For the data map, by system id: each destination's purposes and how many people it may
    receive now within `who`'s regions (`audience_counts`, one walk for all destinations).
    Counts only, never who."""
    rows = list(Destination.objects.select_related("system").prefetch_related("purposes"))
    counts = audience_counts(who=who, destinations=rows)
    return {
        destination.system_id: {
            "destination": {
                "purposes": sorted(p.slug for p in destination.purposes.all()),
                "audience": counts[destination.pk],
            }
        }
        for destination in rows
    }

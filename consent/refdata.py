"""Consent reference data (purposes, jurisdictions, properties with their purposes, active
webhooks) kept in process memory, checked against a version in the shared cache on each use.

Any save or delete of these models (or a change of a property's purposes) moves the version
before the write (refused while the cache is unreachable), at once and again when the change
commits, so every web process and worker reloads on its next
request, and a load that raced an uncommitted change is dropped by the commit-time move. Only
reference data lives here: consent states are always read fresh from the projection."""

from __future__ import annotations

import contextvars
import threading
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from core.stamps import connect as stamps_connect
from core.stamps import stamp_move, stamp_read, stamp_register

VERSION_KEY = "consent:refdata:version"


@dataclass(frozen=True)
class RefData:
    version: str
    purposes: dict[str, Any]  # slug -> Purpose
    jurisdictions: dict[str, Any]  # code -> Jurisdiction, in the model's order
    properties: dict[str, Any]  # publishable key -> ConsentProperty (active or not)
    property_purposes: dict[int, list[Any]]  # property id -> its Purposes, by slug
    webhooks: list[Any] = field(default_factory=list)  # active ConsentWebhooks
    # property id -> Google Consent Mode type -> purpose slugs (ConsentModeMapping)
    consent_mode: dict[int, dict[str, list[str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        by_region: dict[str, Any] = {}
        for jurisdiction in self.jurisdictions.values():  # the first regime naming a region
            for region in jurisdiction.regions:
                by_region.setdefault(region, jurisdiction)
        object.__setattr__(self, "_by_region", by_region)

    def jurisdiction_of_region(self, region: str) -> Any | None:
        return self._by_region.get(region)  # type: ignore[attr-defined]


_lock = threading.Lock()
_current: RefData | None = None


def refdata_version() -> str:
    """Read once per request, with the other stamps (`core.stamps`)."""
    return stamp_read(VERSION_KEY)


# Inside an HTTP request: the reference data its first use checked, so a request reads the
# version once however many times it asks (set and cleared by the request signals).
_in_request: contextvars.ContextVar[list[RefData | None] | None] = contextvars.ContextVar(
    "consent_refdata_in_request", default=None
)


def _request_started(**_: Any) -> None:
    _in_request.set([None])


def _request_finished(**_: Any) -> None:
    _in_request.set(None)


def _move_version() -> None:
    stamp_move(VERSION_KEY)
    scope = _in_request.get()
    if scope is not None:
        scope[0] = None  # the rest of this request reads the new version


def _move_before_write(**_: Any) -> None:
    """Before a row of the reference data is written: with the cache unreachable this raises
    and nothing is written (a save outside a transaction commits before its post_save, whose
    move would fail: every process would keep the old data once the cache answers again)."""
    _move_version()


def refdata_bump(**_: Any) -> None:
    """Make every process reload the reference data, now and when the transaction commits."""
    _move_version()
    transaction.on_commit(_move_version)


def refdata() -> RefData:
    """The reference data of the current version (one cache read per request or call outside
    one; queries only after a change)."""
    global _current
    scope = _in_request.get()
    if scope is not None and scope[0] is not None:
        return scope[0]
    version = refdata_version()
    current = _current
    if current is None or current.version != version:
        current = _load(version)
        with _lock:
            _current = current
    if scope is not None:
        scope[0] = current
    return current


def _load(version: str) -> RefData:
    from consent.models import (
        ConsentModeMapping,
        ConsentProperty,
        ConsentWebhook,
        Jurisdiction,
        Purpose,
    )

    purposes = {p.slug: p for p in Purpose.objects.order_by("slug")}
    by_id = {p.pk: p for p in purposes.values()}
    properties = {p.publishable_key: p for p in ConsentProperty.objects.all()}
    property_purposes: dict[int, list[Any]] = {p.pk: [] for p in properties.values()}
    through = ConsentProperty.purposes.through.objects.values_list(
        "consentproperty_id", "purpose_id"
    )
    for property_id, purpose_id in through.order_by("purpose__slug"):
        property_purposes[property_id].append(by_id[purpose_id])
    consent_mode: dict[int, dict[str, list[str]]] = {}
    mapped = ConsentModeMapping.purposes.through.objects.values_list(
        "consentmodemapping__property_id", "consentmodemapping__consent_type", "purpose__slug"
    )
    for property_id, consent_type, slug in mapped.order_by("purpose__slug"):
        consent_mode.setdefault(property_id, {}).setdefault(consent_type, []).append(slug)
    return RefData(
        version=version,
        purposes=purposes,
        jurisdictions={j.code: j for j in Jurisdiction.objects.all()},
        properties=properties,
        property_purposes=property_purposes,
        webhooks=list(
            ConsentWebhook.objects.filter(active=True, consent_changes=True).order_by("pk")
        ),
        consent_mode=consent_mode,
    )


def connect_invalidation() -> None:
    from django.core.signals import request_finished, request_started
    from django.db.models.signals import (
        m2m_changed,
        post_delete,
        post_save,
        pre_delete,
        pre_save,
    )

    from consent.models import (
        ConsentModeMapping,
        ConsentProperty,
        ConsentWebhook,
        Jurisdiction,
        Purpose,
    )

    for model in (Purpose, Jurisdiction, ConsentProperty, ConsentWebhook, ConsentModeMapping):
        pre_save.connect(_move_before_write, sender=model, weak=False)
        pre_delete.connect(_move_before_write, sender=model, weak=False)
        post_save.connect(refdata_bump, sender=model, weak=False)
        post_delete.connect(refdata_bump, sender=model, weak=False)
    m2m_changed.connect(refdata_bump, sender=ConsentProperty.purposes.through, weak=False)
    m2m_changed.connect(refdata_bump, sender=ConsentModeMapping.purposes.through, weak=False)
    request_started.connect(_request_started, weak=False)
    request_finished.connect(_request_finished, weak=False)
    stamp_register(VERSION_KEY)
    stamps_connect()

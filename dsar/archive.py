"""The access/portability archive: everything held about a subject as JSON (machine-readable,
Art. 20) and CSV (readable in a spreadsheet), zipped, encrypted at rest under the archive's own
data key, handed out once through an expiring signed link, then destroyed."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import itertools
import json
import os
import tempfile
import uuid
import zipfile
from collections.abc import Iterator
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from access import roles
from access.models import ApiToken, RegionScope
from audit.selectors import subject_access_history
from consent import selectors as consent_selectors
from consent.art30 import processing_activities_for_subject
from consent.models import ProcessingActivity
from consent.regimes import supervisory_authorities
from core.csvsafe import csv_writer
from core.errors import DomainError
from dsar.models import DataSubjectRequest, ExportArchive, ExportArchiveChunk, RequestStep
from dsar.stores_step import stores_archive_files, stores_archive_section
from profiles.crypto import aead
from profiles.crypto.keyring import NONCE_BYTES, DecryptionError
from profiles.models import Subject
from profiles.selectors import EventStream, RawJSON, subject_export
from profiles.services.keys import keys_shred

Kind = DataSubjectRequest.Kind

_SALT = "custodia.dsar.archive"
FORMAT_VERSION = 2
# README translations shipped (dsar/templates/dsar/archive/README.<language>.txt).
LANGUAGES = ("en", "fr", "pt")
# The language of the region when neither the request nor the profile names one.
REGION_LANGUAGE = {"BR": "pt"}
# Purposes that evaluate a person's preferences or behaviour to tailor what they see (profiling,
# Art. 4(4)); sale/sharing purposes (targeted advertising) always do.
PROFILING_PURPOSES = {"personalization"}


class ArchiveGone(DomainError):
    code = "archive_gone"
    status = 410


def collect(request: DataSubjectRequest) -> dict[str, Any]:
    """Everything we hold on the request's subject (system read, decrypted) and everything
    Art. 15(1)-(2) and the CCPA right to know add to it: who the controller and its DPO are,
    each purpose saying whether it applies to this person and on which basis, the source of
    every value, recipients, transfers and their safeguards, retention, the person's rights and
    how to use them, the supervisory authority of their jurisdiction, automated decisions, and
    who accessed the data, in plain words (no staff account names, no token prefixes)."""
    data: dict[str, Any] = {
        "format": "custodia-subject-export",
        "version": FORMAT_VERSION,
        "request": {
            "reference": request.reference,
            "kind": request.kind,
            "received_at": request.received_at.isoformat(),
            "jurisdiction": request.jurisdiction,
        },
        "generated_at": timezone.now().isoformat(),
        "controller": {
            "name": settings.CUSTODIA_CONTROLLER_NAME,
            "address": settings.CUSTODIA_CONTROLLER_ADDRESS,
            "contact": settings.CUSTODIA_CONTROLLER_CONTACT,
        },
        "dpo": {"name": settings.CUSTODIA_DPO_NAME, "contact": settings.CUSTODIA_DPO_CONTACT},
        "processing": processing_activities_for_subject(region=request.region),
        "rights": rights_for(request.jurisdiction),
        "supervisory_authorities": supervisory_authorities(request.jurisdiction),
    }
    data["stores"] = stores_archive_section(request)  # rows from connected SQL stores
    if request.subject_id is None:
        data["found"] = False
        data.update(_processing_summary(data["processing"]))
        data["automated_decisions"] = _automated_decisions([])
        data["language"] = _language(request, attributes=[])
        return data
    data["found"] = True
    data.update(subject_export(subject_id=request.subject_id, stream_events=True))
    subject = Subject.objects.get(pk=request.subject_id)
    purposes = consent_selectors.subject_purposes_export(subject=subject)
    data["purposes"] = purposes
    data.update(_processing_summary([a for p in purposes if p["applies"] for a in p["activities"]]))
    data["automated_decisions"] = _automated_decisions(purposes)
    data["consent_history"] = consent_selectors.consent_history_export(
        subject_id=request.subject_id
    )
    history = subject_access_history(subject_id=request.subject_id)
    actors = actor_descriptions(history)
    _fill_sources(data, history, actors)
    data["access_history"] = [
        {
            "time": row["time"],
            "who": actors[(row["actor_type"], row["actor_id"])],
            "what": action_description(row["action"]),
            "data": row["fields"],
            "why": row["reason"],
            "action": row["action"],
        }
        for row in history
    ]
    data["language"] = _language(request, attributes=data["attributes"])
    return data


def _processing_summary(activities: list[dict[str, Any]]) -> dict[str, Any]:
    """Recipients, transfers abroad and retention of the processing that applies (Art.
    15(1)(c)-(d), 15(2)), each once."""
    transfers: dict[tuple[str, str], dict[str, Any]] = {}
    for activity in activities:
        for transfer in activity["transfers"]:
            key = (transfer["country"], transfer["safeguard"])
            entry = transfers.setdefault(
                key,
                {
                    "country": transfer["country"],
                    "safeguard": transfer["safeguard"],
                    "safeguard_text": transfer.get("safeguard_text")
                    or dict(ProcessingActivity.TransferSafeguard.choices).get(
                        transfer["safeguard"], ""
                    ),
                    "activities": [],
                },
            )
            entry["activities"].append(activity["activity"])
    return {
        "recipients": sorted({r for a in activities for r in a["recipients"]}),
        "transfers": list(transfers.values()),
        "retention": [
            {"activity": a["activity"], "retention": a["retention"]}
            for a in activities
            if a["retention"]
        ],
    }


# --- the person's rights and whom to complain to ---------------------------------------------

# right, request kind that exercises it ("" = the privacy center's choices), legal references.
_RIGHTS = [
    (
        "access",
        Kind.ACCESS,
        {
            "GDPR": "Art. 15",
            "UK-GDPR": "Art. 15",
            "LGPD": "Art. 18(II)",
            "CCPA": "§1798.110",
            "PIPEDA": "Principle 4.9",
        },
    ),
    (
        "rectification",
        Kind.RECTIFICATION,
        {
            "GDPR": "Art. 16",
            "UK-GDPR": "Art. 16",
            "LGPD": "Art. 18(III)",
            "CCPA": "§1798.106",
            "PIPEDA": "Principle 4.9.5",
        },
    ),
    (
        "erasure",
        Kind.ERASURE,
        {"GDPR": "Art. 17", "UK-GDPR": "Art. 17", "LGPD": "Art. 18(VI)", "CCPA": "§1798.105"},
    ),
    (
        "restriction",
        Kind.RESTRICTION,
        {"GDPR": "Art. 18", "UK-GDPR": "Art. 18", "LGPD": "Art. 18(IV)"},
    ),
    ("objection", Kind.OBJECTION, {"GDPR": "Art. 21", "UK-GDPR": "Art. 21", "LGPD": "Art. 18 §2"}),
    (
        "portability",
        Kind.PORTABILITY,
        {"GDPR": "Art. 20", "UK-GDPR": "Art. 20", "LGPD": "Art. 18(V)"},
    ),
    (
        "withdraw_consent",
        "",
        {
            "GDPR": "Art. 7(3)",
            "UK-GDPR": "Art. 7(3)",
            "LGPD": "Art. 18(IX)",
            "PIPEDA": "Principle 4.3.8",
        },
    ),
    (
        "opt_out_of_sale",
        Kind.OPT_OUT,
        {
            "CCPA": "§1798.120",
            "VCDPA": "§59.1-577(A)(5)",
            "CPA": "C.R.S. 6-1-1306(1)(a)",
            "CTDPA": "§42-518(a)(5)",
        },
    ),
    (
        "complain",
        "",
        {"GDPR": "Art. 77", "UK-GDPR": "Art. 77", "LGPD": "Art. 18 §1", "PIPEDA": "s. 11"},
    ),
]
_US_STATES = {"CCPA", "VCDPA", "CPA", "CTDPA"}


def rights_for(jurisdiction: str) -> list[dict[str, str]]:
    """The person's rights and how to use each one: the privacy center (with the request type
    to choose) or the controller's contact address. Opt-out of sale/sharing is listed for the
    US state laws that give it; every other right for everyone (the hub honours them all)."""
    where = settings.CUSTODIA_PRIVACY_CENTER_URL
    contact = settings.CUSTODIA_CONTROLLER_CONTACT or settings.CUSTODIA_DPO_CONTACT
    rights = []
    for right, kind, references in _RIGHTS:
        if right == "opt_out_of_sale" and jurisdiction not in _US_STATES:
            continue
        if right == "complain":
            how = "Contact the supervisory authority named in this archive."
        elif kind:
            how = f"Make a request at {where} (choose '{right.replace('_', ' ')}')"
            how += f" or write to {contact}." if contact else "."
        else:
            how = f"Change your choices at any time at {where}; it is as easy as giving consent."
        rights.append(
            {
                "right": right,
                "request_kind": kind,
                "reference": references.get(jurisdiction, ""),
                "how": how,
                "url": where,
            }
        )
    return rights


def _automated_decisions(purposes: list[dict[str, Any]]) -> dict[str, Any]:
    """Art. 15(1)(h): the configured statement, or the hub's truthful default."""
    profiling = [
        p["name"]
        for p in purposes
        if p["applies"] and (p["sale_sharing"] or p["purpose"] in PROFILING_PURPOSES)
    ]
    statement = settings.CUSTODIA_AUTOMATED_DECISIONS or (
        "We take no decision based solely on automated processing that has legal or similarly "
        "significant effects on you. Our systems link records that belong to the same person "
        "(matching on identifiers); that is not a decision about you."
        + (
            " We use your data to tailor offers and advertising to you (profiling for "
            "marketing) for: " + ", ".join(profiling) + ". You may object to it at any time."
            if profiling
            else ""
        )
    )
    return {
        "profiling_for": profiling,
        "statement": statement,
        "configured": bool(settings.CUSTODIA_AUTOMATED_DECISIONS),
    }


# --- who did it, in plain words ----------------------------------------------------------------

_ROLE_WORDS = {
    roles.DPO: "the privacy office (data protection officer)",
    roles.PRIVACY_OFFICER: "a privacy officer",
    roles.SUPPORT_AGENT: "a support agent",
    roles.MARKETING_ANALYST: "a marketing analyst",
    roles.AUDITOR: "an auditor",
    roles.SERVICE_ACCOUNT: "an automated integration",
}
_SYSTEM_WORDS = {
    "dsar.pipeline": "the privacy office's request handling (automatic)",
    "dsar.expire": "the privacy office's request handling (automatic)",
    "consent.retention_enforce": "the automatic clean-up of data past its retention period",
    "seed_demo": "the demo data loader",
}


def _team(all_regions: bool, regions: list[str]) -> str:
    if all_regions or not regions:
        return ""
    return f" of the {' and '.join(sorted(regions))} team"


def actor_descriptions(history: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(actor type, actor id) -> who it was in words a person understands, from the actor's
    role and region scope or the integration's name, as they are at export time. Never a staff
    username, token prefix or address."""
    user_ids = {r["actor_id"] for r in history if r["actor_type"] == "user"}
    token_ids = {r["actor_id"] for r in history if r["actor_type"] == "token"}
    users = {
        str(u.pk): u
        for u in get_user_model()
        .objects.filter(pk__in=[i for i in user_ids if i.isdigit()])
        .prefetch_related("groups")
    }
    scopes = {str(s.user_id): s for s in RegionScope.objects.filter(user_id__in=list(users))}
    tokens = {
        str(t.pk): t for t in ApiToken.objects.filter(pk__in=[i for i in token_ids if i.isdigit()])
    }
    described: dict[tuple[str, str], str] = {}
    for row in history:
        kind, actor_id = row["actor_type"], row["actor_id"]
        if (kind, actor_id) in described:
            continue
        if kind == "user":
            user = users.get(actor_id)
            groups = {g.name for g in user.groups.all()} if user else set()
            role = next((r for r in roles.ALL_ROLES if r in groups), None)
            who = _ROLE_WORDS.get(role, "a member of our staff")
            scope = scopes.get(actor_id)
            if scope is not None and role != roles.DPO:
                who += _team(scope.all_regions, list(scope.regions))
        elif kind == "token":
            token = tokens.get(actor_id)
            name = token.name.strip() if token else ""
            if not name:
                who = "an automated integration"
            elif name.lower().endswith("integration"):
                who = f"the {name}"
            else:
                who = f"the {name} integration"
        elif kind == "system":
            who = _SYSTEM_WORDS.get(actor_id) or (
                "a data import" if actor_id.startswith("import:") else "an automated process"
            )
        elif kind == "public" and actor_id.startswith("property:"):
            who = "you, on our website (consent banner or privacy center)"
        elif kind == "public" and actor_id == "requester":
            who = "you (the download of your data)"
        else:
            who = "someone without an account, on our website"
        described[(kind, actor_id)] = who
    return described


_ACTION_WORDS = {
    "profiles.subject.create": "created your profile",
    "profiles.subject.update": "updated your profile",
    "profiles.subject.read": "looked at your profile",
    "profiles.subject.timeline": "looked at the history of your profile",
    "profiles.event.list": "looked at your activity",
    "consent.consentrecord.read": "looked at a record of your consent choices",
    "consent.currentconsent.read": "looked at your current consent choices",
    "profiles.subject.rectify": "corrected your data",
    "profiles.subject.erase": "erased your data",
    "profiles.subject.merge": "joined two records of you into one",
    "profiles.match.accept": "confirmed that two records are both you",
    "access.subject.unmask": "looked at your full contact details, for a stated reason",
    "access.subject.share": "gave a colleague access to your record",
    "consent.retention.apply": "deleted data past its retention period",
    "dsar.export.collect": "collected your data for your access request",
    "dsar.legal_hold.place": "placed a legal hold on your data",
    "dsar.legal_hold.release": "released a legal hold on your data",
}


def action_description(action: str) -> str:
    """An audit action in words ("consent.record.granted" -> "recorded your consent choice:
    granted")."""
    if action in _ACTION_WORDS:
        return _ACTION_WORDS[action]
    if action.startswith("consent.record."):
        return f"recorded your consent choice: {action.rsplit('.', 1)[1]}"
    if action.startswith("dsar.request."):
        return f"handled your privacy request ({action.rsplit('.', 1)[1].replace('_', ' ')})"
    if action.endswith(".list"):
        return "looked at a list of records that includes yours"
    return action.replace("_", " ").replace(".", " ")


def _fill_sources(
    data: dict[str, Any], history: list[dict[str, Any]], actors: dict[tuple[str, str], str]
) -> None:
    """Every identifier, attribute and event names where it came from: its source system, or,
    when it was sent without one, who sent it according to the audit log (the newest write of
    that field). `sources` lists them all once."""
    writers: dict[str, str] = {}
    for row in history:
        if row["action"].startswith(("profiles.subject.", "profiles.match.")):
            for field in row["fields"]:
                writers[field] = actors[(row["actor_type"], row["actor_id"])]
    unknown = "recorded by us (origin not recorded)"
    for identifier in data["identifiers"]:
        identifier["source"] = identifier["source"] or writers.get(
            f"identifier.{identifier['kind']}", unknown
        )
    for attribute in data["attributes"]:
        attribute["source"] = attribute["source"] or writers.get(
            f"attribute.{attribute['key']}", unknown
        )
    events = data["events"]
    if isinstance(events, EventStream):  # filled in as the events are read
        events.default_source = writers.get("events", unknown)
        event_sources = {name or events.default_source for name in events.source_names()}
    else:
        for event in events:
            event["source"] = event["source"] or writers.get("events", unknown)
        event_sources = {event["source"] for event in events}
    data["sources"] = sorted(
        {row["source"] for key in ("identifiers", "attributes") for row in data[key]}
        | event_sources
    )


def _language(request: DataSubjectRequest, *, attributes: list[dict[str, Any]]) -> str:
    """The README's language: the request's, else the profile's language or locale attribute,
    else the region's, else English; only languages with a shipped translation."""
    candidates = [str((request.details or {}).get("language", ""))]
    candidates += [str(a["value"]) for a in attributes if a["key"] in ("language", "locale")]
    candidates.append(REGION_LANGUAGE.get(request.region, ""))
    for candidate in candidates:
        code = candidate.strip().lower().replace("_", "-").split("-")[0]
        if code in LANGUAGES:
            return code
    return "en"


def _csv(rows: list[dict[str, Any]]) -> str:
    """`rows` as CSV text: a column per key of any row (a missing one is an empty cell), the
    header and the cells spreadsheet-safe (`csv_writer`)."""
    out = io.StringIO()
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    writer = csv_writer(out)
    writer.writerow(columns or ["none"])
    writer.writerows([_csv_cell(row.get(key, "")) for key in columns] for row in rows)
    return out.getvalue()


_NESTED = (dict, list)


def _csv_cell(value: Any) -> Any:
    return json.dumps(value, default=str) if isinstance(value, _NESTED) else value


# Deflate's fastest level: an export of 10,000 events spent about a sixth of its time in
# level 6 (the default) for an archive a quarter smaller; the archive is read once, downloaded.
ZIP_LEVEL = 1


def package(data: dict[str, Any]) -> bytes:
    """The ZIP: a README for the person in their language, data.json (everything, machine-
    readable, Art. 20) and one CSV per kind of record for a spreadsheet."""
    buffer = io.BytesIO()
    package_to(data, buffer)
    return buffer.getvalue()


def package_to(data: dict[str, Any], out: Any) -> int:
    """Write the ZIP of `package` to the binary file `out`, the events streamed: read once,
    in chunks, into data.json and (through a spooled temporary file) events.csv, so memory
    does not grow with their number. Returns how many events were written."""
    language = data.get("language", "en")
    events = data.get("events", [])
    with (
        zipfile.ZipFile(
            out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL
        ) as archive,
        tempfile.SpooledTemporaryFile(max_size=1 << 20, mode="w+", newline="") as spool,
    ):
        archive.writestr(
            "README.txt",
            render_to_string(f"dsar/archive/README.{language}.txt", {"data": data}),
        )
        count = _write_data_json(archive, data, events, spool)
        profile = [
            {"type": "identifier", "name": i["kind"], **i} for i in data.get("identifiers", [])
        ] + [{"type": "attribute", "name": a["key"], **a} for a in data.get("attributes", [])]
        archive.writestr("profile.csv", _csv(profile))
        spool.seek(0)
        with archive.open("events.csv", "w") as member:
            while chunk := spool.read(1 << 16):
                member.write(chunk.encode())
        archive.writestr("consent.csv", _csv(data.get("consent_history", [])))
        archive.writestr("purposes.csv", _csv(_purpose_rows(data.get("purposes", []))))
        archive.writestr("processing.csv", _csv(data.get("processing", [])))
        archive.writestr("access_history.csv", _csv(data.get("access_history", [])))
        for path, rows in stores_archive_files(data):
            archive.writestr(path, _csv(rows))
    return count


def _write_data_json(
    archive: zipfile.ZipFile, data: dict[str, Any], events: Any, spool: Any
) -> int:
    """data.json with the events array written a chunk of events at a time (the rest as
    before), and the events' CSV rows written to `spool` on the way."""
    rest = {k: v for k, v in data.items() if k != "events"}
    head = json.dumps(rest, indent=2, default=str, ensure_ascii=False)
    with archive.open("data.json", "w") as member:
        if "events" not in data:
            member.write(head.encode())
            return 0
        member.write(head[:-2].encode() + b',\n  "events": [')
        count, columns = 0, None
        writer = csv_writer(spool)
        rows = iter(events)
        while chunk := list(itertools.islice(rows, 1000)):
            if columns is None:
                columns = list(chunk[0])
                writer.writerow(columns)
            text = ",\n    ".join(_event_json(event) for event in chunk)
            member.write((",\n    " if count else "\n    ").encode() + text.encode())
            writer.writerows(
                [
                    json.dumps(v, default=str) if isinstance(v, _NESTED) else v
                    for v in event.values()
                ]
                for event in chunk
            )
            count += len(chunk)
        member.write(b"\n  ]\n}" if count else b"]\n}")
    if columns is None:
        writer.writerow(["none"])
    return count


_JSON = json.JSONEncoder(default=str, ensure_ascii=False)


_EVENT_KEYS = ("name", "occurred_at", "category", "source", "payload")
_text = json.encoder.encode_basestring  # a JSON string literal (C), as _JSON writes it


def _event_json(event: dict[str, Any]) -> str:
    """One event as JSON; a payload that is JSON text already (`RawJSON`) is written as it is.
    The common event (`EventStream`'s keys, text values, a raw payload) is written from a
    template, as `_JSON` would write it (the export's hot loop)."""
    payload = event.get("payload")
    if not isinstance(payload, RawJSON):
        return _JSON.encode(event)
    if tuple(event) == _EVENT_KEYS:
        name, at, category, source = (
            event["name"],
            event["occurred_at"],
            event["category"],
            event["source"],
        )
        if type(name) is str and type(at) is str and type(category) is str and type(source) is str:
            return (
                f'{{"name": {_text(name)}, "occurred_at": {_text(at)}, '
                f'"category": {_text(category)}, "source": {_text(source)}, "payload": {payload}}}'
            )
    rest = _JSON.encode({k: v for k, v in event.items() if k != "payload"})
    return f'{rest[:-1]}, "payload": {payload}}}' if len(rest) > 2 else f'{{"payload": {payload}}}'


def _purpose_rows(purposes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "purpose": p["name"],
            "applies_to_you": "yes" if p["applies"] else "no",
            "basis": p["basis"],
            "your_choice": p["consent"]["state"] if p["consent"] else "",
            "your_choice_at": p["consent"]["recorded_at"] if p["consent"] else "",
            "recipients": sorted({r for a in p["activities"] for r in a["recipients"]}),
            "transfers": [
                f"{t['country']} ({t['safeguard']})"
                for a in p["activities"]
                for t in a["transfers"]
            ],
            "retention": [a["retention"] for a in p["activities"] if a["retention"]],
        }
        for p in purposes
    ]


def _aad(archive: ExportArchive, key_id: object) -> bytes:
    return aead.associated_data(
        model="dsar.exportarchive", field="ciphertext", row_id=archive.pk, key_id=key_id
    )


def _chunk_aad(archive: ExportArchive, key_id: object, index: int, *, last: bool) -> bytes:
    """A chunk's associated data: its archive, key, place and whether it ends the archive, so
    a chunk moved to another place or archive, or an archive cut short, fails to decrypt."""
    place = f"chunk.{index}.{'last' if last else 'more'}"
    return aead.associated_data(
        model="dsar.exportarchive", field=place, row_id=archive.pk, key_id=key_id
    )


# Plaintext bytes per encrypted chunk: what the builder and the download hold in memory.
CHUNK_BYTES = 1 << 18


class _ChunkWriter(io.RawIOBase):
    """A write-only, unseekable file (zipfile then writes data descriptors) that encrypts
    every CHUNK_BYTES of what it is given into an `ExportArchiveChunk` row as they fill, and
    keeps the plaintext's size and SHA-256."""

    def __init__(self, archive: ExportArchive, cipher: AESGCM, key_id: object) -> None:
        super().__init__()
        self.archive, self.cipher, self.key_id = archive, cipher, key_id
        self.buffer = bytearray()
        self.digest = hashlib.sha256()
        self.size = self.count = 0

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.size

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self.buffer += view
        self.digest.update(view)
        self.size += len(view)
        while len(self.buffer) > CHUNK_BYTES:  # more follows: not the last chunk
            self._seal(bytes(self.buffer[:CHUNK_BYTES]), last=False)
            del self.buffer[:CHUNK_BYTES]
        return len(view)

    def finish(self) -> None:
        self._seal(bytes(self.buffer), last=True)
        self.buffer = bytearray()

    def _seal(self, plaintext: bytes, *, last: bool) -> None:
        nonce = os.urandom(NONCE_BYTES)
        aad = _chunk_aad(self.archive, self.key_id, self.count, last=last)
        ExportArchiveChunk.objects.create(
            archive=self.archive,
            index=self.count,
            ciphertext=nonce + self.cipher.encrypt(nonce, plaintext, aad),
        )
        self.count += 1


def archive_store(
    *, request: DataSubjectRequest, data: dict[str, Any]
) -> tuple[ExportArchive, int]:
    """Build the archive of `data` (`collect`) and keep it, encrypted, until it is delivered:
    the ZIP is written as the events are read and encrypted chunk by chunk into the database,
    so memory does not grow with the data. Returns the archive and how many events it holds.
    Call in a transaction.

    Its link's lifetime starts when the link is mailed or handed out (`archive_link_start`),
    not here: a request may wait for connected systems for weeks. Until then `expires_at` is a
    backstop (the request's deadline plus the lifetime) that the sweeper applies only once the
    request is closed: an open request's undelivered archive is kept for its delivery."""
    now = timezone.now()
    archive = ExportArchive(request=request, expires_at=max(request.due_at, now) + _lifetime())
    cipher, key_id = archive.data_cipher(create=True)
    archive.save()
    out = _ChunkWriter(archive, cipher, key_id)
    events = package_to(data, out)
    out.finish()
    archive.size, archive.sha256, archive.chunk_count = out.size, out.digest.hexdigest(), out.count
    ExportArchive.objects.filter(pk=archive.pk).update(
        size=archive.size, sha256=archive.sha256, chunk_count=archive.chunk_count
    )
    return archive, events


def _lifetime() -> dt.timedelta:
    return dt.timedelta(days=settings.CUSTODIA_DSAR_ARCHIVE_DAYS)


def archive_is_gone(archive: ExportArchive | None) -> bool:
    return (
        archive is None
        or archive.destroyed_at is not None
        or (archive.chunk_count == 0 and archive.ciphertext is None)
    )


def archive_link_start(*, archive: ExportArchive) -> tuple[str, dt.datetime]:
    """A signed link to the archive, valid CUSTODIA_DSAR_ARCHIVE_DAYS from now, and when it
    expires. The newest link sets the archive's expiry (an older link's signature ends sooner,
    so none is cut short). ArchiveGone if the archive was destroyed: the compare-and-set on
    `destroyed_at` keeps a concurrent destruction from being missed."""
    expires_at = timezone.now() + _lifetime()
    kept = (
        ExportArchive.objects.filter(pk=archive.pk, destroyed_at=None)
        .filter(Q(chunk_count__gt=0) | Q(ciphertext__isnull=False))
        .update(expires_at=expires_at)
    )
    if not kept:
        raise ArchiveGone("The archive was destroyed before it was delivered.")
    archive.expires_at = expires_at
    return download_url(archive), expires_at


def archive_reader(archive: ExportArchive) -> Iterator[bytes]:
    """The archive's ZIP, decrypted a chunk at a time (one query per chunk), with its data key
    taken now: the key may be destroyed before the chunks are read. A chunk that is missing,
    moved or altered, or an archive cut short, raises DecryptionError. Format 1 (one blob)
    is decrypted at once."""
    cipher, key_id = archive.data_cipher()
    if archive.chunk_count == 0:
        raw = bytes(archive.ciphertext)
        content = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(archive, key_id))
        return iter([content])
    return _chunks_decrypted(archive, cipher, key_id)


def _chunks_decrypted(archive: ExportArchive, cipher: AESGCM, key_id: object) -> Iterator[bytes]:
    last = archive.chunk_count - 1
    rows = ExportArchiveChunk.objects.filter(archive_id=archive.pk)
    for index in range(archive.chunk_count):
        raw = rows.filter(index=index).values_list("ciphertext", flat=True).first()
        if raw is None:
            raise DecryptionError("an archive chunk is missing")
        raw = bytes(raw)
        try:
            yield cipher.decrypt(
                raw[:NONCE_BYTES],
                raw[NONCE_BYTES:],
                _chunk_aad(archive, key_id, index, last=index == last),
            )
        except InvalidTag as exc:
            raise DecryptionError("an archive chunk failed authentication") from exc


def archive_open(archive: ExportArchive) -> bytes:
    """The whole decrypted ZIP in memory (small archives, tests); downloads stream it."""
    return b"".join(archive_reader(archive))


def download_token(archive: ExportArchive) -> str:
    return signing.dumps(str(archive.pk), key=settings.CUSTODIA_SIGNING_KEY, salt=_SALT)


def download_url(archive: ExportArchive) -> str:
    return f"{settings.CUSTODIA_PUBLIC_URL}/privacy-center/download/{download_token(archive)}/"


def archive_for_token(token: str) -> ExportArchive:
    """The archive a link points to, if the signature is valid and it is still there."""
    gone = ArchiveGone("This download link is invalid, expired or was used already.")
    try:
        archive_id = signing.loads(
            token,
            key=settings.CUSTODIA_SIGNING_KEY,
            salt=_SALT,
            max_age=_lifetime(),
        )
    except signing.BadSignature as exc:
        raise gone from exc
    archive = ExportArchive.objects.select_related("request").filter(pk=archive_id).first()
    if archive is None or archive.destroyed_at or archive.expires_at < timezone.now():
        raise gone
    return archive


def archive_destroy(*, archive: ExportArchive, downloaded: bool = False) -> None:
    """Destroy the archive's key (no copy can be decrypted afterwards) and delete its bytes;
    `downloaded` keeps the chunks for the download under way, which deletes them at its end
    (`archive_chunks_delete`; the sweeper deletes any a broken download left)."""
    now = timezone.now()
    with transaction.atomic():
        keys_shred(owner_ids=[archive.pk])
        fields = {"ciphertext": None, "destroyed_at": now}
        if downloaded:
            fields["downloaded_at"] = now
        else:
            archive_chunks_delete(archive_ids=[archive.pk])
        ExportArchive.objects.filter(pk=archive.pk).update(**fields)


def archive_chunks_delete(*, archive_ids: list[uuid.UUID]) -> int:
    """Delete the encrypted chunks of destroyed (or being destroyed) archives."""
    deleted, _ = ExportArchiveChunk.objects.filter(archive_id__in=archive_ids).delete()
    return deleted


def archives_destroy_expired() -> int:
    """Destroy archives past their expiry, except those of open requests not delivered yet
    (their lifetime has not started: see `archive_store`)."""
    undelivered = RequestStep.objects.filter(
        name="deliver", request__status__in=DataSubjectRequest.OPEN
    ).exclude(status=RequestStep.Status.DONE)
    expired = ExportArchive.objects.filter(
        destroyed_at=None, expires_at__lt=timezone.now()
    ).exclude(request_id__in=undelivered.values("request_id"))
    count = 0
    for archive in expired:
        archive_destroy(archive=archive)
        count += 1
    # Chunks an interrupted download left (their key destroyed): an hour covers any download.
    ExportArchiveChunk.objects.filter(
        archive__destroyed_at__lt=timezone.now() - dt.timedelta(hours=1)
    ).delete()
    return count

"""The access/portability archive: everything held about a subject as JSON (machine-readable,
Art. 20) and CSV (readable in a spreadsheet), zipped, encrypted at rest under the archive's own
data key, handed out once through an expiring signed link, then destroyed."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import zipfile
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone

from audit.csvsafe import csv_cell
from audit.selectors import subject_access_history
from consent import selectors as consent_selectors
from dsar.models import DataSubjectRequest, ExportArchive
from ops.errors import DomainError
from profiles.crypto import aead
from profiles.crypto.keyring import NONCE_BYTES
from profiles.models import SubjectKey
from profiles.selectors import subject_export

_SALT = "custodia.dsar.archive"
FORMAT_VERSION = 1


class ArchiveGone(DomainError):
    code = "archive_gone"
    status = 410


def collect(request: DataSubjectRequest) -> dict[str, Any]:
    """Everything we hold on the request's subject (system read, decrypted): profile,
    identifiers, attributes, events, consent history with notice versions, the purposes,
    recipients and retention of the processing that applies, and who accessed the data."""
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
        "processing": consent_selectors.processing_activities_for_subject(region=request.region),
    }
    if request.subject_id is None:
        data["found"] = False
        return data
    data["found"] = True
    data.update(subject_export(subject_id=request.subject_id))
    data["consent_history"] = consent_selectors.consent_history_export(
        subject_id=request.subject_id
    )
    data["access_history"] = subject_access_history(subject_id=request.subject_id)
    return data


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    writer = csv.DictWriter(out, fieldnames=columns or ["none"])
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: csv_cell(json.dumps(v, default=str) if isinstance(v, dict | list) else v)
                for k, v in row.items()
            }
        )
    return out.getvalue()


_README = """Your personal data held by {controller}

data.json           everything below in one machine-readable file (Art. 20 portability)
profile.csv         who you are to us: identifiers and attributes, where each came from
events.csv          what you did, as recorded by our systems
consent.csv         every consent choice, with the version of the notice you were shown
processing.csv      why we process your data, on what legal basis, who receives it, how long
access_history.csv  who at {controller} read or changed your data, and when
"""


def package(data: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "README.txt",
            _README.format(controller=settings.CUSTODIA_CONTROLLER or "the controller"),
        )
        archive.writestr("data.json", json.dumps(data, indent=2, default=str, ensure_ascii=False))
        profile = [
            {"type": "identifier", "name": i["kind"], **i} for i in data.get("identifiers", [])
        ] + [{"type": "attribute", "name": a["key"], **a} for a in data.get("attributes", [])]
        archive.writestr("profile.csv", _csv(profile))
        archive.writestr("events.csv", _csv(data.get("events", [])))
        archive.writestr("consent.csv", _csv(data.get("consent_history", [])))
        archive.writestr("processing.csv", _csv(data.get("processing", [])))
        archive.writestr("access_history.csv", _csv(data.get("access_history", [])))
    return buffer.getvalue()


def _aad(archive: ExportArchive, key_id: object) -> bytes:
    return aead.associated_data(
        model="dsar.exportarchive", field="ciphertext", row_id=archive.pk, key_id=key_id
    )


def archive_store(*, request: DataSubjectRequest, content: bytes) -> ExportArchive:
    """Encrypt and keep the archive until it is downloaded or expires. Call in a transaction."""
    archive = ExportArchive(
        request=request,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        expires_at=timezone.now() + dt.timedelta(days=settings.CUSTODIA_DSAR_ARCHIVE_DAYS),
    )
    key, key_id = archive.data_key(create=True)
    nonce = os.urandom(NONCE_BYTES)
    archive.ciphertext = nonce + AESGCM(key).encrypt(nonce, content, _aad(archive, key_id))
    archive.save()
    return archive


def archive_open(archive: ExportArchive) -> bytes:
    key, key_id = archive.data_key()
    raw = bytes(archive.ciphertext)
    return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(archive, key_id))


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
            max_age=dt.timedelta(days=settings.CUSTODIA_DSAR_ARCHIVE_DAYS),
        )
    except signing.BadSignature as exc:
        raise gone from exc
    archive = ExportArchive.objects.select_related("request").filter(pk=archive_id).first()
    if archive is None or archive.destroyed_at or archive.expires_at < timezone.now():
        raise gone
    return archive


def archive_destroy(*, archive: ExportArchive, downloaded: bool = False) -> None:
    """Delete the bytes and destroy the archive's key (no copy can be decrypted afterwards)."""
    now = timezone.now()
    with transaction.atomic():
        SubjectKey.objects.filter(subject_id=archive.pk).delete()
        fields = {"ciphertext": None, "destroyed_at": now}
        if downloaded:
            fields["downloaded_at"] = now
        ExportArchive.objects.filter(pk=archive.pk).update(**fields)


def archives_destroy_expired() -> int:
    expired = ExportArchive.objects.filter(destroyed_at=None, expires_at__lt=timezone.now())
    count = 0
    for archive in expired:
        archive_destroy(archive=archive)
        count += 1
    return count

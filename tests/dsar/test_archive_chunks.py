"""The archive is stored as encrypted chunks written while the ZIP is built and handed out as
a stream decrypted chunk by chunk: chunks cannot be swapped, reordered or cut off undetected,
and an archive stored before chunking (one blob) is still handed out."""

import datetime as dt
import io
import json
import os
import zipfile

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.actors import Actor
from audit.models import AuditEvent
from dsar import archive as archives
from dsar import services
from dsar.models import DataSubjectRequest, ExportArchive, ExportArchiveChunk
from profiles.crypto import aead
from profiles.crypto.keyring import NONCE_BYTES, DecryptionError
from profiles.models import SubjectKey
from tests.factories import make_subject

SERVICE = Actor.system("crm")
# Statements of an access export (collect, build, encrypt, store) for any number of events.
EXPORT_BUDGET = 22


@pytest.fixture(autouse=True)
def _no_approval(settings):
    settings.CUSTODIA_DSAR_APPROVAL_REQUIRED = []


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(archives, "CHUNK_BYTES", 1024)


def _access(email: str, events: int = 40) -> DataSubjectRequest:
    subject = make_subject(region="EU", email=email, name="Chunk Person", events=events)
    request, _ = services.request_create(
        kind="access", channel="api", actor=SERVICE, subject=subject, verification="service"
    )
    return request


def _stored(request: DataSubjectRequest) -> ExportArchive:
    archive, events = archives.archive_store(request=request, data=archives.collect(request))
    assert events == len(request.subject.events.all())
    return ExportArchive.objects.get(pk=archive.pk)


def test_a_large_archive_is_stored_in_many_chunks_that_decrypt_to_the_zip(small_chunks):
    archive = _stored(_access("many@example.com", events=300))
    assert archive.ciphertext is None
    assert archive.chunk_count == archive.chunks.count() > 3
    content = archives.archive_open(archive)
    assert len(content) == archive.size
    with zipfile.ZipFile(io.BytesIO(content)) as unzipped:
        assert len(json.loads(unzipped.read("data.json"))["events"]) == 300
    pieces = list(archives.archive_reader(archive))
    assert all(len(piece) == 1024 for piece in pieces[:-1])


def test_chunks_swapped_between_places_fail_to_decrypt(small_chunks):
    archive = _stored(_access("swap@example.com", events=300))
    first, second = archive.chunks.order_by("index")[:2]
    ExportArchiveChunk.objects.filter(pk=first.pk).update(index=99)
    ExportArchiveChunk.objects.filter(pk=second.pk).update(index=0)
    ExportArchiveChunk.objects.filter(pk=first.pk).update(index=1)
    with pytest.raises(DecryptionError):
        archives.archive_open(archive)


def test_an_archive_cut_short_fails_to_decrypt(small_chunks):
    archive = _stored(_access("cut@example.com", events=300))
    archive.chunks.filter(index=archive.chunk_count - 1).delete()
    ExportArchive.objects.filter(pk=archive.pk).update(chunk_count=archive.chunk_count - 1)
    archive.refresh_from_db()
    with pytest.raises(DecryptionError):
        archives.archive_open(archive)


def test_a_chunk_of_another_archive_fails_to_decrypt(small_chunks):
    one = _stored(_access("one@example.com"))
    other = _stored(_access("other@example.com"))
    stolen = other.chunks.get(index=0).ciphertext
    one.chunks.filter(index=0).update(ciphertext=stolen)
    with pytest.raises(DecryptionError):
        archives.archive_open(one)


def test_the_download_streams_the_chunks_then_deletes_them(client, small_chunks):
    archive = _stored(_access("stream@example.com", events=300))
    expected = archives.archive_open(archive)
    response = client.post(f"/privacy-center/download/{archives.download_token(archive)}/")
    assert response.status_code == 200
    assert response.streaming
    # Destroyed (key shredded, audited) before the first byte is sent.
    assert not SubjectKey.objects.filter(subject_id=archive.pk).exists()
    assert ExportArchive.objects.get(pk=archive.pk).destroyed_at is not None
    assert AuditEvent.objects.filter(action="dsar.request.archive_download").exists()
    assert b"".join(response.streaming_content) == expected
    assert not ExportArchiveChunk.objects.filter(archive=archive).exists()


def test_an_archive_stored_as_one_blob_before_chunking_is_still_handed_out(client):
    request = _access("legacy@example.com", events=5)
    content = archives.package(archives.collect(request))
    archive = ExportArchive(
        request=request, size=len(content), expires_at=timezone.now() + dt.timedelta(days=1)
    )
    key, key_id = archive.data_key(create=True)
    nonce = os.urandom(NONCE_BYTES)
    aad = aead.associated_data(
        model="dsar.exportarchive", field="ciphertext", row_id=archive.pk, key_id=key_id
    )
    archive.ciphertext = nonce + AESGCM(key).encrypt(nonce, content, aad)
    archive.save()
    assert archive.chunk_count == 0
    assert not archives.archive_is_gone(archive)
    archives.archive_link_start(archive=archive)
    response = client.post(f"/privacy-center/download/{archives.download_token(archive)}/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == content
    assert (
        client.post(f"/privacy-center/download/{archives.download_token(archive)}/").status_code
        == 410
    )


def test_an_interrupted_download_leaves_chunks_the_sweeper_deletes(client, small_chunks):
    archive = _stored(_access("broken@example.com", events=300))
    response = client.post(f"/privacy-center/download/{archives.download_token(archive)}/")
    next(iter(response.streaming_content))  # the person's connection drops after one chunk
    assert ExportArchiveChunk.objects.filter(archive=archive).exists()
    ExportArchive.objects.filter(pk=archive.pk).update(
        destroyed_at=timezone.now() - dt.timedelta(hours=2)
    )
    archives.archives_destroy_expired()
    assert not ExportArchiveChunk.objects.filter(archive=archive).exists()


def test_an_export_collected_and_stored_takes_a_fixed_number_of_queries(
    django_assert_max_num_queries,
):
    """Collect + build + encrypt + store: the same statements for 3 events or 200 (the events
    are read in chunks of 2,000 rows, the ZIP stored in chunks of 256 KiB)."""
    counts = []
    for n, email in ((3, "q3@example.com"), (200, "q200@example.com")):
        request = _access(email, events=n)
        with CaptureQueriesContext(connection) as queries:
            archives.archive_store(request=request, data=archives.collect(request))
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    request = _access("q120@example.com", events=120)
    with django_assert_max_num_queries(EXPORT_BUDGET):
        archives.archive_store(request=request, data=archives.collect(request))

"""A data key is unwrapped once per owner instance, and no cached key outlives a shred:
after a subject is shredded, erased or merged, a key cached earlier in the same process
(on any instance) decrypts nothing."""

import base64
import io
import os
import uuid

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from audit.actors import Actor
from profiles.crypto import aead
from profiles.crypto.keyring import DecryptionError
from profiles.models import Attribute, Subject, SubjectKey
from profiles.services import subject_erase, subject_shred, subjects_merge
from tests.factories import make_subject

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("tests")


def _primed(subject: Subject) -> tuple[Subject, Attribute]:
    """Another instance of `subject` with its key cached, and its name row still as ciphertext
    (as a long unit of work would hold them)."""
    holder = Subject.objects.get(pk=subject.pk)
    holder.data_cipher()
    row = Attribute.objects.get(subject=subject, key="name")
    row.subject = holder
    return holder, row


def test_the_key_is_unwrapped_once_per_owner_and_reused_without_queries(
    django_assert_num_queries,
):
    subject = make_subject(name="Ada Lovelace", postcode="75011")
    fresh = Subject.objects.get(pk=subject.pk)
    rows = list(Attribute.objects.filter(subject=fresh))
    with django_assert_num_queries(1):  # one SubjectKey read for every value of the subject
        for row in rows:
            row.subject = fresh
            assert row.value
    assert fresh.data_cipher()[0] is fresh.data_cipher()[0]


def test_field_associated_data_binds_model_field_row_and_key_id():
    subject = make_subject(name="Ada Lovelace")
    row = Attribute.objects.get(subject=subject, key="name")
    field = Attribute._meta.get_field("value")
    _, key_id = subject.data_cipher()
    assert field._aad(row, key_id) == aead.associated_data(
        model="profiles.attribute", field="value", row_id=row.pk, key_id=key_id
    )


def test_field_associated_data_follows_each_owner_key_id_when_owners_alternate():
    # The field remembers the last key id's text: alternating owners must never mix them up.
    first, second = make_subject(name="Ada Lovelace"), make_subject(name="Grace Hopper")
    field = Attribute._meta.get_field("value")
    for _ in range(2):
        for subject in (first, second, first):
            row = Attribute.objects.get(subject=subject, key="name")
            _, key_id = subject.data_cipher()
            assert field._aad(row, key_id) == aead.associated_data(
                model="profiles.attribute", field="value", row_id=row.pk, key_id=key_id
            )
    for value in (uuid.uuid4(), uuid.UUID(int=0), uuid.UUID(int=2**128 - 1), 42, "a-b"):
        assert field._aad_of("m", value, value) == f"custodia|m|value|{value}|{value}".encode()


def test_saved_tokens_keep_the_v1_format_both_ways():
    # A token sealed by the field opens with the generic aead functions, and a token sealed
    # by them (rows written before the field's inlined path) opens through the field.
    subject = make_subject(name="Ada Lovelace")
    row = Attribute.objects.get(subject=subject, key="name")
    cipher, key_id = subject.data_cipher()
    aad = aead.associated_data(
        model="profiles.attribute", field="value", row_id=row.pk, key_id=key_id
    )
    stored = Attribute.objects.filter(pk=row.pk).values_list("value", flat=True).get()
    assert aead.decrypt(stored, key=cipher, aad=aad) == b"Ada Lovelace"
    key, _ = subject.data_key()
    legacy = aead.encrypt(b"Ada King", key=key, aad=aad)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE profiles_attribute SET value = %s WHERE id = %s",
            [legacy, row.pk.hex if connection.vendor == "sqlite" else row.pk],
        )
    assert Attribute.objects.get(pk=row.pk).value == "Ada King"


def test_a_key_cached_before_a_shred_cannot_decrypt_after_it():
    subject = make_subject(name="Ada Lovelace")
    holder, row = _primed(subject)
    assert subject_shred(subject_id=subject.pk)
    with pytest.raises(DecryptionError):
        row.value  # noqa: B018 - reading decrypts
    with pytest.raises(DecryptionError):
        holder.data_cipher()


def test_a_key_cached_before_an_erasure_cannot_decrypt_after_it():
    subject = make_subject(name="Ada Lovelace")
    _, row = _primed(subject)
    subject_erase(subject_id=subject.pk, actor=ACTOR)
    assert not SubjectKey.objects.filter(subject_id=subject.pk).exists()
    with pytest.raises(DecryptionError):
        row.value  # noqa: B018 - reading decrypts


def test_a_key_cached_before_a_merge_cannot_decrypt_the_merged_subjects_old_values():
    survivor = make_subject(email="keep@example.com")
    merged = make_subject(email="gone@example.com", name="Ada Lovelace")
    _, row = _primed(merged)
    subjects_merge(
        survivor=survivor,
        merged=Subject.objects.get(pk=merged.pk),
        method="manual",
        confidence=1.0,
        signals=[],
        actor=ACTOR,
    )
    with pytest.raises(DecryptionError):
        row.value  # noqa: B018 - the old ciphertext under the merged subject's key
    moved = Attribute.objects.get(subject=survivor, key="name")
    assert moved.value == "Ada Lovelace"


def test_destroying_another_subjects_key_only_costs_a_reload():
    kept = make_subject(name="Ada Lovelace")
    holder, row = _primed(kept)
    subject_shred(subject_id=make_subject().pk)
    assert row.value == "Ada Lovelace"
    assert holder.data_cipher()[1] == SubjectKey.objects.get(subject_id=kept.pk).key_id


@pytest.mark.django_db(transaction=True)
def test_a_key_cached_before_a_rotation_still_decrypts_and_so_does_a_fresh_load(settings):
    subject = make_subject(name="Ada Lovelace")
    holder, row = _primed(subject)
    _, key_id = holder.data_cipher()
    new_master = base64.b64encode(os.urandom(32)).decode()
    settings.CUSTODIA_KEYS = f"{settings.CUSTODIA_KEYS},2:{new_master}"
    call_command("rotate_keys", stdout=io.StringIO())
    assert SubjectKey.objects.get(subject_id=subject.pk).master_version == 2
    assert row.value == "Ada Lovelace"  # re-wrapping keeps the data key itself
    settings.CUSTODIA_KEYS = f"2:{new_master}"  # version 1 retired
    fresh = Attribute.objects.get(subject=subject, key="name")
    assert fresh.value == "Ada Lovelace"
    assert fresh.subject.data_cipher()[1] == key_id


def test_a_key_another_thread_loaded_before_the_shred_committed_is_dropped_at_the_commit(
    django_capture_on_commit_callbacks,
):
    from profiles import models as profile_models

    subject = make_subject(name="Ada Lovelace")
    holder, row = _primed(subject)
    key, key_id = holder.data_key()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        subject_shred(subject_id=subject.pk)
        # What a concurrent reader caches after the delete, while the shred is uncommitted
        # and it still sees the key row.
        holder.__dict__["_data_key_cache"] = profile_models._CachedKey(
            key, key_id, aead.cipher(key), profile_models._key_epoch
        )
        assert row.value == "Ada Lovelace"
        del row.__dict__["value"]
        row.__dict__["value"] = Attribute._meta.get_field("value").from_db_value(
            Attribute.objects.filter(pk=row.pk).values_list("value", flat=True).get(), None, None
        )
    with pytest.raises(DecryptionError):
        row.value  # noqa: B018 - after the commit the cached key is gone

"""Personal values are encrypted at rest, bound to their row, and erasable by destroying keys."""

import base64
import os

import pytest
from django.core.exceptions import FieldError
from django.db import connection

from profiles.crypto.keyring import DecryptionError
from profiles.models import Attribute, Event, Identifier, Subject, SubjectKey
from profiles.services import subject_shred
from tests.factories import make_subject

pytestmark = pytest.mark.django_db

SEEDED = {
    "email": "Marianne.Dupont@Example.FR",
    "phone": "+33 6 12 34 56 78",
    "name": "Marianne Dupont",
}


def _all_text_in_database() -> str:
    """Every value of every column of every table, read with plain SQL."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - table names from introspection
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, (bytes, memoryview)):
                        value = bytes(value).decode("latin-1")
                    chunks.append(str(value))
    return "\n".join(chunks).lower()


def test_raw_rows_hold_no_plaintext_of_emails_names_or_phones():
    subject = make_subject(
        email=SEEDED["email"],
        phone=SEEDED["phone"],
        name=SEEDED["name"],
        postcode="75011",
        events=2,
    )
    dump = _all_text_in_database()
    for needle in ("marianne", "dupont", "example.fr", "612345678", "+33612345678", "75011"):
        assert needle not in dump, needle
    # ...while the application reads them back in clear.
    values = {i.kind: i.value for i in Identifier.objects.filter(subject=subject)}
    assert values == {"email": "marianne.dupont@example.fr", "phone": "+33612345678"}
    assert Attribute.objects.get(subject=subject, key="name").value == "Marianne Dupont"


def test_ciphertext_copied_to_another_row_fails_to_decrypt():
    alice = make_subject(email="alice@example.com")
    bob = make_subject(email="bob@example.com")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT value FROM profiles_identifier WHERE subject_id = %s",
            [alice.pk.hex if connection.vendor == "sqlite" else alice.pk],
        )
        (alice_ciphertext,) = cursor.fetchone()
        cursor.execute(
            "UPDATE profiles_identifier SET value = %s WHERE subject_id = %s",
            [alice_ciphertext, bob.pk.hex if connection.vendor == "sqlite" else bob.pk],
        )
    with pytest.raises(DecryptionError):
        _ = Identifier.objects.get(subject=bob).value


def test_ciphertext_copied_to_another_field_of_the_same_subject_fails_to_decrypt():
    subject = make_subject(email="carol@example.com", city="Lyon")
    identifier = Identifier.objects.get(subject=subject)
    attribute = Attribute.objects.get(subject=subject, key="city")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT value FROM profiles_identifier WHERE id = %s",
            [identifier.pk.hex if connection.vendor == "sqlite" else identifier.pk],
        )
        (ciphertext,) = cursor.fetchone()
        cursor.execute(
            "UPDATE profiles_attribute SET value = %s WHERE id = %s",
            [ciphertext, attribute.pk.hex if connection.vendor == "sqlite" else attribute.pk],
        )
    with pytest.raises(DecryptionError):
        _ = Attribute.objects.get(pk=attribute.pk).value


def test_empty_and_falsy_values_round_trip_without_becoming_null():
    subject = make_subject(nickname="", score="0", opted="False")
    values = dict(Attribute.objects.filter(subject=subject).values_list("key", "value"))
    assert all(v is not None and v.startswith("v1:") for v in values.values())
    loaded = {a.key: a.value for a in Attribute.objects.filter(subject=subject)}
    assert loaded == {"nickname": "", "score": "0", "opted": "False"}


def test_filtering_on_an_encrypted_field_points_to_the_blind_index():
    with pytest.raises(FieldError, match="blind index"):
        list(Identifier.objects.filter(value="someone@example.com"))


def test_bulk_update_refuses_to_store_plaintext():
    subject = make_subject(email="dave@example.com")
    identifier = Identifier.objects.get(subject=subject)
    identifier.value = "eve@example.com"
    with pytest.raises(FieldError, match="encrypted"):
        Identifier.objects.bulk_update([identifier], ["value"])


def test_after_shredding_no_value_decrypts_with_any_master_key(settings):
    old_keys = settings.CUSTODIA_KEYS
    settings.CUSTODIA_KEYS = old_keys + ",2:" + base64.b64encode(os.urandom(32)).decode()
    subject = make_subject(email="frank@example.com", name="Frank Castle", events=3)
    stored = list(Identifier.objects.filter(subject=subject)) + list(
        Event.objects.filter(subject=subject)
    )
    assert subject_shred(subject_id=subject.pk)
    assert not SubjectKey.objects.filter(subject_id=subject.pk).exists()
    for row in stored:
        fresh = type(row).objects.get(pk=row.pk)
        fresh.subject = Subject.objects.get(pk=subject.pk)
        with pytest.raises(DecryptionError):
            _ = fresh.value if isinstance(fresh, Identifier) else fresh.payload
    for version in (1, 2):
        settings.CUSTODIA_CURRENT_KEY_VERSION = version
        fresh_subject = Subject.objects.get(pk=subject.pk)
        with pytest.raises(DecryptionError):
            fresh_subject.data_key()


def test_data_keys_are_independent_of_the_django_secret_key(settings):
    subject = make_subject(email="grace@example.com")
    settings.SECRET_KEY = "a completely different secret key, rotated by ops"
    assert Identifier.objects.get(subject=subject).value == "grace@example.com"

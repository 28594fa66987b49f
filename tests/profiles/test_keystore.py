"""The one key store: shredding destroys exactly the named owners' data keys."""

import pytest

from profiles.models import SubjectKey
from profiles.services import keys_shred
from tests.factories import make_subject

pytestmark = pytest.mark.django_db


def test_shredding_destroys_the_named_keys_and_leaves_everyone_elses():
    erased, kept = make_subject(), make_subject()

    assert keys_shred(owner_ids=[erased.pk]) == 1

    assert not SubjectKey.objects.filter(subject_id=erased.pk).exists()
    assert SubjectKey.objects.filter(subject_id=kept.pk).exists()
    assert keys_shred(owner_ids=[erased.pk]) == 0  # shredding twice is harmless
    assert keys_shred(owner_ids=[]) == 0

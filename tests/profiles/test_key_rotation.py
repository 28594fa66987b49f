"""Master key rotation re-wraps data keys online; retiring a version is refused while in use."""

import base64
import io
import os
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connections

from audit.models import AuditEvent
from audit.verify import verify_chain
from profiles.models import Attribute, Identifier, SubjectKey
from tests.factories import make_subject

pytestmark = pytest.mark.django_db(transaction=True)


def _new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_rotation_rewraps_every_data_key_and_values_stay_readable(settings):
    subjects = [make_subject(email=f"rot{i}@example.com") for i in range(7)]
    settings.CUSTODIA_KEYS = f"{settings.CUSTODIA_KEYS},2:{_new_key()}"
    out = io.StringIO()
    call_command("rotate_keys", "--batch-size", "3", stdout=out)
    assert "7 data keys re-wrapped under master key version 2" in out.getvalue()
    assert set(SubjectKey.objects.values_list("master_version", flat=True)) == {2}
    # Version 1 can now go: values decrypt with the keyring holding only version 2.
    settings.CUSTODIA_KEYS = settings.CUSTODIA_KEYS.split(",", 1)[1]
    for i, subject in enumerate(subjects):
        assert Identifier.objects.get(subject=subject).value == f"rot{i}@example.com"


def test_retiring_a_version_is_refused_while_data_depends_on_it(settings):
    make_subject(email="dep@example.com")
    settings.CUSTODIA_KEYS = f"{settings.CUSTODIA_KEYS},2:{_new_key()}"
    with pytest.raises(CommandError, match="1 data keys still depend on master key version 1"):
        call_command("rotate_keys", "--retire", "1")
    call_command("rotate_keys", stdout=io.StringIO())
    out = io.StringIO()
    call_command("rotate_keys", "--retire", "1", stdout=out)
    assert "no data depends on master key version 1" in out.getvalue()


def test_rotation_with_concurrent_reads_and_writes_loses_nothing(settings):
    for i in range(40):
        make_subject(email=f"c{i}@example.com", city=f"city-{i}")
    settings.CUSTODIA_KEYS = f"{settings.CUSTODIA_KEYS},2:{_new_key()}"
    errors: list[BaseException] = []
    stop = threading.Event()
    written: list[str] = []

    def reader() -> None:
        try:
            while not stop.is_set():
                for attribute in Attribute.objects.select_related("subject").filter(key="city")[
                    :40
                ]:
                    assert attribute.value.startswith("city-")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    def writer() -> None:
        try:
            for i in range(15):
                make_subject(email=f"new{i}@example.com", city=f"city-new-{i}")
                written.append(f"new{i}@example.com")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=reader), threading.Thread(target=writer)]
    for thread in threads:
        thread.start()
    call_command("rotate_keys", "--batch-size", "5", stdout=io.StringIO())
    threads[1].join()
    call_command("rotate_keys", "--batch-size", "5", stdout=io.StringIO())  # keys created meanwhile
    stop.set()
    threads[0].join()
    assert errors == []
    assert len(written) == 15
    assert set(SubjectKey.objects.values_list("master_version", flat=True)) == {2}
    cities = {a.value for a in Attribute.objects.select_related("subject").filter(key="city")}
    assert len(cities) == 55


def test_rotation_is_audited_batch_by_batch_and_the_chain_stays_intact(settings):
    for i in range(7):
        make_subject(email=f"audited{i}@example.com")
    settings.CUSTODIA_KEYS = f"{settings.CUSTODIA_KEYS},2:{_new_key()}"

    call_command("rotate_keys", "--batch-size", "3", stdout=io.StringIO())

    events = AuditEvent.objects.filter(action="profiles.keys.rewrap").order_by("sequence")
    assert [(e.actor_label, e.object_id, e.reason) for e in events] == [
        ("manage.py rotate_keys", "2", "re-wrapped 3 data keys under master key version 2"),
        ("manage.py rotate_keys", "2", "re-wrapped 3 data keys under master key version 2"),
        ("manage.py rotate_keys", "2", "re-wrapped 1 data keys under master key version 2"),
    ]
    assert verify_chain().ok


def test_recomputing_the_match_encodings_is_audited(settings):
    for i in range(3):
        make_subject(email=f"reenc{i}@example.com", name=f"Rea Encode{i}")

    call_command("rotate_keys", "--reencode-matching", "--batch-size", "2", stdout=io.StringIO())

    reasons = AuditEvent.objects.filter(action="profiles.match.reencode").values_list(
        "reason", flat=True
    )
    assert sorted(reasons) == [
        "recomputed the match encodings of 1 subjects up to this one",
        "recomputed the match encodings of 2 subjects up to this one",
    ]


@pytest.mark.parametrize("size", ["0", "-5", "many"])
def test_a_batch_size_below_one_is_refused_and_nothing_is_said_done(settings, size):
    make_subject(email="notdone@example.com")
    settings.CUSTODIA_KEYS = f"{settings.CUSTODIA_KEYS},2:{_new_key()}"
    out = io.StringIO()

    with pytest.raises(CommandError, match="is not a whole number of at least 1"):
        call_command("rotate_keys", "--batch-size", size, stdout=out)

    assert "done" not in out.getvalue()
    assert set(SubjectKey.objects.values_list("master_version", flat=True)) == {1}


def test_retiring_a_version_the_keyring_never_had_says_so(settings):
    out = io.StringIO()

    call_command("rotate_keys", "--retire", "9", stdout=out)

    assert "it is not in CUSTODIA_KEYS (versions 1)" in out.getvalue()
    assert "remove it" not in out.getvalue()

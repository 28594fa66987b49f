"""Master key rotation re-wraps data keys online; retiring a version is refused while in use."""

import base64
import io
import os
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connections

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

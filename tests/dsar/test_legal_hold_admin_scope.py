"""A legal hold names its subject by id (a raw-id field): an officer limited to some regions
cannot place one on a subject of another region, and the refused form tells a subject of
another region apart from an id that names no one in no way (no label, no link to its page)."""

from __future__ import annotations

import re
import uuid

import pytest

from access.roles import DPO
from dsar.models import LegalHold
from tests.factories import make_staff, make_subject, signed_in

pytestmark = pytest.mark.django_db


def _refused_page(client, subject_id) -> str:
    r = client.post("/admin/dsar/legalhold/add/", {"subject": str(subject_id), "reason": "x"})
    assert r.status_code == 200
    page = r.content.decode().replace(str(subject_id), "<id>")
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", page)


def test_a_refused_hold_on_another_regions_subject_reads_as_one_on_no_one(roles):
    californian = make_subject(region="US-CA", email="ca@example.com")
    eu = signed_in(make_staff(DPO, regions=["EU"]))
    page = _refused_page(eu, californian.pk)
    assert not LegalHold.objects.exists()
    assert f"/admin/profiles/subject/{californian.pk}/" not in page.replace("<id>", "")
    assert page == _refused_page(eu, uuid.uuid4())


def test_an_officer_places_a_hold_on_a_subject_of_their_region(roles):
    european = make_subject(region="EU", email="eu@example.com")
    eu = signed_in(make_staff(DPO, regions=["EU"]))
    r = eu.post("/admin/dsar/legalhold/add/", {"subject": str(european.pk), "reason": ""})
    assert f"/admin/profiles/subject/{european.pk}/change/" in r.content.decode()  # named
    r = eu.post("/admin/dsar/legalhold/add/", {"subject": str(european.pk), "reason": "court"})
    assert r.status_code == 302
    assert LegalHold.objects.filter(subject=european).exists()


def test_a_hold_on_an_erased_person_is_a_form_error_not_a_crash(roles):
    """An erased person has nothing left to hold: the form says so (the service refuses it
    too, under the subject's lock, when an erasure commits between the form and the save)."""
    from profiles.models import Subject

    erased = make_subject(region="EU", email="gone@example.com")
    Subject.objects.filter(pk=erased.pk).update(status=Subject.Status.ERASED)
    eu = signed_in(make_staff(DPO, regions=["EU"]))
    r = eu.post("/admin/dsar/legalhold/add/", {"subject": str(erased.pk), "reason": "court"})
    assert r.status_code == 200
    assert "was erased: there is nothing to hold" in r.content.decode()
    assert not LegalHold.objects.exists()


def test_a_hold_refused_by_the_service_at_save_is_a_message_not_a_crash(roles, monkeypatch):
    """The erasure committed after the form was checked: the service's refusal (a conflict)
    comes back to the add page as an error message, nothing saved."""
    from core.errors import ConflictError
    from dsar import services

    def refused(**_):
        raise ConflictError("This person's data was erased: there is nothing to hold.")

    monkeypatch.setattr(services, "legal_hold_place", refused)
    european = make_subject(region="EU", email="eu2@example.com")
    eu = signed_in(make_staff(DPO, regions=["EU"]))
    r = eu.post(
        "/admin/dsar/legalhold/add/", {"subject": str(european.pk), "reason": "court"}, follow=True
    )
    assert r.status_code == 200
    assert "was erased: there is nothing to hold" in r.content.decode()
    assert not LegalHold.objects.exists()

"""Audit rows hold ids and field names, never the personal values they are about."""

import io

import pytest
from django.test import Client

from access.demo import seed as seed_staff
from audit.actors import Actor
from audit.models import AuditEvent
from profiles.demo import seed as seed_profiles
from profiles.models import Attribute, Identifier, Subject
from profiles.services import subject_erase
from tests.factories import make_staff

pytestmark = pytest.mark.django_db


def test_no_audit_row_contains_any_seeded_personal_value(roles):
    seed_staff(password="demo password for tests", stdout=io.StringIO())
    seed_profiles(subjects=25, stdout=io.StringIO())
    client = Client()
    client.force_login(make_staff("DPO"))
    subjects = list(Subject.objects.all()[:10])
    personal = set()
    for subject in subjects:
        personal |= {
            i.value for i in Identifier.objects.filter(subject=subject).select_related("subject")
        }
        personal |= {
            a.value
            for a in Attribute.objects.filter(subject=subject).select_related("subject")
            if " " in a.value  # names; bare digits (postcodes) also occur inside hashes and uuids
        }
        client.get(f"/api/v1/profiles/subjects/{subject.pk}/")
        client.get(f"/api/v1/profiles/subjects/{subject.pk}/events/")
        client.get(f"/admin/profiles/subject/{subject.pk}/change/")
        email = next(
            i.value
            for i in Identifier.objects.filter(subject=subject, kind="email").select_related(
                "subject"
            )
        )
        client.post("/admin/profiles/subject/", {"q": email, "_search": "1"}, follow=True)
    subject_erase(subject_id=subjects[0].pk, actor=Actor.system("tests"))
    assert AuditEvent.objects.count() > 40
    dump = "\n".join(str(row) for row in AuditEvent.objects.values_list()).lower()
    leaked = sorted(value for value in personal if value.lower() in dump)
    assert leaked == []

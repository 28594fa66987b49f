"""One helper audits an action about a data subject: the subject is object, id and region."""

import pytest

from audit.actors import Actor
from audit.services import audit_subject_action
from tests.factories import make_subject

pytestmark = pytest.mark.django_db


def test_a_subject_action_records_the_subject_its_region_and_field_names_only():
    subject = make_subject(region="BR", email="ana@example.com")

    event = audit_subject_action(
        actor=Actor.system("tests"),
        action="profiles.subject.read",
        subject=subject,
        fields=["identifier.email"],
        reason="support ticket",
    )

    event.refresh_from_db()
    assert event.object_type == "profiles.subject"
    assert str(event.object_id) == str(subject.pk)
    assert str(event.subject_id) == str(subject.pk)
    assert event.region == "BR"
    assert list(event.fields) == ["identifier.email"]
    assert event.reason == "support ticket"
    assert "ana@example.com" not in str(event.__dict__)

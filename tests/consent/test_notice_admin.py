"""A published notice is evidence: every consent points at the version shown, and at what it
asked for. Its text and its purposes stay as published; a change is a new version."""

from __future__ import annotations

import pytest
from django.test import Client

from access.roles import DPO
from consent.models import Notice, Purpose
from tests.factories import make_staff

pytestmark = pytest.mark.django_db


def test_a_published_notices_purposes_cannot_be_changed_in_the_admin(regimes, roles):
    analytics = Purpose.objects.get(slug="analytics")
    advertising = Purpose.objects.get(slug="marketing_email")
    notice = Notice.objects.create(language="en", version=7, title="Privacy", text="We ask.")
    notice.purposes.set([analytics])
    client = Client()
    client.force_login(make_staff(DPO))
    response = client.post(
        f"/admin/consent/notice/{notice.pk}/change/",
        {
            "language": "de",
            "version": 8,
            "title": "Other",
            "text": "Rewritten",
            "purposes": [analytics.pk, advertising.pk],
        },
    )
    assert response.status_code == 302  # saved: the read-only fields are ignored
    notice.refresh_from_db()
    assert list(notice.purposes.all()) == [analytics]
    assert (notice.language, notice.version, notice.text) == ("en", 7, "We ask.")


def test_a_new_notice_is_written_with_its_purposes(regimes, roles):
    analytics = Purpose.objects.get(slug="analytics")
    client = Client()
    client.force_login(make_staff(DPO))
    response = client.post(
        "/admin/consent/notice/add/",
        {
            "language": "en",
            "version": 3,
            "title": "Privacy",
            "text": "We ask.",
            "purposes": [analytics.pk],
        },
    )
    assert response.status_code == 302
    assert list(Notice.objects.get(version=3).purposes.all()) == [analytics]

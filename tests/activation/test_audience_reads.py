"""Who reads a destination's audience, and that it is on record: a person signed in reads the
feed of a destination taking identifiers in clear only with the permission to see unmasked
data (the auditor's read-only role read Californians' e-mails in clear through it), the same
for the audience export; every page of identifiers read is audited (form and count, never the
values)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from audit.models import AuditEvent
from tests.activation.test_audience import _destination, _record
from tests.factories import make_staff, make_subject

pytestmark = pytest.mark.django_db


def _clear_destination(api):
    person = make_subject(region="US-CA", email="clear.person@example.com")
    return person, _destination(api, "marketing_email", clear=True)


@pytest.mark.parametrize("query", [{}, {"since": 0}])
def test_an_auditor_cannot_read_a_clear_audience(api, client, roles, query):
    _person, destination = _clear_destination(api)
    client.force_login(make_staff("Auditor"))
    response = client.get(f"/api/v1/destinations/{destination.pk}/audience/", query)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert "clear.person" not in response.content.decode()


def test_an_auditor_reads_a_hashed_audience(api, client, roles):
    person = make_subject(region="US-CA", email="hashed.person@example.com")
    destination = _destination(api, "marketing_email")
    client.force_login(make_staff("Auditor"))
    response = client.get(f"/api/v1/destinations/{destination.pk}/audience/")
    assert response.status_code == 200
    assert [row["subject_id"] for row in response.json()["results"]] == [str(person.pk)]


def test_a_dpo_reads_a_clear_audience(api, client, roles):
    _person, destination = _clear_destination(api)
    client.force_login(make_staff("DPO"))
    response = client.get(f"/api/v1/destinations/{destination.pk}/audience/")
    assert response.json()["results"][0]["email"] == ["clear.person@example.com"]


def test_the_destinations_own_token_reads_it_clear_and_each_page_is_audited(api, roles):
    person, destination = _clear_destination(api)
    _record(person, "marketing_email", "granted")
    url = f"/api/v1/destinations/{destination.pk}/audience/"
    assert api.get(url).json()["results"][0]["email"] == ["clear.person@example.com"]
    assert api.get(url, {"since": 0}).json()["added"][0]["email"] == ["clear.person@example.com"]
    events = list(AuditEvent.objects.filter(action="activation.audience.list"))
    assert len(events) == 2
    assert all(e.object_id == "page:1" for e in events)
    assert all(f"destination {destination.pk}; identifiers clear" == e.reason for e in events)
    assert not any("clear.person" in f"{e.reason}{e.fields}" for e in events)
    api.get(url, {"since": 10**6})  # nothing new: no event
    assert AuditEvent.objects.filter(action="activation.audience.list").count() == 2


def test_the_audience_export_of_a_clear_destination_needs_the_unmask_permission(api, client, roles):
    _person, destination = _clear_destination(api)
    officer = make_staff(regions=None)
    officer.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_destination", "export_audience"],
            content_type__app_label="activation",
        )
    )
    client.force_login(officer)
    response = client.post(
        "/admin/activation/destination/",
        {"action": "export_audience", "_selected_action": [str(destination.pk)]},
        follow=True,
    )
    assert "clear.person" not in response.content.decode()
    assert "needs the permission to view unmasked data" in response.content.decode()
    assert not AuditEvent.objects.filter(action="activation.audience.export").exists()


def test_a_person_signed_in_reads_the_changes_feed_without_syncing_it(api, client, roles):
    """A GET of `?since=` by a person signed in synced the destination within their regions:
    an auditor's read-only role wrote its added/removed changes, which the destination's next
    push then left out (a withdrawal never pushed). Only the destination's own token syncs."""
    from activation.models import AudienceChange, AudienceMember

    person = make_subject(region="EU", email="push.person@example.com")
    destination = _destination(api, "marketing_email")
    _record(person, "marketing_email", "granted")
    client.force_login(make_staff("Auditor"))
    url = f"/api/v1/destinations/{destination.pk}/audience/"
    read = client.get(url, {"since": 0})
    assert read.status_code == 200
    assert read.json()["added"] == []
    assert not AudienceChange.objects.exists()
    assert not AudienceMember.objects.exists()
    pulled = api.get(url, {"since": 0}).json()  # the destination's own token
    assert [a["subject_id"] for a in pulled["added"]] == [str(person.pk)]
    again = client.get(url, {"since": 0}).json()  # written now: the person signed in reads it
    assert [a["subject_id"] for a in again["added"]] == [str(person.pk)]

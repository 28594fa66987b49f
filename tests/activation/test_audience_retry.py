"""`GET .../audience/?since=<cursor>` is safe to retry: the answer for a cursor is the changes of
one sync, written once; a retried GET with the same cursor (its answer lost on the way) gets
the same changes and writes nothing, even when the audience changed in between. On SQLite and
PostgreSQL (the cursor is the changes' id on both)."""

from __future__ import annotations

import pytest

from access.scoping import Principal
from activation import services
from activation.models import AudienceChange, AudienceMember
from tests.activation.test_audience import _destination, _record
from tests.factories import make_subject

pytestmark = pytest.mark.django_db


def _changes(api, destination, **params) -> dict:
    response = api.get(f"/api/v1/destinations/{destination.pk}/audience/", params)
    assert response.status_code == 200, response.content
    return response.json()


def _ids(rows: list[dict]) -> list[str]:
    return [row["subject_id"] for row in rows]


def test_a_retried_get_with_the_same_cursor_gets_the_same_changes_and_writes_nothing(api):
    ana, ben = make_subject(region="EU"), make_subject(region="EU")
    _record(ana, "marketing_email", "granted")
    destination = _destination(api, "marketing_email")

    first = _changes(api, destination, since=0)
    assert _ids(first["added"]) == [str(ana.pk)]
    written = list(AudienceChange.objects.values_list("pk", "subject_id", "change"))

    # The answer was lost; meanwhile Ana withdrew and Ben agreed.
    _record(ana, "marketing_email", "withdrawn")
    _record(ben, "marketing_email", "granted")
    retried = _changes(api, destination, since=0)

    assert retried == first
    assert list(AudienceChange.objects.values_list("pk", "subject_id", "change")) == written
    assert set(AudienceMember.objects.values_list("subject_id", flat=True)) == {ana.pk}

    # Moving on from the cursor brings what changed since, once.
    following = _changes(api, destination, since=first["cursor"])
    assert _ids(following["added"]) == [str(ben.pk)]
    assert _ids(following["removed"]) == [str(ana.pk)]
    assert _changes(api, destination, since=first["cursor"]) == following
    assert _changes(api, destination, since=following["cursor"])["added"] == []


def test_an_answer_never_holds_a_person_both_added_and_removed(api):
    """Changes of two syncs in one answer (a push's sync, then the poller's) listed one person
    under "added" and "removed", in no order a client could tell apart."""
    ana = make_subject(region="EU")
    destination = _destination(api, "marketing_email")
    who = Principal(user=destination.token.user, token=destination.token)
    _record(ana, "marketing_email", "granted")
    services.audience_sync(who=who, destination=destination)  # as a push does
    _record(ana, "marketing_email", "withdrawn")
    services.audience_sync(who=who, destination=destination)

    first = _changes(api, destination, since=0)
    assert (_ids(first["added"]), first["removed"]) == ([str(ana.pk)], [])
    second = _changes(api, destination, since=first["cursor"])
    assert (second["added"], _ids(second["removed"])) == ([], [str(ana.pk)])


def test_a_page_cut_by_the_limit_is_retried_and_continued_within_its_sync(api):
    people = [make_subject(region="EU") for _ in range(3)]
    for person in people:
        _record(person, "marketing_email", "granted")
    destination = _destination(api, "marketing_email")

    page = _changes(api, destination, since=0, limit=2)
    late = make_subject(region="EU")
    _record(late, "marketing_email", "granted")

    assert _changes(api, destination, since=0, limit=2) == page
    rest = _changes(api, destination, since=page["cursor"], limit=2)
    assert set(_ids(page["added"]) + _ids(rest["added"])) == {str(p.pk) for p in people}
    assert _ids(_changes(api, destination, since=rest["cursor"])["added"]) == [str(late.pk)]

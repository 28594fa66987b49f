"""Django's own admin machinery, beside the pages our admins name: the autocomplete endpoint,
the history page and its log entries, "view on site", facet counts and waiting messages see
what the scoped admins see, and no search by personal data or secret goes into a URL or a
cookie."""

from __future__ import annotations

import uuid

import pytest

from access.roles import PRIVACY_OFFICER, SUPPORT_AGENT
from audit.actors import Actor
from dsar import services as dsar_services
from tests.factories import make_staff, make_subject, signed_in

pytestmark = pytest.mark.django_db

# A foreign key pointing at each admin searched by personal data (PrivateSearchMixin): the
# autocomplete endpoint searches the admin the field points at.
AUTOCOMPLETE_TO = {
    "subject": {"app_label": "dsar", "model_name": "legalhold", "field_name": "subject"},
    "request": {"app_label": "dsar", "model_name": "timelineentry", "field_name": "request"},
    "consent record": {
        "app_label": "consent",
        "model_name": "currentconsent",
        "field_name": "record",
    },
}


@pytest.mark.parametrize("role", [PRIVACY_OFFICER, SUPPORT_AGENT])
@pytest.mark.parametrize("target", ["subject", "request"])
def test_the_admin_autocomplete_does_not_search_by_an_email_in_the_url(roles, role, target):
    """`/admin/autocomplete/?term=` ran the subject and request admins' search (exact e-mail,
    phone, customer id) by GET: the address in the URL (request log, history, Referer), no
    audit event, and an answer telling whether that person is known. Those admins search by
    POST only (PrivateSearchMixin); their autocomplete answers 403."""
    subject = make_subject(region="EU", email="jane.autocomplete@example.com")
    dsar_services.request_create(
        kind="access",
        channel="api",
        actor=Actor.system("tests"),
        subject=subject,
        email="jane.autocomplete@example.com",
        verification="service",
    )
    client = signed_in(make_staff(role, regions=["EU"]))
    r = client.get(
        "/admin/autocomplete/",
        {**AUTOCOMPLETE_TO[target], "term": "jane.autocomplete@example.com"},
    )
    assert r.status_code == 403
    assert str(subject.pk) not in r.content.decode()


def test_the_admin_autocomplete_of_the_consent_ledger_answers_403(roles):
    """The ledger is searched by visitor id (an online identifier) by POST only, as well."""
    client = signed_in(make_staff(PRIVACY_OFFICER, regions=["EU"]))
    r = client.get("/admin/autocomplete/", {**AUTOCOMPLETE_TO["consent record"], "term": "v-1"})
    assert r.status_code == 403


def test_the_admin_autocomplete_still_serves_an_admin_searched_by_other_values(roles):
    """The data map's systems are searched by name: not personal, served as Django does."""
    from profiles.models import System

    System.objects.create(name="Autocomplete CRM", kind="source")
    client = signed_in(make_staff(PRIVACY_OFFICER, regions=["EU"]))
    r = client.get(
        "/admin/autocomplete/",
        {
            "app_label": "profiles",
            "model_name": "identifier",
            "field_name": "source",
            "term": "Auto",
        },
    )
    assert r.status_code == 200
    assert [row["text"] for row in r.json()["results"]] == ["Autocomplete CRM"]


def test_a_secret_shown_once_never_travels_in_a_cookie(roles):
    """A message waiting for the next page (the token shown once after the redirect of the add
    form) was kept by Django's default storage in a `messages` cookie: signed, not encrypted,
    so the raw token was sent back by the browser and readable by whatever sees the headers.
    Messages wait on the server (the session) instead."""
    from access.roles import DPO

    account = make_staff("Service account", regions=None, is_staff=False)
    client = signed_in(make_staff(DPO))
    r = client.post(
        "/admin/access/apitoken/add/",
        {"user": account.pk, "name": "crm", "scopes": ["profiles:read"], "all_regions": "on"},
    )
    assert r.status_code == 302, r.content
    assert "messages" not in r.cookies
    shown = [str(m) for m in client.get(r["Location"]).context["messages"]]
    assert any(m.startswith("Copy this token now") for m in shown)


def _body(response) -> str:
    return response.content.decode()


def test_the_history_page_of_a_subject_outside_the_officers_regions_is_a_404_as_a_missing_one(
    roles,
):
    client = signed_in(make_staff(PRIVACY_OFFICER, regions=["EU"]))
    outside = make_subject(region="US-CA")
    r_outside = client.get(f"/admin/profiles/subject/{outside.pk}/history/")
    r_missing = client.get(f"/admin/profiles/subject/{uuid.uuid4()}/history/")
    assert r_outside.status_code == r_missing.status_code == 404
    assert _body(r_outside) == _body(r_missing)
    inside = make_subject(region="EU")
    assert client.get(f"/admin/profiles/subject/{inside.pk}/history/").status_code == 200


def test_view_on_site_answers_the_same_for_a_subject_in_scope_out_of_scope_and_missing(roles):
    """`/admin/r/<content type>/<id>/` looks the row up in the whole table; no model of
    ours has a public URL, so every answer is the same 404, telling nothing."""
    from django.contrib.contenttypes.models import ContentType

    from profiles.models import Subject

    client = signed_in(make_staff(PRIVACY_OFFICER, regions=["EU"]))
    ct = ContentType.objects.get_for_model(Subject).pk
    ids = [make_subject(region="EU").pk, make_subject(region="US-CA").pk, uuid.uuid4()]
    answers = [client.get(f"/admin/r/{ct}/{pk}/") for pk in ids]
    assert {r.status_code for r in answers} == {404}
    assert len({_body(r) for r in answers}) == 1


def test_an_admin_save_logs_no_personal_data_and_its_history_stays_in_its_region(roles):
    """Django writes a LogEntry (the history page, the home page's "Recent actions") on every
    admin save with the object's __str__: a legal hold names its subject by id only, and an
    officer of another region gets the 404 of a missing hold for its history."""
    from django.contrib.admin.models import LogEntry

    from dsar.models import LegalHold

    subject = make_subject(region="EU", email="held.person@example.com", name="Held Person")
    officer = make_staff(PRIVACY_OFFICER, regions=["EU"])
    client = signed_in(officer)
    r = client.post("/admin/dsar/legalhold/add/", {"subject": str(subject.pk), "reason": "case 7"})
    assert r.status_code == 302, r.content
    hold = LegalHold.objects.get(subject=subject)
    entry = LogEntry.objects.get(object_id=str(hold.pk))
    logged = f"{entry.object_repr} {entry.change_message}"
    assert "held.person" not in logged
    assert "Held Person" not in logged
    assert "Held Person" not in _body(client.get("/admin/"))  # recent actions
    other = signed_in(make_staff(PRIVACY_OFFICER, regions=["US-CA"]))
    r_other = other.get(f"/admin/dsar/legalhold/{hold.pk}/history/")
    r_missing = other.get(f"/admin/dsar/legalhold/{hold.pk + 1000}/history/")
    assert r_other.status_code == r_missing.status_code == 404
    assert str(subject.pk) not in _body(other.get("/admin/"))  # only their own actions
    assert client.get(f"/admin/dsar/legalhold/{hold.pk}/history/").status_code == 200


def test_the_changelist_facets_count_only_the_officers_regions(roles):
    """`?_facets=1` (Django 5) counts each filter choice: over the scoped rows only."""
    make_subject(region="EU")
    for _ in range(3):
        make_subject(region="US-CA")
    client = signed_in(make_staff(PRIVACY_OFFICER, regions=["EU"]))
    page = _body(client.get("/admin/profiles/subject/?_facets=1"))
    assert "EU (1)" in page
    assert "Active (1)" in page
    assert "US-CA" not in page

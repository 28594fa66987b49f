"""Django's own admin pages, beside the ones our admins name: the autocomplete endpoint, the
history page, "view on site" and the delete pages see what the scoped admins see, and no
search by personal data goes into a URL."""

from __future__ import annotations

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

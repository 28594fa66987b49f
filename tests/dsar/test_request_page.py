"""The admin's request page: what an officer needs to decide (matched subject, requester's
contact and message, what approval will do), masked by role and audited when shown in clear;
decision forms a browser can submit; manual tasks with their instructions; readable results."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from django.core import mail

from audit.actors import Actor
from audit.models import AuditEvent
from consent.models import ConsentProperty
from dsar import services
from dsar.models import DataSubjectRequest, RetentionException, SystemConnector, SystemTask
from profiles.models import System
from tests.dsar.helpers import drive
from tests.factories import make_staff, make_subject

SYSTEM = Actor.system("crm")


class _FormNesting(HTMLParser):
    """Records every <form> opened while another is still open (browsers drop those)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.nested: list[dict] = []

    def handle_starttag(self, tag, attrs):
        if tag == "form":
            if self.depth:
                self.nested.append(dict(attrs))
            self.depth += 1

    def handle_endtag(self, tag):
        if tag == "form":
            self.depth -= 1


def _public_erasure(api, email: str, description: str) -> DataSubjectRequest:
    prop = ConsentProperty.objects.create(name="Shop", publishable_key="pk_page")
    api.credentials(HTTP_X_CUSTODIA_KEY=prop.publishable_key)
    r = api.post(
        "/api/v1/dsar/intake/",
        {
            "kind": "erasure",
            "email": email,
            "region": "EU",
            "details": {"description": description},
        },
        format="json",
    )
    assert r.status_code == 202, r.content
    code = re.search(r"code: (\d{6})", mail.outbox[-1].body)[1]
    r = api.post(
        "/api/v1/dsar/intake/confirm/",
        {"reference": r.json()["reference"], "code": code},
        format="json",
    )
    assert r.status_code == 200, r.content
    return DataSubjectRequest.objects.get(reference=r.json()["reference"])


def _page(client, dsr) -> str:
    return client.get(f"/admin/dsar/datasubjectrequest/{dsr.pk}/change/").content.decode()


def test_no_decision_form_is_nested_in_the_admins_change_form(client):
    subject = make_subject(region="EU")
    dsr, _ = services.request_create(
        kind="erasure", channel="api", actor=SYSTEM, subject=subject, verification="service"
    )
    client.force_login(make_staff("Privacy officer", regions=["EU"]))
    parser = _FormNesting()
    parser.feed(_page(client, dsr))
    assert 'value="approve"' in _page(client, dsr)
    assert parser.nested == []


def test_an_officer_sees_whom_a_request_matches_who_asks_and_what_approval_does(api, client):
    person = make_subject(region="EU", email="erin@example.com", name="Erin", events=2)
    connector = SystemConnector.objects.create(
        system=System.objects.create(name="CRM"), mode="manual", instructions="Delete it."
    )
    RetentionException.objects.create(
        event_prefix="page_", reason="Tax law: invoices kept 10 years", keep_days=3650
    )
    dsr = _public_erasure(api, "erin@example.com", "Please close my account.")
    assert dsr.status == "awaiting_approval"
    assert dsr.subject_id is None  # the pipeline has not located anybody yet
    officer = make_staff("Privacy officer", regions=["EU"])
    client.force_login(officer)

    page = _page(client, dsr)
    assert f'href="/admin/profiles/subject/{person.pk}/change/"' in page
    assert "erin@example.com" in page
    assert "Please close my account." in page
    assert "What approving will do" in page
    assert "1 identifier, 1 attribute and 2 events are deleted" in page
    assert "Keeps the consent history" in page
    assert "Keeps 2 page_ records, restricted, for 10 years" in page
    assert f"Notifies 1 connected system: {connector.system.name}" in page
    # The clear contact and message were a read of personal data: audited, without values.
    read = AuditEvent.objects.get(action="dsar.request.read")
    assert read.actor_label == officer.username
    assert set(read.fields) == {"contact_email", "description"}
    assert "erin" not in str(AuditEvent.objects.values())


def test_a_support_agent_sees_the_requester_masked_and_no_clear_read_is_audited(api, client):
    make_subject(region="EU", email="erin@example.com")
    dsr = _public_erasure(api, "erin@example.com", "Please close my account.")
    client.force_login(make_staff("Support agent", regions=["EU"]))
    page = _page(client, dsr)
    assert "e***@e***.com" in page
    assert "erin@example.com" not in page
    assert "Please close my account." not in page
    assert not AuditEvent.objects.filter(action="dsar.request.read").exists()


def test_a_subject_outside_the_officers_regions_is_not_named(api, client):
    elsewhere = make_subject(region="US-CA", email="erin@example.com")
    dsr = _public_erasure(api, "erin@example.com", "")
    client.force_login(make_staff("Privacy officer", regions=["EU"]))
    page = _page(client, dsr)
    assert str(elsewhere.pk) not in page
    assert "No subject in your regions matches" in page


def test_a_manual_task_shows_what_to_do_and_a_button_to_mark_it_done(client):
    subject = make_subject(region="EU")
    dsr, _ = services.request_create(
        kind="access", channel="api", actor=SYSTEM, subject=subject, verification="service"
    )
    connector = SystemConnector.objects.create(
        system=System.objects.create(name="CRM"),
        mode="manual",
        instructions="Export the contact; paste the ticket number.",
    )
    SystemTask.objects.create(request=dsr, connector=connector, status="sent")
    client.force_login(make_staff("Privacy officer", regions=["EU"]))
    page = _page(client, dsr)
    assert "Export the contact; paste the ticket number." in page
    assert 'value="Mark CRM done"' in page


def test_results_read_as_sentences_and_the_deadline_as_words(client):
    subject = make_subject(region="EU")
    dsr, _ = services.request_create(
        kind="access", channel="api", actor=SYSTEM, subject=subject, verification="service"
    )
    drive(dsr)
    client.force_login(make_staff("Privacy officer", regions=["EU"]))
    page = _page(client, dsr)
    assert "subject found" in page
    assert "{&#x27;" not in page
    assert "{'" not in page
    open_one, _ = services.request_create(
        kind="erasure",
        channel="api",
        actor=SYSTEM,
        subject=make_subject(region="EU"),
        verification="service",
    )
    page = _page(client, open_one)
    assert "An erasure request (GDPR Art. 17)" in page
    assert "On track" in page
    assert "Ontrack" not in page


def test_a_retention_exception_is_listed_in_years(admin_client):
    RetentionException.objects.create(event_prefix="order.", reason="Tax law", keep_days=3650)
    page = admin_client.get("/admin/dsar/retentionexception/").content.decode()
    assert "10 years" in page
    assert "3650" not in page
    assert "3,650" not in page


def test_a_request_closed_while_its_page_loads_shows_its_contact_destroyed_not_an_error(api):
    """The pipeline may close a request and destroy its key between the page loading the request
    and reading its contact: the page says the contact is gone instead of failing."""
    from dsar.record import request_purge_contact
    from dsar.selectors import request_brief

    make_subject(region="EU", email="rita@example.com", events=1)
    dsr = _public_erasure(api, "rita@example.com", "Close my account.")
    officer = make_staff("Privacy officer", regions=["EU"])
    loaded = DataSubjectRequest.objects.get(pk=dsr.pk)  # as the page loaded it, still open
    request_purge_contact(request=DataSubjectRequest.objects.get(pk=dsr.pk))

    brief = request_brief(who=officer, request=loaded, actor=Actor.for_user(officer))
    assert "rita@example.com" not in str(brief)
    assert "Close my account." not in str(brief)

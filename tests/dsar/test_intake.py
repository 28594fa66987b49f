"""Intake: privacy center (code mailed to the address), API (service accounts), admin (officer's
attestation); deadlines per regime; extension once; unverified requests expire."""

import datetime as dt
import re

import pytest
from django.core import mail
from django.utils import timezone

from audit.actors import Actor
from consent.models import ConsentProperty, Jurisdiction
from core.errors import ConflictError, DomainError
from dsar import deadlines, engine, services
from dsar.models import DataSubjectRequest
from tests.factories import make_staff, make_subject, make_token
from tests.faults import free_port

Status = DataSubjectRequest.Status
OFFICER = Actor.system("officer")


@pytest.fixture
def prop(db):
    return ConsentProperty.objects.create(
        name="Shop", publishable_key="pk_test_shop", allowed_origins=["https://shop.example"]
    )


def _code() -> str:
    return re.search(r"code: (\d{6})", mail.outbox[-1].body).group(1)


def test_public_intake_mails_a_code_and_confirming_it_starts_the_request(api, prop):
    api.credentials(HTTP_X_CUSTODIA_KEY=prop.publishable_key)
    response = api.post(
        "/api/v1/dsar/intake/",
        {"kind": "access", "email": "ana@example.com", "region": "EU"},
        format="json",
    )
    assert response.status_code == 202, response.content
    reference = response.json()["reference"]
    assert mail.outbox[-1].to == ["ana@example.com"]
    assert reference in mail.outbox[-1].body
    dsr = DataSubjectRequest.objects.get(reference=reference)
    assert dsr.status == Status.VERIFYING
    assert "ana@example.com" not in str(DataSubjectRequest.objects.filter(pk=dsr.pk).values())

    confirmed = api.post(
        "/api/v1/dsar/intake/confirm/", {"reference": reference, "code": _code()}, format="json"
    )
    assert confirmed.status_code == 200, confirmed.content
    dsr.refresh_from_db()
    assert dsr.status == Status.IN_PROGRESS
    assert dsr.verification == "email_code"
    assert [s.name for s in dsr.steps.all()] == engine.PLANS["access"]


def test_a_wrong_code_is_refused_and_five_wrong_codes_lock_the_request(api, prop):
    api.credentials(HTTP_X_CUSTODIA_KEY=prop.publishable_key)
    reference = api.post(
        "/api/v1/dsar/intake/",
        {"kind": "erasure", "email": "bo@example.com", "region": "EU"},
        format="json",
    ).json()["reference"]
    code = _code()
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        r = api.post(
            "/api/v1/dsar/intake/confirm/", {"reference": reference, "code": wrong}, format="json"
        )
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "invalid_code"
    r = api.post(
        "/api/v1/dsar/intake/confirm/", {"reference": reference, "code": code}, format="json"
    )
    assert r.status_code == 400  # locked, even with the right code
    assert DataSubjectRequest.objects.get(reference=reference).status == Status.VERIFYING


def test_another_propertys_key_cannot_confirm_a_request_nor_use_up_its_attempts(api, prop):
    """A request taken by one website's privacy center is confirmed with that website's key
    only: another key gets the answer of an unknown reference (400 invalid_code), uses no
    attempt and writes no audit row naming the other website."""
    from audit.models import AuditEvent

    other = ConsentProperty.objects.create(
        name="Other shop", publishable_key="pk_test_other", allowed_origins=["https://o.example"]
    )
    api.credentials(HTTP_X_CUSTODIA_KEY=prop.publishable_key)
    reference = api.post(
        "/api/v1/dsar/intake/",
        {"kind": "access", "email": "cy@example.com", "region": "EU"},
        format="json",
    ).json()["reference"]
    code = _code()
    audited = AuditEvent.objects.count()
    api.credentials(HTTP_X_CUSTODIA_KEY=other.publishable_key)
    for attempt in ("000000", "111111", "222222", "333333", "444444", "555555", code):
        r = api.post(
            "/api/v1/dsar/intake/confirm/", {"reference": reference, "code": attempt}, format="json"
        )
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "invalid_code"
        assert "another website" in r.json()["error"]["message"]
    dsr = DataSubjectRequest.objects.get(reference=reference)
    assert (dsr.status, dsr.verification_attempts) == (Status.VERIFYING, 0)
    assert AuditEvent.objects.count() == audited
    api.credentials(HTTP_X_CUSTODIA_KEY=prop.publishable_key)
    r = api.post(
        "/api/v1/dsar/intake/confirm/", {"reference": reference, "code": code}, format="json"
    )
    assert r.status_code == 200, r.content
    assert "Other shop" not in str(AuditEvent.objects.values_list("actor_label", flat=True))


def test_unknown_reference_gets_the_same_answer_as_a_wrong_code(api, prop):
    api.credentials(HTTP_X_CUSTODIA_KEY=prop.publishable_key)
    r = api.post(
        "/api/v1/dsar/intake/confirm/",
        {"reference": "DSR-ABCDEFGHJK", "code": "123456"},
        format="json",
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_code"


def test_intake_without_a_property_key_or_with_bad_input_is_a_clear_4xx(api, prop):
    r = api.post("/api/v1/dsar/intake/", {"kind": "access"}, format="json")
    assert r.status_code == 401
    api.credentials(HTTP_X_CUSTODIA_KEY=prop.publishable_key)
    r = api.post("/api/v1/dsar/intake/", {"kind": "sell-me", "email": "x"}, format="json")
    assert r.status_code == 400
    assert set(r.json()["error"]["fields"]) == {"kind", "email"}
    # A region no regime or regional officer knows: refused, no request opened.
    for region in ("Mars", "E U", "eu-", "XX"):
        r = api.post(
            "/api/v1/dsar/intake/",
            {"kind": "access", "email": "ana@example.com", "region": region},
            format="json",
        )
        assert r.status_code == 400, region
        assert r.json()["error"]["fields"] == {"region": ["unknown"]}
    assert not DataSubjectRequest.objects.exists()


def test_unverified_requests_expire_and_lose_their_contact_address(prop):
    dsr = services.intake_public(
        kind="access",
        email="late@example.com",
        region="EU",
        details={},
        actor=OFFICER,
        confirm_url="http://hub/privacy-center/?key=k",
        property_id=prop.pk,
    )
    DataSubjectRequest.objects.filter(pk=dsr.pk).update(
        verification_expires_at=timezone.now() - dt.timedelta(minutes=1)
    )
    assert services.requests_expire_unverified() == 1
    dsr.refresh_from_db()
    assert dsr.status == Status.EXPIRED
    assert dsr.purged_at is not None
    fresh = DataSubjectRequest.objects.get(pk=dsr.pk)
    with pytest.raises(Exception, match="data key"):
        _ = fresh.contact_email


@pytest.mark.parametrize(
    ("region", "received", "due"),
    [
        (
            "EU",
            dt.datetime(2026, 1, 31, 9, tzinfo=dt.UTC),
            dt.datetime(2026, 2, 28, 9, tzinfo=dt.UTC),
        ),
        ("US-CA", dt.datetime(2026, 3, 1, tzinfo=dt.UTC), dt.datetime(2026, 4, 15, tzinfo=dt.UTC)),
        ("BR", dt.datetime(2026, 3, 1, tzinfo=dt.UTC), dt.datetime(2026, 3, 16, tzinfo=dt.UTC)),
        ("CA", dt.datetime(2026, 3, 1, tzinfo=dt.UTC), dt.datetime(2026, 3, 31, tzinfo=dt.UTC)),
    ],
)
def test_deadline_follows_the_regime_of_the_region(region, received, due):
    from consent.selectors import jurisdiction_for_region

    assert deadlines.due_date(jurisdiction_for_region(region), received) == due


def test_gdpr_extension_adds_two_months_once_with_a_reason_and_tells_the_person(
    django_capture_on_commit_callbacks,
):
    subject = make_subject(region="EU", email="ext@example.com")
    dsr, _ = services.request_create(
        kind="access",
        channel="admin",
        actor=OFFICER,
        subject=subject,
        email="ext@example.com",
        verification="officer",
    )
    due = dsr.due_at
    with pytest.raises(DomainError):
        services.request_extend(request=dsr, actor=OFFICER, reason=" ")
    with django_capture_on_commit_callbacks(execute=True):
        services.request_extend(request=dsr, actor=OFFICER, reason="Numerous systems involved")
    dsr.refresh_from_db()
    assert dsr.due_at == due + deadlines.extension_period(Jurisdiction.objects.get(code="GDPR"))
    assert "Numerous systems involved" in mail.outbox[-1].body
    with pytest.raises(ConflictError):
        services.request_extend(request=dsr, actor=OFFICER, reason="again")


def test_lgpd_allows_no_extension():
    subject = make_subject(region="BR")
    dsr, _ = services.request_create(
        kind="access", channel="admin", actor=OFFICER, subject=subject, verification="officer"
    )
    with pytest.raises(ConflictError, match="no extension"):
        services.request_extend(request=dsr, actor=OFFICER, reason="busy")


def test_erasure_waits_for_an_officers_approval(api):
    subject = make_subject(region="EU")
    _, raw = make_token(["dsar:manage", "dsar:read"])
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    r = api.post(
        "/api/v1/dsar/requests/",
        {"kind": "erasure", "subject_id": str(subject.pk)},
        format="json",
    )
    assert r.status_code == 201, r.content
    assert r.json()["status"] == "awaiting_approval"
    assert r.json()["steps"] == []
    approved = api.post(f"/api/v1/dsar/requests/{r.json()['id']}/approve/", {}, format="json")
    assert approved.status_code == 200
    assert approved.json()["status"] == "in_progress"
    again = api.post(f"/api/v1/dsar/requests/{r.json()['id']}/approve/", {}, format="json")
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("corrections", "problem"),
    [
        ({"city": None}, "invalid value"),
        ({"city": {"name": "Lyon"}}, "invalid value"),
        ({"city": ["Lyon"]}, "invalid value"),
        ({"City": "Lyon"}, "invalid key"),
        ({"c" * 65: "Lyon"}, "invalid key"),
    ],
)
def test_a_correction_that_cannot_be_written_is_refused_at_intake(api, corrections, problem):
    """Accepted, it failed the request's rectify step on every attempt (a null value broke
    the attribute's NOT NULL, a key that is no slug was refused there), the request stuck in
    progress; an object was written as its Python text."""
    subject = make_subject(region="EU", city="Paris")
    _, raw = make_token(["dsar:manage", "dsar:read"])
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    r = api.post(
        "/api/v1/dsar/requests/",
        {
            "kind": "rectification",
            "subject_id": str(subject.pk),
            "details": {"corrections": corrections},
        },
        format="json",
    )
    assert r.status_code == 400, r.content
    assert r.json()["error"]["fields"] == {"details.corrections": [problem]}
    assert "Lyon" not in r.content.decode()
    assert not DataSubjectRequest.objects.exists()


def test_a_denial_needs_a_reason_and_closes_the_request(api):
    subject = make_subject(region="EU")
    dsr, _ = services.request_create(
        kind="erasure", channel="api", actor=OFFICER, subject=subject, verification="service"
    )
    with pytest.raises(DomainError):
        services.request_deny(request=dsr, actor=OFFICER, reason="")
    services.request_deny(request=dsr, actor=OFFICER, reason="Manifestly unfounded (Art. 12(5))")
    dsr.refresh_from_db()
    assert dsr.status == Status.REJECTED
    assert dsr.outcome.startswith("Manifestly unfounded")


def test_a_token_without_dsar_scope_is_refused(api):
    _, raw = make_token(["profiles:read"])
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/dsar/requests/").status_code == 403


def test_admin_intake_records_the_officers_attestation(client):
    officer = make_staff("Privacy officer", regions=["EU"])
    subject = make_subject(region="EU", email="phone-caller@example.com")
    client.force_login(officer)
    r = client.post(
        "/admin/dsar/datasubjectrequest/add/",
        {"kind": "access", "subject": "phone-caller@example.com", "attestation": "on"},
    )
    assert r.status_code == 302, r.content.decode()[-2000:]
    dsr = DataSubjectRequest.objects.get(subject=subject)
    assert dsr.verification == "officer"
    assert dsr.channel == "admin"
    assert dsr.created_by == officer.username


def test_admin_intake_refuses_a_subject_outside_the_officers_regions(client):
    officer = make_staff("Privacy officer", regions=["EU"])
    make_subject(region="US-CA", email="far@example.com")
    client.force_login(officer)
    r = client.post(
        "/admin/dsar/datasubjectrequest/add/",
        {"kind": "access", "subject": "far@example.com", "attestation": "on"},
    )
    assert r.status_code == 200
    assert not DataSubjectRequest.objects.exists()


def test_a_letter_received_last_week_is_due_a_month_after_it_arrived():
    subject = make_subject(region="EU")
    received = timezone.now() - dt.timedelta(days=7)
    dsr, _ = services.request_create(
        kind="access",
        channel="admin",
        actor=OFFICER,
        subject=subject,
        verification="officer",
        received_at=received,
    )
    assert dsr.due_at == deadlines.due_date(Jurisdiction.objects.get(code="GDPR"), received)
    with pytest.raises(DomainError, match="future"):
        services.request_create(
            kind="access",
            channel="admin",
            actor=OFFICER,
            subject=subject,
            verification="officer",
            received_at=timezone.now() + dt.timedelta(days=1),
        )


def test_a_reference_confirmed_already_reveals_nothing_more(api, prop):
    api.credentials(HTTP_X_CUSTODIA_KEY=prop.publishable_key)
    reference = api.post(
        "/api/v1/dsar/intake/",
        {"kind": "access", "email": "twice@example.com", "region": "EU"},
        format="json",
    ).json()["reference"]
    body = {"reference": reference, "code": _code()}
    assert api.post("/api/v1/dsar/intake/confirm/", body, format="json").status_code == 200
    again = api.post("/api/v1/dsar/intake/confirm/", body, format="json")
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "invalid_code"


def test_public_intake_with_the_mail_server_down_answers_503_and_leaves_no_open_request(
    api, prop, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens there
    api.credentials(HTTP_X_CUSTODIA_KEY=prop.publishable_key)

    response = api.post(
        "/api/v1/dsar/intake/",
        {"kind": "erasure", "email": "down@example.com", "region": "EU"},
        format="json",
    )

    assert response.status_code == 503, response.content
    assert response.json()["error"]["code"] == "mail_unavailable"
    dsr = DataSubjectRequest.objects.get()
    assert dsr.status == Status.EXPIRED  # not left on the desk awaiting a code never sent
    assert dsr.closed_at is not None
    assert dsr.purged_at is not None  # the address is forgotten
    assert "down@example.com" not in response.content.decode()

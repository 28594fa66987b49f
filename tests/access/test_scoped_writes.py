"""Region scope on every write path (issue 13): a caller limited to some regions never reads,
writes, matches or merges a subject of another region, through the API, imports or requests."""

import json

import pytest
from django.test import Client

from access.scoping import actor_for_user
from audit.actors import Actor
from consent.models import ConsentRecord, CurrentConsent, Purpose
from core.errors import NotFoundError
from dsar.models import DataSubjectRequest
from profiles.imports import import_job_run
from profiles.models import Attribute, Identifier, MatchModel, MatchReview, Subject
from profiles.services import (
    RegionNotAllowed,
    match_model_current,
    match_review_decide,
    match_reviews_rescore,
    subject_upsert,
)
from tests.dsar.helpers import drive
from tests.factories import make_review_pair, make_staff, make_subject, make_token

pytestmark = pytest.mark.django_db

US_EMAIL = "maria.lopez@example.com"


@pytest.fixture(autouse=True)
def _setup(roles, regimes):
    """Role permissions, jurisdictions and purposes, as the migrations seed them."""


@pytest.fixture
def californian():
    return make_subject(
        region="US-CA", email=US_EMAIL, phone="+1 415 555 0100", customer_id="CA-1001", name="M L"
    )


def _token_client(api, scopes: list[str], regions: list[str]):
    _, raw = make_token(scopes, regions=regions)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return api


def _attributes(subject: Subject) -> dict[str, str]:
    return {a.key: a.value for a in Attribute.objects.filter(subject=subject)}


def test_eu_token_upserting_a_californian_email_creates_an_eu_subject_and_never_touches_theirs(
    api, californian
):
    """Finding 1: an EU+GB token sends region EU with a US-CA person's e-mail."""
    writer = _token_client(api, ["profiles:write"], ["EU", "GB"])
    before = _attributes(californian)
    response = writer.post(
        "/api/v1/profiles/subjects/upsert/",
        {
            "region": "EU",
            "identifiers": [{"kind": "email", "value": US_EMAIL}],
            "attributes": {"city": "Lyon", "newsletter": "yes"},
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["created"] is True
    assert body["subject_id"] != str(californian.pk)
    assert body["merged"] == []
    assert body["review_items"] == 0
    assert Subject.objects.get(pk=body["subject_id"]).region == "EU"
    assert _attributes(californian) == before
    # The shared identity is proposed to an officer who covers both regions, never merged.
    review = MatchReview.objects.get(subject_id=body["subject_id"])
    assert review.candidate_id == californian.pk
    assert review.status == "pending"


def test_a_known_eu_email_with_a_californian_customer_id_does_not_merge_the_californian(
    api, californian
):
    """Finding 1: the merge that let an EU officer read a US person's e-mail and phone."""
    european = make_subject(region="EU", email="eva.keller@example.de", name="Eva Keller")
    writer = _token_client(api, ["profiles:write"], ["EU", "GB"])
    response = writer.post(
        "/api/v1/profiles/subjects/upsert/",
        {
            "region": "EU",
            "identifiers": [
                {"kind": "email", "value": "eva.keller@example.de"},
                {"kind": "customer_id", "value": "CA-1001"},
            ],
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["merged"] == []
    assert response.json()["review_items"] == 0
    californian.refresh_from_db()
    assert californian.status == Subject.Status.ACTIVE
    assert set(Identifier.objects.filter(subject=californian).values_list("kind", flat=True)) == {
        "email",
        "phone",
        "customer_id",
    }
    officer = Client()
    officer.force_login(make_staff("Privacy officer", regions=["EU", "GB"]))
    profile = officer.get(f"/api/v1/profiles/subjects/{european.pk}/").json()
    shown = json.dumps(profile)
    assert US_EMAIL not in shown
    assert "4155550100" not in shown


def test_a_batch_refuses_only_the_record_outside_the_token_regions(api, californian):
    writer = _token_client(api, ["profiles:write"], ["EU"])
    response = writer.post(
        "/api/v1/profiles/subjects/batch/",
        {
            "idempotency_key": "scope-1",
            "records": [
                {"region": "US-CA", "identifiers": [{"kind": "email", "value": US_EMAIL}]},
                {"region": "EU", "identifiers": [{"kind": "email", "value": "new@example.eu"}]},
            ],
        },
        format="json",
    )
    body = response.json()
    assert body["succeeded"] == 1
    assert body["failed"] == 1
    assert body["results"][0]["error"]["code"] == "region_not_allowed"
    assert body["results"][1]["created"] is True


def test_an_eu_token_import_fails_the_californian_lines(api, californian):
    """Finding 2: NDJSON lines for a region outside the importer's scope fail one by one."""
    writer = _token_client(api, ["profiles:write", "profiles:read"], ["EU"])
    lines = [
        {"region": "US-CA", "identifiers": [{"kind": "email", "value": "new.ca@example.com"}]},
        {
            "region": "US-CA",
            "identifiers": [{"kind": "email", "value": US_EMAIL}],
            "attributes": {"city": "Fresno"},
        },
        {"region": "EU", "identifiers": [{"kind": "email", "value": "ok@example.eu"}]},
    ]
    body = "".join(json.dumps(line) + "\n" for line in lines).encode()
    created = writer.post("/api/v1/profiles/imports/", body, content_type="application/x-ndjson")
    assert created.status_code == 202, created.json()
    job = import_job_run(job_id=created.json()["id"])
    assert (job.imported, job.failed) == (1, 2)
    errors = writer.get(f"/api/v1/profiles/imports/{job.pk}/errors/").json()
    rows = errors["results"] if isinstance(errors, dict) else errors
    assert [(e["line"], e["code"]) for e in rows] == [
        (1, "region_not_allowed"),
        (2, "region_not_allowed"),
    ]
    assert not Subject.objects.filter(region="US-CA").exclude(pk=californian.pk).exists()
    assert "city" not in _attributes(californian)


def test_an_eu_only_opt_out_never_touches_the_californian(api, californian):
    """Finding 3: an EU-only caller's opt-out naming a US-CA person's e-mail."""
    sale = Purpose.objects.filter(sale_sharing=True)
    assert sale.exists()
    caller = _token_client(api, ["dsar:manage", "dsar:read"], ["EU"])
    response = caller.post(
        "/api/v1/dsar/requests/",
        {"kind": "opt_out", "email": US_EMAIL, "region": "EU"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    request = DataSubjectRequest.objects.get(reference=response.json()["reference"])
    assert request.scope_regions == ["EU"]
    request = drive(request)
    assert request.subject_id is None
    assert request.region == "EU"
    assert not ConsentRecord.objects.filter(subject=californian).exists()
    assert not CurrentConsent.objects.filter(subject=californian).exists()
    assert caller.get(f"/api/v1/dsar/requests/{request.pk}/").status_code == 200


def test_a_staff_request_finds_its_subject_only_in_its_own_region(californian):
    """The pipeline's matching is bound to the opener's regions and the request's region."""
    from dsar.services import request_create

    european = make_subject(region="EU", email=US_EMAIL)  # same address, another person
    officer = make_staff("Privacy officer", regions=["EU", "US-CA"])
    request, _ = request_create(
        kind="opt_out",
        channel="admin",
        actor=actor_for_user(officer),
        region="EU",
        email=US_EMAIL,
        verification="officer",
    )
    request = drive(request)
    assert request.subject_id == european.pk
    assert request.region == "EU"
    assert CurrentConsent.objects.filter(subject=european).exists()
    assert not CurrentConsent.objects.filter(subject=californian).exists()


def test_a_request_cannot_be_opened_for_a_region_outside_the_caller_scope(api):
    caller = _token_client(api, ["dsar:manage"], ["EU"])
    response = caller.post(
        "/api/v1/dsar/requests/",
        {"kind": "access", "email": "x@example.com", "region": "US-CA"},
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "region_not_allowed"


def test_consent_cannot_be_written_for_a_subject_outside_the_caller_regions(api, californian):
    writer = _token_client(api, ["consent:write"], ["EU"])
    response = writer.post(
        "/api/v1/consent/records/",
        {"subject": str(californian.pk), "purpose": "analytics", "state": "granted"},
        format="json",
    )
    assert response.status_code == 404
    assert not ConsentRecord.objects.filter(subject=californian).exists()


def test_a_cross_region_review_is_decided_only_by_an_officer_covering_both(californian):
    european = make_subject(region="EU", email=US_EMAIL)
    review = MatchReview.objects.get(subject=european, candidate=californian)
    eu_officer = make_staff("Privacy officer", regions=["EU"])
    assert not MatchReview.objects.restrict(eu_officer, "change").filter(pk=review.pk).exists()
    with pytest.raises(NotFoundError):
        match_review_decide(review=review, accept=True, actor=actor_for_user(eu_officer))
    both = make_staff("Privacy officer", regions=["EU", "US-CA"])
    assert MatchReview.objects.restrict(both, "change").filter(pk=review.pk).exists()
    match_review_decide(review=review, accept=True, actor=actor_for_user(both))
    californian.refresh_from_db()
    european.refresh_from_db()
    merged = european if european.status == Subject.Status.MERGED else californian
    survivor = californian if merged is european else european
    assert merged.status == Subject.Status.MERGED
    assert set(Identifier.objects.filter(subject=survivor).values_list("region", flat=True)) == {
        survivor.region
    }


def test_an_actor_built_from_a_request_without_a_scope_writes_nowhere(rf):
    request = rf.post("/")
    request.user = make_staff("DPO", regions=None)
    actor = Actor.from_request(request)
    assert actor.regions == frozenset()
    assert not actor.covers("EU")
    with pytest.raises(RegionNotAllowed):
        subject_upsert(
            record={"region": "EU", "identifiers": [{"kind": "email", "value": "a@example.eu"}]},
            actor=actor,
        )


def test_admin_merge_of_a_cross_region_review_is_refused_to_a_one_region_officer(californian):
    european = make_subject(region="EU", email=US_EMAIL)
    review = MatchReview.objects.get(subject=european, candidate=californian)
    client = Client()
    client.force_login(make_staff("Privacy officer", regions=["EU"]))
    client.post(
        "/admin/profiles/matchreview/",
        {"action": "accept", "_selected_action": [str(review.pk)], "confirmed": "yes"},
    )
    review.refresh_from_db()
    assert review.status == MatchReview.Status.PENDING
    assert Subject.objects.get(pk=californian.pk).status == Subject.Status.ACTIVE


def test_suppression_of_an_erased_identity_stays_global(api):
    from profiles.services import subject_erase

    gone = make_subject(region="US-CA", email="gone@example.com")
    subject_erase(subject_id=gone.pk, actor=Actor.system("tests"))
    writer = _token_client(api, ["profiles:write"], ["EU"])
    response = writer.post(
        "/api/v1/profiles/subjects/upsert/",
        {"region": "EU", "identifiers": [{"kind": "email", "value": "gone@example.com"}]},
        format="json",
    )
    assert response.status_code == 409  # documented in docs/access.md: a legal duty


def test_an_officers_re_scoring_touches_only_the_reviews_of_their_regions():
    """The model's re-estimate button re-scores (and may merge) pending pairs: an EU officer's
    click leaves a Californian pair as it was; beat's system actor re-scores every region."""
    (_, european), (_, californian) = make_review_pair("eu"), make_review_pair("ca", region="US-CA")
    before = MatchReview.objects.get(pk=californian.pk)
    _, params = match_model_current()
    MatchModel.objects.create(version=1, parameters=params.as_json(), evaluation={})
    eu_officer = make_staff("Privacy officer", regions=["EU"])
    counts = match_reviews_rescore(actor=actor_for_user(eu_officer))
    assert counts["rescored"] == 1
    after = MatchReview.objects.get(pk=californian.pk)
    assert (after.status, after.weight, after.model_version) == (
        before.status,
        before.weight,
        before.model_version,
    )
    assert before.model_version != 1
    assert MatchReview.objects.get(pk=european.pk).model_version == 1
    match_reviews_rescore(actor=Actor.system("beat"))
    assert MatchReview.objects.get(pk=californian.pk).model_version == 1

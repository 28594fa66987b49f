"""The admin's bulk actions and workflow buttons, clicked in one Chromium session as an officer
does: the row's checkbox is ticked in the change list, the action picked by its label in the
"Action" dropdown, "Go" clicked (and "Yes, …" on the confirmation page of an action that asks
first). Each test then reads the message the officer sees, the change in the database and the
audit event the action writes."""

from __future__ import annotations

import re
import sqlite3

import pytest
from selenium.webdriver.common.by import By

from access.roles import DPO, PRIVACY_OFFICER
from activation import services as activation_services
from activation.models import InboxMessage, SourceEndpoint
from audit.actors import Actor
from audit.models import AuditAlert, AuditEvent
from audit.services import audit_alert_raise
from consent.models import ConsentProperty
from core.webhooks import encode, sign
from dsar import services as dsar_services
from dsar.models import DataSubjectRequest, LegalHold, SystemConnector
from profiles.models import MatchModel, MatchReview, MergeLineage, Subject, System
from profiles.services import subject_upsert
from stores.connection import store_connection
from stores.demo import demo_people, shop_create
from stores.models import ConnectedStore, StoreDataset
from stores.services import store_discover
from tests.browser import (
    act,
    audited,
    page_messages,
    sign_in,
    submit,
)
from tests.factories import (
    make_match_population,
    make_review_pair,
    make_subject,
    make_token,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("signed_out"),
]

SYSTEM = Actor.system("tests")


def _shown_secret(messages: list[tuple[str, str]], what: str) -> str:
    """The secret in the shown-once warning about `what`."""
    for level, text in messages:
        if text.startswith(f"{what}, copy it now, it will not be shown again: "):
            assert level == "warning"
            return text.rsplit(": ", 1)[1]
    raise AssertionError(f"no secret shown for {what}: {messages}")


# --- Identity resolution: the review queue, splits, the model --------------------------------


def test_an_officer_accepts_one_match_and_rejects_another(hub, browser):
    ana, merge = make_review_pair("ana")
    liam, keep = make_review_pair(
        "liam", name="Liam Roy", other_name="Liam Roi", born="1990-01-02", other_born="1990-02-01"
    )
    officer = sign_in(browser, hub, PRIVACY_OFFICER, regions=["EU"])

    shown = act(
        browser,
        hub,
        "profiles/matchreview",
        [merge],
        "Accept: merge the two subjects",
        confirm="Yes, merge the subjects",
    )
    assert shown == [("success", "1 match(es) merged.")]
    merge.refresh_from_db()
    assert (merge.status, merge.decided_by) == (MatchReview.Status.ACCEPTED, officer.username)
    newer = Subject.objects.get(pk=merge.subject_id)
    assert (newer.status, newer.merged_into_id) == (Subject.Status.MERGED, ana.pk)
    lineage = MergeLineage.objects.get(survivor=ana)
    assert (lineage.method, lineage.merged_by) == ("review", officer.username)
    audited("profiles.match.accept", officer, object_id=str(merge.pk))

    shown = act(
        browser,
        hub,
        "profiles/matchreview",
        [keep],
        "Reject: they are different people",
        confirm="Yes, reject the matches",
    )
    assert shown == [("success", "1 match(es) rejected.")]
    keep.refresh_from_db()
    assert (keep.status, keep.decided_by) == (MatchReview.Status.REJECTED, officer.username)
    assert Subject.objects.get(pk=keep.subject_id).status == Subject.Status.ACTIVE
    assert not MergeLineage.objects.filter(survivor=liam).exists()
    audited("profiles.match.reject", officer, object_id=str(keep.pk))
    assert not MatchReview.objects.filter(status="pending").exists()


def test_an_officer_splits_a_wrong_merge(hub, browser):
    older = make_subject(
        email="w1@example.com", name="Sam Lee", birth_date="1990-05-05", postcode="1000"
    )
    subject_upsert(
        record={
            "region": "EU",
            "identifiers": [{"kind": "email", "value": "w2@example.com"}],
            "attributes": {"name": "Sam Lee", "birth_date": "1990-05-05", "postcode": "1000"},
        },
        actor=SYSTEM,
    )
    lineage = MergeLineage.objects.get(survivor=older)  # the model merged them on its own
    officer = sign_in(browser, hub, PRIVACY_OFFICER, regions=["EU"])

    shown = act(
        browser,
        hub,
        "profiles/mergelineage",
        [lineage],
        "Split: the merge was wrong",
        confirm="Yes, split the merges",
    )
    assert shown == [("success", "1 merge(s) split.")]
    lineage.refresh_from_db()
    assert lineage.split_at is not None
    assert lineage.split_by == officer.username
    restored = Subject.objects.get(pk=lineage.merged_subject_id)
    assert (restored.status, restored.merged_into_id) == (Subject.Status.ACTIVE, None)
    assert restored.identifiers.get().value == "w2@example.com"
    label = MatchReview.objects.get(subject=restored, candidate=older)
    assert label.status == MatchReview.Status.REJECTED  # the model learns from the mistake
    for subject in (older, restored):
        audited("profiles.subject.split", officer, object_id=str(subject.pk))


def _re_estimate(browser, hub) -> list[tuple[str, str]]:
    browser.get(f"{hub.url}/admin/profiles/matchmodel/")
    submit(browser, "#content .object-tools form button[type=submit]")
    assert browser.current_url.endswith("/admin/profiles/matchmodel/")
    return page_messages(browser)


def test_re_estimating_the_model_warns_on_too_little_data_and_estimates_on_enough(hub, browser):
    officer = sign_in(browser, hub, PRIVACY_OFFICER, regions=["EU"])
    browser.get(f"{hub.url}/admin/profiles/matchmodel/")
    button = browser.find_element(By.CSS_SELECTOR, "#content .object-tools button")
    assert button.text == "Re-estimate now (data + officers' decisions)"

    # A fresh hub: nothing to learn from.
    [(level, text)] = _re_estimate(browser, hub)
    assert level == "warning"
    assert text.startswith("Not enough data to estimate a model: 0 compared pair(s)")
    assert text.endswith("model v0 stays in force.")

    # One probable pair, labelled by nobody: still too little.
    _, review = make_review_pair("ana")
    [(level, text)] = _re_estimate(browser, hub)
    assert level == "warning"
    assert "Not enough data to estimate a model" in text
    assert "at least 20 pairs needed" in text
    assert not MatchModel.objects.exists()

    # A population to learn from: a new version, and the pending review re-scored with it.
    make_match_population()
    [(level, text)] = _re_estimate(browser, hub)
    assert level == "success", text
    assert re.fullmatch(
        r"Model v1 estimated; 1 pending review\(s\) re-scored, \d merged, \d dismissed\.", text
    ), text
    model = MatchModel.objects.get()
    assert (model.version, model.created_by) == (1, officer.username)
    [event] = AuditEvent.objects.filter(action="profiles.match.model")
    assert (event.actor_label, event.object_id) == (officer.username, "1")
    assert event.reason.startswith("v1 from ")
    assert event.reason.endswith("replaces v0")
    review.refresh_from_db()
    assert review.model_version == 1
    versions = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr > :first-child")
    assert [v.text for v in versions] == ["1"]  # the new version is listed


# --- Access and audit --------------------------------------------------------------------------


def test_a_dpo_revokes_an_api_token(hub, browser, api):
    token, raw = make_token(["consent:read"])
    other, _ = make_token(["consent:read"])
    subject = make_subject(region="EU")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    decision = {"subject": str(subject.pk), "purpose": "analytics"}
    assert api.get("/api/v1/consent/decision/", decision).status_code == 200
    dpo = sign_in(browser, hub, DPO)

    shown = act(browser, hub, "access/apitoken", [token], "Revoke selected tokens")
    assert shown == [("success", "1 token(s) revoked.")]
    token.refresh_from_db()
    other.refresh_from_db()
    assert token.revoked_at is not None
    assert other.revoked_at is None  # only the ticked row
    audited("access.apitoken.revoke", dpo, object_id=str(token.pk))
    assert api.get("/api/v1/consent/decision/", decision).status_code == 401


def test_an_officer_acknowledges_an_audit_alert(hub, browser):
    alert = audit_alert_raise(kind="chain_broken", message="hash mismatch at 41", dedupe=False)
    officer = sign_in(browser, hub, PRIVACY_OFFICER)

    shown = act(browser, hub, "audit/auditalert", [alert], "Acknowledge selected alerts")
    assert shown == [("success", "Alerts acknowledged.")]
    alert.refresh_from_db()
    assert alert.acknowledged_at is not None
    assert alert.acknowledged_by == officer.username
    audited("audit.alert.acknowledge", officer, object_id=str(alert.pk))
    assert not AuditAlert.objects.filter(acknowledged_at=None).exists()


# --- Data-subject requests -------------------------------------------------------------------


def test_an_officer_takes_a_request_releases_a_hold_and_rotates_a_connector_secret(hub, browser):
    subject = make_subject(region="EU")
    dsr, _ = dsar_services.request_create(
        kind="access", channel="api", actor=SYSTEM, subject=subject, verification="service"
    )
    hold = dsar_services.legal_hold_place(subject=subject, reason="litigation 17", actor=SYSTEM)
    crm = System.objects.create(name="CRM", kind=System.Kind.DESTINATION)
    connector = SystemConnector.objects.create(system=crm, webhook_url="https://crm.test/hook")
    old_secret = connector.secret
    officer = sign_in(browser, hub, PRIVACY_OFFICER, regions=["EU"])

    shown = act(
        browser,
        hub,
        "dsar/datasubjectrequest",
        [dsr],
        "Assign to me",
        confirm="Yes, assign the requests to me",
    )
    assert shown == [("success", "1 request(s) assigned to you.")]
    assert DataSubjectRequest.objects.get(pk=dsr.pk).assigned_to == officer
    audited("dsar.request.assign", officer, object_id=str(dsr.pk))

    shown = act(browser, hub, "dsar/legalhold", [hold], "Release the selected holds")
    assert shown == [("success", "1 legal hold(s) released.")]
    assert LegalHold.objects.get(pk=hold.pk).released_at is not None
    audited("dsar.legal_hold.release", officer, object_id=str(hold.pk))

    # A connector serves every region's requests: its secret is rotated by an officer of all.
    browser.delete_all_cookies()
    officer = sign_in(browser, hub, PRIVACY_OFFICER)
    shown = act(
        browser,
        hub,
        "dsar/systemconnector",
        [connector],
        "Rotate the shared secret",
        confirm="Yes, rotate the shared secrets",
    )
    secret = _shown_secret(shown, "Shared secret of CRM")
    connector.refresh_from_db()
    assert connector.secret == secret != old_secret
    audited("dsar.connector.rotate_secret", officer, object_id=str(connector.pk))


# --- Stores, activation, consent ---------------------------------------------------------------


def test_an_officer_approves_one_discovered_table_and_ignores_another(hub, browser, tmp_path):
    path = tmp_path / "shop.db"
    sqlite3.connect(path).close()
    store = ConnectedStore(name="Shop", dialect="sqlite", database=str(path), timeout_seconds=5)
    store.save()
    with store_connection(store, write=True) as conn:
        shop_create(conn, demo_people())
    store_discover(store=store, actor=SYSTEM)
    customers = StoreDataset.objects.get(store=store, table="customers")
    products = StoreDataset.objects.get(store=store, table="products")
    officer = sign_in(browser, hub, PRIVACY_OFFICER)

    shown = act(browser, hub, "stores/storedataset", [customers], "Approve the reviewed datasets")
    assert shown == [("info", f"{customers}: approved")]
    customers.refresh_from_db()
    assert (customers.status, customers.approved_by) == ("approved", officer.username)
    audited("stores.dataset.approve", officer, object_id=str(store.pk), reason="customers")

    shown = act(browser, hub, "stores/storedataset", [products], "Ignore (no personal data)")
    assert shown == [("info", f"{products}: ignored")]
    products.refresh_from_db()
    assert products.status == "ignored"
    audited("stores.dataset.ignore", officer, object_id=str(store.pk), reason="products")
    assert StoreDataset.objects.filter(store=store, status="proposed").count() == 7


def test_an_officer_replays_a_dead_letter_and_rotates_source_and_property_secrets(
    hub, browser, api
):
    shop = System.objects.create(name="Web shop", kind=System.Kind.SOURCE)
    source = SourceEndpoint.objects.create(system=shop, regions=[])  # no region: dead-lettered
    body = encode({"type": "identify", "messageId": "m-1", "userId": "u-1", "traits": {}})
    response = api.post(
        f"/api/v1/sources/{source.pk}/events/",
        data=body,
        content_type="application/json",
        HTTP_CUSTODIA_SIGNATURE=sign(source.secret, body),
    )
    assert response.status_code == 202, response.content
    dead = InboxMessage.objects.get()
    assert activation_services.inbox_process(dead.pk) == "dead"
    SourceEndpoint.objects.filter(pk=source.pk).update(regions=["EU"])  # the officer's fix
    prop = ConsentProperty.objects.create(name="Web shop site", publishable_key="pk_actions")
    old_identity_secret = prop.identity_secret
    officer = sign_in(browser, hub, PRIVACY_OFFICER)

    shown = act(
        browser, hub, "activation/inboxmessage", [dead], "Replay the dead-lettered messages"
    )
    assert shown == [("info", "1 message(s) queued again.")]
    dead.refresh_from_db()
    assert (dead.status, dead.attempts, dead.last_error) == ("pending", 0, "")
    audited("activation.inbox.replay", officer, object_id=str(dead.pk))

    source.refresh_from_db()
    old_secret = source.secret
    shown = act(
        browser,
        hub,
        "activation/sourceendpoint",
        [source],
        "Rotate the signing secret (old one valid 24 h)",
        confirm="Yes, rotate the signing secrets",
    )
    secret = _shown_secret(shown, "Signing secret of Web shop")
    source.refresh_from_db()
    assert source.secret == secret != old_secret
    assert source.previous_secret == old_secret  # still accepted for the overlap
    assert source.previous_valid_until is not None
    audited("activation.source.rotate_secret", officer, object_id=str(source.pk))

    shown = act(
        browser,
        hub,
        "consent/consentproperty",
        [prop],
        "Rotate the identity-assertion secret",
        confirm="Yes, rotate the identity-assertion secrets",
    )
    secret = _shown_secret(shown, "Identity-assertion secret of Web shop site")
    prop.refresh_from_db()
    assert prop.identity_secret == secret != old_identity_secret
    audited("consent.property.identity_secret_rotate", officer, object_id=str(prop.pk))

"""Every plain admin change form an officer edits, submitted by a click: the object's page is
opened, one field changed as a person does, "Save" clicked; the change list says it was changed
and the database holds the new value (and keeps what the page does not show, such as a store's
password)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from selenium.webdriver.common.by import By

from access.roles import DPO
from activation.models import Destination
from consent.models import (
    ConsentProperty,
    ConsentWebhook,
    Jurisdiction,
    Notice,
    ProcessingActivity,
    Purpose,
    RetentionPolicy,
)
from dsar.models import RetentionException, SystemConnector
from profiles.models import System
from sso.models import GroupMapping, IdentityProvider, SsoDomain
from stores.models import ConnectedStore
from tests.browser import admin_login, fill, wait_until
from tests.factories import make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def change_by_clicks(driver, base_url: str, model: str, pk: Any, values: dict[str, Any]) -> str:
    """Open the change page of `model` row `pk`, fill `values`, click Save; the message."""
    driver.get(f"{base_url}/admin/{model}/{pk}/change/")
    assert "Server Error" not in driver.page_source, model
    assert driver.find_elements(By.NAME, "_save"), f"{model}: no Save button"
    for name, value in values.items():
        fill(driver, name, value)
    driver.find_element(By.NAME, "_save").click()
    wait_until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".messagelist, .errornote, h1"))
    errors = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".errornote, .errorlist")]
    assert not errors, f"{model}: {errors}"
    assert "Server Error" not in driver.page_source, model
    shown = driver.find_elements(By.CSS_SELECTOR, ".messagelist")
    assert shown, f"{model}: no message on {driver.current_url}"
    return shown[0].text


def test_an_officer_edits_every_plain_object_by_clicks(live_server, roles, regimes, driver):
    officer = make_staff(DPO)
    purpose = Purpose.objects.get(slug="analytics")
    crm = System.objects.create(name="CRM", kind=System.Kind.DESTINATION)
    shop = System.objects.create(name="Shop", kind=System.Kind.SOURCE)
    notice = Notice.objects.create(language="en", version=9, title="Privacy", text="We ask.")
    notice.purposes.set([purpose])
    prop = ConsentProperty.objects.create(
        name="Web shop", publishable_key="pk_change", allowed_origins=["https://shop.example"]
    )
    prop.purposes.set([purpose])
    hook = ConsentWebhook.objects.create(name="Hook", url="https://crm.example/h", secret="s" * 20)
    activity = ProcessingActivity.objects.create(
        name="Newsletter", purpose=purpose, lawful_basis="consent"
    )
    policy = RetentionPolicy.objects.create(
        name="Old views", target="events", event_name="page_view", max_age_days=400
    )
    store = ConnectedStore(
        name="Orders", dialect="postgresql", host="db", port=5432, database="orders"
    )
    store.read_user, store.read_password = "reader", "read-pass"
    store.save()
    destination = Destination.objects.create(system=crm)
    connector = SystemConnector.objects.create(system=shop, mode="manual", instructions="Do it.")
    exception = RetentionException.objects.create(
        event_prefix="order.", regions=["EU"], reason="tax law", keep_days=3650
    )
    idp = IdentityProvider.objects.create(
        name="Okta", slug="okta", kind="oidc", issuer="https://okta.example", client_id="hub"
    )
    domain = SsoDomain.objects.create(domain="example.com", provider=idp)
    mapping = GroupMapping.objects.create(provider=idp, value="privacy", role=DPO)

    table: list[tuple[str, Any, dict[str, Any], Callable[[], None]]] = []

    def case(model: str, pk: Any, values: dict[str, Any]):
        def register(check: Callable[[], None]) -> Callable[[], None]:
            table.append((model, pk, values, check))
            return check

        return register

    gdpr = Jurisdiction.objects.order_by("code").first()
    assert gdpr is not None

    @case("consent/jurisdiction", gdpr.pk, {"dsar_deadline_days": 25})
    def _():
        assert Jurisdiction.objects.get(pk=gdpr.pk).dsar_deadline_days == 25

    @case("consent/purpose", purpose.pk, {"name": "Audience measurement"})
    def _():
        assert Purpose.objects.get(pk=purpose.pk).name == "Audience measurement"

    @case("consent/notice", notice.pk, {})  # a published notice's text is read-only evidence
    def _():
        assert Notice.objects.get(pk=notice.pk).title == "Privacy"

    @case("consent/consentproperty", prop.pk, {"name": "Web shop EU"})
    def _():
        assert ConsentProperty.objects.get(pk=prop.pk).name == "Web shop EU"

    @case("consent/consentwebhook", hook.pk, {"url": "https://crm.example/h2"})
    def _():
        assert ConsentWebhook.objects.get(pk=hook.pk).url == "https://crm.example/h2"

    @case("consent/processingactivity", activity.pk, {"retention_days": 90})
    def _():
        assert ProcessingActivity.objects.get(pk=activity.pk).retention_days == 90

    @case("consent/retentionpolicy", policy.pk, {"max_age_days": 500})
    def _():
        assert RetentionPolicy.objects.get(pk=policy.pk).max_age_days == 500

    @case("profiles/system", crm.pk, {"owner_contact": "crm@x.test"})
    def _():
        assert System.objects.get(pk=crm.pk).owner_contact == "crm@x.test"

    # The same server (a repointed store needs its password typed again: tests/stores).
    @case("stores/connectedstore", store.pk, {"name": "Orders (EU)"})
    def _():
        saved = ConnectedStore.objects.get(pk=store.pk)
        assert saved.name == "Orders (EU)"
        assert saved.read_password == "read-pass"  # not shown, not lost

    mail = Purpose.objects.get(slug="marketing_email")

    @case("activation/destination", destination.pk, {"purposes": [str(mail)]})
    def _():
        assert list(Destination.objects.get(pk=destination.pk).purposes.all()) == [mail]

    @case("dsar/systemconnector", connector.pk, {"instructions": "Delete in the back office."})
    def _():
        assert SystemConnector.objects.get(pk=connector.pk).instructions == (
            "Delete in the back office."
        )

    @case("dsar/retentionexception", exception.pk, {"keep_days": 3000})
    def _():
        assert RetentionException.objects.get(pk=exception.pk).keep_days == 3000

    @case("sso/identityprovider", idp.pk, {"name": "Okta SSO"})
    def _():
        assert IdentityProvider.objects.get(pk=idp.pk).name == "Okta SSO"

    @case("sso/ssodomain", domain.pk, {"domain": "example.org"})
    def _():
        assert SsoDomain.objects.get(pk=domain.pk).domain == "example.org"

    @case("sso/groupmapping", mapping.pk, {"value": "privacy-team"})
    def _():
        assert GroupMapping.objects.get(pk=mapping.pk).value == "privacy-team"

    shown: dict[str, str] = {}
    admin_login(driver, live_server.url, officer.username)
    for model, pk, values, _check in table:
        shown[model] = change_by_clicks(driver, live_server.url, model, pk, values)
    for model, _pk, _values, check in table:
        assert "was changed successfully" in shown[model], (model, shown[model])
        check()

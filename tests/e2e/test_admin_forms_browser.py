"""Every plain admin add form an officer uses, submitted by a click in one Chromium session:
the page is typed into and selected like a person does (checkbox lists, the two-box purpose
picker, JSON lists), "Save" is clicked, the change list says it was added, and the object is
stored with the values typed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group
from selenium.webdriver.common.by import By

from access.models import ApiToken
from access.roles import DPO, SERVICE_ACCOUNT
from activation.models import Destination, SourceEndpoint
from audit.models import AuditEvent
from consent.models import (
    ConsentProperty,
    ConsentWebhook,
    Jurisdiction,
    Notice,
    ProcessingActivity,
    Purpose,
    RetentionPolicy,
)
from dsar.models import LegalHold, RetentionException, SystemConnector
from profiles.models import System
from sso.models import GroupMapping, IdentityProvider, SsoDomain
from stores.models import ConnectedStore
from tests.browser import admin_login, fill, wait_until
from tests.factories import make_staff, make_subject

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def add_by_clicks(driver, base_url: str, model: str, values: dict[str, Any]) -> str:
    """Open the add page of `model`, fill `values`, click Save; the confirmation text."""
    driver.get(f"{base_url}/admin/{model}/add/")
    assert "Server Error" not in driver.page_source, model
    for name, value in values.items():
        try:
            fill(driver, name, value)
        except Exception as exc:
            raise AssertionError(f"{model}.{name}: {type(exc).__name__}: {str(exc)[:200]}") from exc
    driver.find_element(By.NAME, "_save").click()
    wait_until(
        driver,
        lambda d: d.find_elements(By.CSS_SELECTOR, ".messagelist, .errornote, h1"),
    )
    errors = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".errornote, .errorlist")]
    errors += [
        e.get_attribute("class") for e in driver.find_elements(By.CSS_SELECTOR, ".form-row.errors")
    ]
    assert not errors, f"{model}: {errors}"
    assert "Server Error" not in driver.page_source, model
    messages = driver.find_elements(By.CSS_SELECTOR, ".messagelist")
    assert messages, f"{model}: no message on {driver.current_url}: {driver.title}"
    return messages[0].text


def test_an_officer_adds_every_plain_object_by_clicks(live_server, roles, regimes, driver):
    officer = make_staff(DPO)
    shop = System.objects.create(name="Shop", kind=System.Kind.SOURCE)
    crm = System.objects.create(name="CRM", kind=System.Kind.DESTINATION)
    erp = System.objects.create(name="ERP", kind=System.Kind.SOURCE)
    service = make_staff(is_staff=False)
    service.groups.set([Group.objects.get(name=SERVICE_ACCOUNT)])
    subject = make_subject(region="EU")
    purpose = Purpose.objects.get(slug="analytics")

    # model → values typed/selected → check of what is stored
    table: list[tuple[str, dict[str, Any], Callable[[], None]]] = []

    def case(model: str, values: dict[str, Any]):
        def register(check: Callable[[], None]) -> Callable[[], None]:
            table.append((model, values, check))
            return check

        return register

    @case(
        "consent/jurisdiction",
        {
            "code": "XX-TEST",
            "name": "Test regime",
            "regions": '["XX"]',
            "consent_model": "opt_in",
            "dsar_deadline_days": 30,
        },
    )
    def _():
        j = Jurisdiction.objects.get(code="XX-TEST")
        assert (j.name, j.regions, j.consent_model, j.dsar_deadline_days) == (
            "Test regime",
            ["XX"],
            "opt_in",
            30,
        )

    @case(
        "consent/purpose",
        {
            "slug": "surveys",
            "name": "Surveys",
            "description": "Short surveys about our service.",
            "lawful_basis": "consent",
            "sale_sharing": True,
        },
    )
    def _():
        p = Purpose.objects.get(slug="surveys")
        assert (p.name, p.lawful_basis, p.sale_sharing, p.essential) == (
            "Surveys",
            "consent",
            True,
            False,
        )

    @case(
        "consent/notice",
        {
            "language": "de",
            "version": 7,
            "title": "Datenschutz",
            "text": "Wir fragen.",
            "purposes": [str(purpose)],
        },
    )
    def _():
        n = Notice.objects.get(language="de", version=7)
        assert (n.language, n.title, list(n.purposes.all())) == ("de", "Datenschutz", [purpose])

    @case(
        "consent/consentproperty",
        {
            "name": "Web shop",
            "allowed_origins": '["https://shop.example"]',
            "default_region": "EU",
            "purposes": [str(purpose)],
        },
    )
    def _():
        p = ConsentProperty.objects.get(name="Web shop")
        assert p.allowed_origins == ["https://shop.example"]
        assert p.default_region == "EU"
        assert list(p.purposes.all()) == [purpose]
        assert p.publishable_key

    @case(
        "consent/consentwebhook",
        {"name": "CRM hook", "url": "https://crm.example/hook", "secret": "s3cret-value-123"},
    )
    def _():
        w = ConsentWebhook.objects.get(name="CRM hook")
        assert w.url == "https://crm.example/hook"

    @case(
        "consent/processingactivity",
        {
            "name": "Newsletter",
            "purpose": str(purpose),
            "lawful_basis": "consent",
            "data_categories": ["contact"],
            "systems": [str(shop)],
            "regions": ["EU"],
            "retention_days": 365,
            "controller": "Custodia GmbH",
        },
    )
    def _():
        a = ProcessingActivity.objects.get(name="Newsletter")
        assert (a.purpose, a.lawful_basis, a.retention_days) == (purpose, "consent", 365)
        assert a.data_categories == ["contact"]
        assert a.regions == ["EU"]
        assert list(a.systems.all()) == [shop]

    @case(
        "consent/retentionpolicy",
        {
            "name": "Old page views",
            "target": "events",
            "event_name": "page_view",
            "region": "EU",
            "max_age_days": 400,
            "action": "anonymise",
        },
    )
    def _():
        r = RetentionPolicy.objects.get(name="Old page views")
        assert (r.target, r.event_name, r.region, r.max_age_days, r.action) == (
            "events",
            "page_view",
            "EU",
            400,
            "anonymise",
        )

    @case("profiles/system", {"name": "Billing", "kind": "source", "owner_contact": "it@x.test"})
    def _():
        assert System.objects.get(name="Billing").owner_contact == "it@x.test"

    @case(
        "stores/connectedstore",
        {
            "name": "Orders DB",
            "dialect": "postgresql",
            "host": "db.internal",
            "port": 5432,
            "database": "orders",
            "read_user": "reader",
            "read_password": "read-pass",
        },
    )
    def _():
        s = ConnectedStore.objects.get(name="Orders DB")
        assert (s.dialect, s.host, s.port, s.database, s.read_user) == (
            "postgresql",
            "db.internal",
            5432,
            "orders",
            "reader",
        )
        assert s.read_password == "read-pass"

    @case("activation/destination", {"system": str(crm), "purposes": [str(purpose)]})
    def _():
        d = Destination.objects.get(system=crm)
        assert list(d.purposes.all()) == [purpose]

    @case(
        "activation/sourceendpoint", {"system": str(erp), "format": "segment", "regions": '["EU"]'}
    )
    def _():
        s = SourceEndpoint.objects.get(system=erp)
        assert (s.format, s.regions) == ("segment", ["EU"])
        assert s.secret

    @case(
        "dsar/systemconnector",
        {"system": str(shop), "mode": "manual", "instructions": "Delete in the shop back office."},
    )
    def _():
        c = SystemConnector.objects.get(system=shop)
        assert (c.mode, c.instructions) == ("manual", "Delete in the shop back office.")

    @case("dsar/legalhold", {"subject": str(subject.pk), "reason": "litigation 2026-17"})
    def _():
        hold = LegalHold.objects.get(subject=subject)
        assert hold.reason == "litigation 2026-17"
        assert AuditEvent.objects.filter(object_id=str(hold.pk)).exists()

    @case(
        "dsar/retentionexception",
        {
            "event_prefix": "order.",
            "regions": '["EU"]',
            "reason": "tax law: 10 y",
            "keep_days": 3650,
        },
    )
    def _():
        e = RetentionException.objects.get(event_prefix="order.")
        assert (e.regions, e.reason, e.keep_days) == (["EU"], "tax law: 10 y", 3650)

    okta = IdentityProvider.objects.create(name="Okta", slug="okta", kind="oidc")

    @case("sso/ssodomain", {"domain": "staff.example", "provider": str(okta)})
    def _():
        assert SsoDomain.objects.get(domain="staff.example").provider == okta

    @case(
        "sso/groupmapping",
        {"provider": str(okta), "value": "dpo-eu", "role": DPO, "regions": '["eu"]'},
    )
    def _():
        mapping = GroupMapping.objects.get(value="dpo-eu")
        assert (mapping.provider, mapping.role, mapping.regions) == (okta, DPO, ["EU"])

    shown: dict[str, str] = {}
    admin_login(driver, live_server.url, officer.username)
    for model, values, _check in table:
        shown[model] = add_by_clicks(driver, live_server.url, model, values)
    token_message = add_by_clicks(
        driver,
        live_server.url,
        "access/apitoken",
        {
            "user": service.username,
            "name": "CRM sync",
            "scopes": ["consent:read"],
            "regions": "EU",
        },
    )
    for model, _values, check in table:
        assert "was added successfully" in shown[model], (model, shown[model])
        check()
    token = ApiToken.objects.get(name="CRM sync")
    assert (token.user, token.scopes, token.regions) == (service, ["consent:read"], ["EU"])
    assert "it will not be shown again: " in token_message
    raw = token_message.split("it will not be shown again: ")[1].split()[0]
    assert raw.startswith(f"cst_{token.token_prefix}_")

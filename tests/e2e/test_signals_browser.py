"""Consent signals in a real browser: Google Consent Mode before any tag, the notice in the
browser's language, Texas law with GPC, and a known customer's banner choice reaching their
decisions."""

import json

import pytest
from selenium.webdriver.common.by import By

from consent.identity import identity_assertion_sign
from consent.models import (
    ConsentModeMapping,
    ConsentProperty,
    ConsentRecord,
    CurrentConsent,
    Notice,
    Purpose,
)
from tests.browser import chromium, customer_site, wait_until
from tests.factories import make_subject, make_token

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
KEY = "pk_signals"


def _page(hub: str, region: str, *, attrs: str = "", after: str = "") -> str:
    """The banner first in <head>, synchronously, then the page's other scripts."""
    return f"""<!doctype html><html><head><title>Shop</title>
<script src="{hub}/consent/banner.js?key={KEY}" data-property-key="{KEY}" data-region="{region}" {attrs}></script>
{after}
</head><body><h1>Demo shop</h1></body></html>"""


def _property(origin: str) -> ConsentProperty:
    prop = ConsentProperty.objects.create(
        name="Shop", publishable_key=KEY, allowed_origins=[origin], default_region="EU"
    )
    prop.purposes.set(Purpose.objects.all())
    for consent_type, slug in [
        ("ad_storage", "sale_sharing"),
        ("ad_user_data", "sale_sharing"),
        ("ad_personalization", "sale_sharing"),
        ("analytics_storage", "analytics"),
        ("security_storage", "essential"),
    ]:
        mapping = ConsentModeMapping.objects.create(property=prop, consent_type=consent_type)
        mapping.purposes.set(Purpose.objects.filter(slug=slug))
    for language, title in [("en", "Your privacy choices"), ("de", "Ihre Datenschutzwahl")]:
        notice = Notice.objects.create(language=language, version=1, title=title, text=title)
        notice.purposes.set(Purpose.objects.all())
    return prop


# What a tag sees when it runs: a copy of the dataLayer at that moment.
TAG = """<script>window.seenByFirstTag = JSON.stringify((window.dataLayer || []).map(
  function (entry) { return Array.prototype.slice.call(entry); }));</script>"""
DATALAYER = (
    "return JSON.stringify((window.dataLayer || []).map("
    "function (e) { return Array.prototype.slice.call(e); }))"
)


def test_consent_mode_defaults_precede_any_tag_and_an_update_follows_the_choice(hub, driver):
    with customer_site(_page(hub, "EU", after=TAG)) as site:
        _property(site)
        driver.get(site)
        seen = json.loads(driver.execute_script("return window.seenByFirstTag"))
        defaults = [e for e in seen if e[:2] == ["consent", "default"]]
        page_default = next(e[2] for e in defaults if "region" not in e[2])
        assert page_default["ad_storage"] == "denied"  # EEA visitor
        assert page_default["analytics_storage"] == "denied"
        assert page_default["wait_for_update"] > 0
        eea = next(e[2] for e in defaults if "FR" in e[2].get("region", []))
        assert eea["ad_user_data"] == eea["ad_personalization"] == "denied"

        wait_until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "button[data-action=true]"))
        driver.find_element(By.CSS_SELECTOR, "button[data-action=true]").click()  # Accept all

        def granted_update(d):
            updates = [
                e[2]
                for e in json.loads(d.execute_script(DATALAYER))
                if e[:2] == ["consent", "update"]
            ]
            return updates and updates[-1]["ad_storage"] == "granted" and updates[-1]

        update = wait_until(driver, granted_update)
        assert update["analytics_storage"] == "granted"
        assert update["personalization_storage"] == "denied"  # mapped to nothing


def _german_browser():
    driver = chromium()
    agent = driver.execute_script("return navigator.userAgent")
    driver.execute_cdp_cmd(
        "Emulation.setUserAgentOverride", {"userAgent": agent, "acceptLanguage": "de-DE,de"}
    )
    return driver


def test_german_browser_sees_the_german_notice_and_the_ledger_records_it(hub):
    with customer_site(_page(hub, "EU")) as site:
        _property(site)
        driver = _german_browser()
        try:
            driver.get(site)
            banner = wait_until(driver, lambda d: d.find_elements(By.ID, "custodia-banner"))[0]
            assert "Ihre Datenschutzwahl" in banner.text
            assert "Alle akzeptieren" in banner.text
            driver.find_element(By.CSS_SELECTOR, "button[data-action=false]").click()  # reject
            wait_until(driver, lambda d: ConsentRecord.objects.filter(state="denied").exists())
            languages = set(ConsentRecord.objects.values_list("language", flat=True))
            assert languages == {"de"}
        finally:
            driver.quit()


def test_texan_with_gpc_is_opted_out_of_sale_and_targeted_advertising(hub):
    with customer_site(_page(hub, "US-TX")) as site:
        _property(site)
        driver = chromium(gpc=True)
        try:
            driver.get(site)
            wait_until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-gpc=honoured]"))
            assert not driver.find_element(By.ID, "custodia-sale_sharing").is_selected()
            # Texas is an opt-out law: analytics stays on by default.
            assert driver.find_element(By.ID, "custodia-analytics").is_selected()
            opt_out = CurrentConsent.objects.get(purpose__slug="sale_sharing")
            assert (opt_out.state, opt_out.gpc) == ("denied", True)
            assert opt_out.record.jurisdiction == "TDPSA"
            seen = json.loads(driver.execute_script(DATALAYER))
            page_default = next(
                e[2] for e in seen if e[:2] == ["consent", "default"] and "region" not in e[2]
            )
            assert page_default["ad_storage"] == "denied"
            assert page_default["analytics_storage"] == "granted"
        finally:
            driver.quit()


def test_identified_visitors_banner_choice_changes_the_decision_api_answer(hub, api, driver):
    subject = make_subject(region="EU", customer_id="C-4242")
    _, raw = make_token(["consent:read"])
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    def decision():
        return api.get(
            "/api/v1/consent/decision/", {"subject": str(subject.pk), "purpose": "analytics"}
        ).json()

    assert decision()["allowed"] is False
    prop = _property("https://placeholder.example")
    # What the site's backend renders into the page for its logged-in customer.
    assertion = identity_assertion_sign(
        secret=prop.identity_secret, kind="customer_id", value="C-4242"
    )
    with customer_site(_page(hub, "EU", attrs=f'data-identity="{assertion}"')) as site:
        prop.allowed_origins = [site]
        prop.save()
        driver.get(site)
        wait_until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "button[data-action=true]"))
        driver.find_element(By.CSS_SELECTOR, "button[data-action=true]").click()
        wait_until(driver, lambda d: decision()["allowed"])
    body = decision()
    assert (body["allowed"], body["reason"]) == (True, "explicit_grant")


def test_demo_page_shows_an_identified_visitors_choices_reaching_the_golden_record(
    hub, settings, driver
):
    from consent.demo import DEMO_KEY, seed_identity_and_consent_mode

    settings.CUSTODIA_DEMO_PAGES = True
    subject = make_subject(region="US-TX", customer_id="C100000")
    prop = ConsentProperty.objects.create(
        name="Demo shop", publishable_key=DEMO_KEY, allowed_origins=[], default_region="EU"
    )
    prop.purposes.set(Purpose.objects.all())
    seed_identity_and_consent_mode(prop)
    driver.get(f"{hub}/demo/identified-visitor/")
    assert driver.find_element(By.ID, "subject").text == str(subject.pk)
    wait_until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "button[data-action=false]"))
    driver.find_element(By.CSS_SELECTOR, "button[data-action=false]").click()  # reject all
    row = wait_until(
        driver,
        lambda d: d.find_elements(By.CSS_SELECTOR, "#golden-record tr[data-purpose=analytics]"),
    )[0]
    assert "denied" in row.text
    assert "banner" in row.text
    assert CurrentConsent.objects.get(subject=subject, purpose__slug="analytics").state == "denied"

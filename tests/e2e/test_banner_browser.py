"""The banner in a real browser: embedded from the hub's origin into a customer's page."""

import socket

import pytest
from selenium.webdriver.common.by import By

from consent.models import ConsentRecord, CurrentConsent
from tests.browser import banner_property, chromium, customer_site, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _page(hub: str, region: str) -> str:
    return f"""<!doctype html><html><head><title>Shop</title></head><body><h1>Demo shop</h1>
<script src="{hub}/consent/banner.js" data-property-key="pk_browser" data-region="{region}"></script>
</body></html>"""


def test_visitor_accepts_some_purposes_reloads_and_sees_them_kept(hub, driver):
    with customer_site(_page(hub, "EU")) as site:
        banner_property(site)
        driver.get(site)
        wait_until(driver, lambda d: d.find_elements(By.ID, "custodia-analytics"))
        assert not driver.find_element(By.ID, "custodia-analytics").is_selected()  # GDPR: opt-in
        driver.find_element(By.ID, "custodia-analytics").click()
        driver.find_element(By.ID, "custodia-personalization").click()
        driver.find_element(
            By.CSS_SELECTOR, "button[data-action=undefined]"
        ).click()  # Save choices
        wait_until(driver, lambda d: d.find_element(By.ID, "custodia-banner").tag_name == "button")

        driver.refresh()
        choices = wait_until(
            driver,
            lambda d: d.execute_script(
                "return window.Custodia && Object.keys(window.Custodia.choices).length ? window.Custodia.choices : null"
            ),
        )
        assert choices["analytics"]["state"] == "granted"
        assert choices["personalization"]["state"] == "granted"
        assert choices["marketing_email"]["state"] == "denied"
        assert (
            driver.find_element(By.ID, "custodia-banner").text == "Privacy choices"
        )  # not asked again

        # The visitor id travelled in request bodies only: no URL the browser asked for
        # (those web servers and proxies log) carries it.
        visitor = driver.execute_script("return localStorage.getItem('custodia_visitor')")
        urls = driver.execute_script(
            "return performance.getEntriesByType('resource').map(function (e) { return e.name; })"
        )
        api_urls = [u for u in urls if "/api/v1/consent/public/" in u]
        assert any("/public/config/" in u for u in api_urls), urls
        assert visitor
        assert [u for u in api_urls if visitor in u or "visitor" in u] == []
    visitor_records = ConsentRecord.objects.filter(subject__isnull=True, channel="banner")
    assert visitor_records.filter(purpose__slug="analytics", state="granted").count() == 1
    assert visitor_records.first().user_agent  # proof kept


def test_a_browser_sending_gpc_gets_sale_and_sharing_opted_out_under_ccpa(hub):
    with customer_site(_page(hub, "US-CA")) as site:
        banner_property(site)
        driver = chromium(gpc=True)
        try:
            driver.get(site)
            notice = wait_until(
                driver, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-gpc=honoured]")
            )
            assert "opted out" in notice[0].text
            assert not driver.find_element(By.ID, "custodia-sale_sharing").is_selected()
            assert driver.execute_script("return navigator.globalPrivacyControl") is True
        finally:
            driver.quit()
    current = CurrentConsent.objects.get(subject__isnull=True, purpose__slug="sale_sharing")
    assert (current.state, current.gpc) == ("denied", True)
    assert ConsentRecord.objects.get(pk=current.record_id).jurisdiction == "CCPA"

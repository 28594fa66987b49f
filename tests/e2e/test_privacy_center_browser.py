"""The privacy center in a real browser: a visitor opens a data-subject request and confirms it
with the code mailed to them."""

import re

import pytest
from django.core import mail
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from consent.models import ConsentProperty, Purpose
from dsar.models import DataSubjectRequest
from tests.browser import chromium
from tests.e2e.test_banner_browser import _wait

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _open_request(driver, url: str, kind: str) -> None:
    """A property with every purpose; its privacy center at `url`; a request of `kind` sent."""
    prop = ConsentProperty.objects.create(name="Shop", publishable_key="pk_center")
    prop.purposes.set(Purpose.objects.all())
    driver.get(url)
    form = driver.find_element(By.ID, "dsar-intake")
    Select(form.find_element(By.NAME, "kind")).select_by_value(kind)
    form.find_element(By.NAME, "email").send_keys("visitor@example.com")
    Select(form.find_element(By.NAME, "region")).select_by_value("EU")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def test_a_visitor_opens_an_access_request_and_confirms_it_with_the_mailed_code(
    live_server, regimes
):
    driver = chromium()
    try:
        _open_request(driver, f"{live_server.url}/privacy-center/?key=pk_center", "access")
        _wait(driver, lambda d: "Your reference" in d.find_element(By.ID, "dsar-status").text)

        reference = DataSubjectRequest.objects.get().reference
        assert reference in driver.find_element(By.ID, "dsar-status").text
        code = re.search(r"code: (\d{6})", mail.outbox[-1].body).group(1)
        assert mail.outbox[-1].to == ["visitor@example.com"]

        confirm = driver.find_element(By.ID, "dsar-confirm")
        assert confirm.is_displayed()
        confirm.find_element(By.NAME, "code").send_keys(code)
        confirm.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        _wait(driver, lambda d: "is confirmed" in d.find_element(By.ID, "dsar-status").text)
    finally:
        driver.quit()
    request = DataSubjectRequest.objects.get(reference=reference)
    assert request.verification == "email_code"
    assert request.status in ("in_progress", "awaiting_external", "completed")


def test_the_privacy_center_answers_in_the_visitors_language_after_a_click(live_server, regimes):
    """The sentences the page's script writes (sent, confirmed) are translated like the page."""
    driver = chromium()
    try:
        _open_request(driver, f"{live_server.url}/privacy-center/?key=pk_center&lang=de", "erasure")
        _wait(driver, lambda d: "Ihre Referenz" in d.find_element(By.ID, "dsar-status").text)
        reference = DataSubjectRequest.objects.get().reference
        assert reference in driver.find_element(By.ID, "dsar-status").text

        code = re.search(r"code: (\d{6})", mail.outbox[-1].body).group(1)
        confirm = driver.find_element(By.ID, "dsar-confirm")
        confirm.find_element(By.NAME, "code").send_keys(code)
        confirm.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        _wait(driver, lambda d: "ist bestätigt" in d.find_element(By.ID, "dsar-status").text)
        assert "{" not in driver.find_element(By.ID, "dsar-status").text
    finally:
        driver.quit()

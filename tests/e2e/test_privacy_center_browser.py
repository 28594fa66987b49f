"""The privacy center in a real browser: a visitor opens a data-subject request and confirms it
with the code mailed to them."""

import re

import pytest
from django.core import mail
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from consent.models import ConsentProperty, Purpose
from dsar.models import DataSubjectRequest
from tests.browser import wait_until

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
    live_server, regimes, driver
):
    _open_request(driver, f"{live_server.url}/privacy-center/?key=pk_center", "access")
    wait_until(driver, lambda d: "Your reference" in d.find_element(By.ID, "dsar-status").text)

    reference = DataSubjectRequest.objects.get().reference
    assert reference in driver.find_element(By.ID, "dsar-status").text
    code = re.search(r"code: (\d{6})", mail.outbox[-1].body).group(1)
    assert mail.outbox[-1].to == ["visitor@example.com"]

    confirm = driver.find_element(By.ID, "dsar-confirm")
    assert confirm.is_displayed()
    confirm.find_element(By.NAME, "code").send_keys(code)
    confirm.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_until(driver, lambda d: "is confirmed" in d.find_element(By.ID, "dsar-status").text)
    request = DataSubjectRequest.objects.get(reference=reference)
    assert request.verification == "email_code"
    assert request.status in ("in_progress", "awaiting_external", "completed")


def test_the_privacy_center_answers_in_the_visitors_language_after_a_click(
    live_server, regimes, driver
):
    """The sentences the page's script writes (sent, confirmed) are translated like the page."""
    _open_request(driver, f"{live_server.url}/privacy-center/?key=pk_center&lang=de", "erasure")
    wait_until(driver, lambda d: "Ihre Referenz" in d.find_element(By.ID, "dsar-status").text)
    reference = DataSubjectRequest.objects.get().reference
    assert reference in driver.find_element(By.ID, "dsar-status").text

    code = re.search(r"code: (\d{6})", mail.outbox[-1].body).group(1)
    confirm = driver.find_element(By.ID, "dsar-confirm")
    confirm.find_element(By.NAME, "code").send_keys(code)
    confirm.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_until(driver, lambda d: "ist bestätigt" in d.find_element(By.ID, "dsar-status").text)
    assert "{" not in driver.find_element(By.ID, "dsar-status").text


def test_the_text_box_stops_at_its_limit_and_a_longer_text_is_refused_in_words(
    live_server, regimes, driver
):
    """A visitor cannot type past 2,000 characters; a page that lets a longer text through (an
    old copy, a script) gets the refusal in the visitor's language, the text box marked."""
    prop = ConsentProperty.objects.create(name="Shop", publishable_key="pk_center")
    prop.purposes.set(Purpose.objects.all())
    driver.get(f"{live_server.url}/privacy-center/?key=pk_center&lang=de")
    form = driver.find_element(By.ID, "dsar-intake")
    form.find_element(By.NAME, "email").send_keys("visitor@example.com")
    box = form.find_element(By.NAME, "description")
    driver.execute_script("arguments[0].value = 'x'.repeat(2000);", box)
    box.send_keys("y")
    assert len(box.get_attribute("value")) == 2000

    driver.execute_script("arguments[0].removeAttribute('maxlength');", box)
    box.send_keys("z")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_until(driver, lambda d: "zu lang" in d.find_element(By.ID, "dsar-status").text)
    assert "2.000" in driver.find_element(By.ID, "dsar-status").text
    assert box.get_attribute("aria-invalid") == "true"
    assert form.is_displayed()
    assert not DataSubjectRequest.objects.exists()

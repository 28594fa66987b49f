"""An officer searches the admin for a person by e-mail in a real browser: the e-mail is in
neither the address bar nor any URL the browser requested."""

from urllib.parse import quote, quote_plus

import pytest
from selenium.webdriver.common.by import By

from tests.browser import admin_login, wait_until
from tests.factories import make_staff, make_subject

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CANARY = "canary@example.org"


def test_an_officer_searches_by_e_mail_and_the_address_bar_never_holds_it(
    live_server, roles, driver
):
    subject = make_subject(region="EU", email=CANARY)
    make_subject(region="EU")
    officer = make_staff("DPO")
    admin_login(driver, live_server.url, officer.username)
    driver.get(f"{live_server.url}/admin/profiles/subject/")
    driver.find_element(By.ID, "searchbar").send_keys(CANARY)
    driver.find_element(By.CSS_SELECTOR, "#changelist-search input[type=submit]").click()
    wait_until(driver, lambda d: "sid=" in d.current_url)
    wait_until(driver, lambda d: str(subject.pk) in d.find_element(By.ID, "result_list").text)
    rows = driver.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    requested = driver.execute_script(
        "return performance.getEntries().map(e => e.name).concat([location.href]);"
    )
    history_length = driver.execute_script("return history.length;")
    links = [a.get_attribute("href") or "" for a in driver.find_elements(By.TAG_NAME, "a")]
    url = driver.current_url
    assert len(rows) == 1
    assert history_length >= 2
    for text in [url, *requested, *links]:
        for form in (CANARY, quote(CANARY), quote_plus(CANARY), quote(CANARY, safe="")):
            assert form not in text, f"{form!r} in {text!r}"

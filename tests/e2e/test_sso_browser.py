"""A staff member clicks "Sign in with Corp IdP" on the admin login page and lands in the
workspace through the test OpenID provider (a real redirect round-trip, PKCE and a signed token)."""

import pytest
from selenium.webdriver.common.by import By

from tests.browser import wait_until
from tests.sso.conftest import idp, idp_server  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_in_with_the_identity_provider_lands_in_the_workspace(live_server, idp, driver):  # noqa: F811
    driver.get(f"{live_server.url}/admin/login/?next=/admin/")
    button = driver.find_element(By.CSS_SELECTOR, "a.sso-button[data-sso=corp]")
    assert button.text == "Sign in with Corp IdP"
    button.click()
    wait_until(driver, lambda d: d.current_url.rstrip("/").endswith("/admin"))
    heading = driver.find_element(By.ID, "site-name").text
    user_tools = driver.find_element(By.ID, "user-tools").text
    assert "Custodia" in heading
    assert "alice@corp.example".upper() in user_tools.upper()

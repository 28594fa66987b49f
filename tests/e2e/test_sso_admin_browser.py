"""A DPO sets up single sign-on in the admin by clicks: the identity provider with its client
secret and a group mapping (the inline row), saved in one submit; the sign-in button appears."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from access.roles import PRIVACY_OFFICER
from sso.models import GroupMapping, IdentityProvider
from tests.browser import admin_login, wait_until
from tests.factories import make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_dpo_adds_an_identity_provider_with_a_group_mapping(live_server, roles, driver):
    officer = make_staff("DPO")
    admin_login(driver, live_server.url, officer.username)
    driver.get(f"{live_server.url}/admin/sso/identityprovider/add/")
    driver.find_element(By.NAME, "name").send_keys("Corp IdP")
    slug = driver.find_element(By.NAME, "slug")
    slug.clear()
    slug.send_keys("corp")
    Select(driver.find_element(By.NAME, "kind")).select_by_value("oidc")
    driver.find_element(By.NAME, "issuer").send_keys("https://idp.corp.example")
    driver.find_element(By.NAME, "client_id").send_keys("custodia")
    driver.find_element(By.NAME, "client_secret").send_keys("a client secret")
    driver.find_element(By.NAME, "mappings-0-value").send_keys("privacy-officers")
    Select(driver.find_element(By.NAME, "mappings-0-role")).select_by_value(PRIVACY_OFFICER)
    regions = driver.find_element(By.NAME, "mappings-0-regions")
    regions.clear()
    regions.send_keys('["EU"]')
    driver.find_element(By.NAME, "_save").click()
    wait_until(driver, lambda d: d.current_url.endswith("/admin/sso/identityprovider/"))
    listing = driver.find_element(By.ID, "result_list").text
    driver.delete_all_cookies()  # a visitor who is not signed in
    driver.get(f"{live_server.url}/admin/login/")
    buttons = [b.text for b in driver.find_elements(By.CSS_SELECTOR, "a.sso-button")]
    assert "Corp IdP" in listing
    provider = IdentityProvider.objects.get(slug="corp")
    assert provider.client_secret() == "a client secret"
    assert "a client secret" not in provider.client_secret_sealed
    mapping = GroupMapping.objects.get(provider=provider)
    assert (mapping.value, mapping.role, mapping.regions) == (
        "privacy-officers",
        PRIVACY_OFFICER,
        ["EU"],
    )
    assert "Sign in with Corp IdP" in buttons

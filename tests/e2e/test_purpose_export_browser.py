"""A marketing analyst opens the purposes page, follows "Export the people a purpose allows",
picks a purpose and clicks Export CSV: the file that lands holds the consented people only,
with hashed identifiers, and the export is in the audit log."""

import hashlib
import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from audit.actors import Actor
from audit.models import AuditEvent
from consent.models import Purpose
from consent.services import consent_record
from tests.browser import admin_login, chromium
from tests.factories import make_staff, make_subject

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_analyst_exports_the_people_a_purpose_allows_by_clicks(
    live_server, roles, regimes, tmp_path
):
    yes = make_subject(region="EU", email="yes@example.com")
    consent_record(
        purpose=Purpose.objects.get(slug="marketing_email"),
        state="granted",
        channel="api",
        actor=Actor.system("tests"),
        subject=yes,
    )
    no = make_subject(region="EU", email="no@example.com")
    analyst = make_staff("Marketing analyst", regions=["EU"])
    driver = chromium(download_dir=str(tmp_path))
    try:
        admin_login(driver, live_server.url, analyst.username)
        driver.get(f"{live_server.url}/admin/consent/purpose/")
        link = driver.find_element(By.CSS_SELECTOR, ".object-tools a[href$='/export-purpose/']")
        assert "export the people a purpose allows" in link.text.lower()
        link.click()
        Select(driver.find_element(By.NAME, "purpose")).select_by_value("marketing_email")
        driver.find_element(By.CSS_SELECTOR, "input[name=identifiers][value=sha256]").click()
        driver.find_element(By.NAME, "_export").click()
        target = tmp_path / "consented-marketing_email.csv"
        deadline = time.monotonic() + 20
        while not target.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        driver.quit()
    lines = target.read_text().splitlines()
    assert lines[0] == "subject_id,email_sha256,phone_sha256"
    assert lines[1:] == [f"{yes.pk},{hashlib.sha256(b'yes@example.com').hexdigest()},"]
    assert str(no.pk) not in target.read_text()
    event = AuditEvent.objects.get(action="activation.purpose.export")
    assert event.reason == "purpose marketing_email; 1 rows; identifiers sha256"
    assert event.actor_id == str(analyst.pk)

"""An officer edits a source's custom mapping in a real browser with the live preview against a
pasted sample (masked values, errors naming the bad path, nothing written), saves it, and the
source's next signed call is processed with it by a real worker."""

from __future__ import annotations

import json
import urllib.request

import pytest
from selenium.webdriver.common.by import By

from activation.models import InboxMessage, SourceEndpoint
from audit.models import AuditEvent
from core.webhooks import SIGNATURE_HEADER, encode, sign
from profiles.models import Attribute, Subject, System
from tests.activation.test_custom_mapping import MAPPING, ORDER
from tests.browser import admin_login, wait_until
from tests.factories import make_staff
from tests.workers import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _type(driver, name, text):
    box = driver.find_element(By.NAME, name)
    box.clear()
    box.send_keys(text)


def _preview_text(driver):
    return driver.find_element(By.ID, "mapping-preview").text


def test_officer_edits_a_mapping_with_live_preview_then_a_call_is_processed_with_it(
    live_server, roles, worker, driver
):
    system = System.objects.create(name="Order system", kind=System.Kind.SOURCE)
    broken = json.loads(json.dumps(MAPPING).replace('"customer.email"', '"customer.mail"'))
    source = SourceEndpoint.objects.create(
        system=system, regions=["EU"], format="custom", mapping=broken
    )
    officer = make_staff("DPO")
    admin_login(driver, live_server.url, officer.username)
    driver.get(f"{live_server.url}/admin/activation/sourceendpoint/{source.pk}/change/")
    audit_before = AuditEvent.objects.count()

    _type(driver, "sample", json.dumps(ORDER, indent=1))
    driver.find_element(By.ID, "mapping-preview-button").click()
    wait_until(driver, lambda d: "Identifiers (1)" in _preview_text(d))
    assert "customer.mail" in _preview_text(driver)  # not in this sample
    assert "customer_id: C***" in _preview_text(driver)

    _type(driver, "mapping", json.dumps({**MAPPING, "timestamp": "created at"}))
    wait_until(driver, lambda d: "timestamp: a path is keys separated" in _preview_text(d))

    _type(driver, "mapping", json.dumps(MAPPING, indent=1))
    driver.find_element(By.ID, "mapping-preview-button").click()
    wait_until(driver, lambda d: "Identifiers (2)" in _preview_text(d))
    shown = _preview_text(driver)
    assert "email: L***@e***.de" in shown
    assert "first_name (identity)" in shown
    assert "order_placed" in shown
    for clear in ("Lena", "C-77", "TEA-1", "Roth"):
        assert clear not in shown
    assert AuditEvent.objects.count() == audit_before
    assert not Subject.objects.exists()
    assert not InboxMessage.objects.exists()

    driver.find_element(By.NAME, "_save").click()
    wait_until(driver, lambda d: "/change/" not in d.current_url)
    source.refresh_from_db()
    assert source.mapping == MAPPING

    body = encode(ORDER)
    request = urllib.request.Request(
        f"{live_server.url}/api/v1/sources/{source.pk}/events/",
        data=body,
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(source.secret, body)},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202
    wait_for(
        lambda: InboxMessage.objects.filter(status="done").exists(),
        timeout=30,
        message="the custom call processed by the worker",
    )
    subject = Subject.objects.get(pk=InboxMessage.objects.get().subject_id)
    assert Attribute.objects.get(subject=subject, key="first_name").value == "Lena"

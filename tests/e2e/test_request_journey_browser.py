"""A person's request and an officer's work on it, clicked through in a real browser (headless
Chromium) against the live hub and a real Celery worker: the privacy center's request form, the
mailed code (read from the file mail backend), the officer's sign-in, approval and manual tasks
in the admin, and the download page, whose ZIP is read from Chromium's download directory.

Every form of the request page and of the public pages is submitted by a click somewhere here.
One browser serves the whole module."""

from __future__ import annotations

import email
import email.policy
import json
import re
import zipfile
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from audit.actors import Actor
from consent.models import ConsentProperty, Purpose
from dsar import archive as archives
from dsar import housekeeping, services
from dsar.models import DataSubjectRequest, RequestStep, SystemConnector, TimelineEntry
from profiles.models import Identifier, Subject, SubjectKey, System
from tests.browser import admin_login, click_for_new_page, wait_until
from tests.factories import make_staff, make_subject
from tests.workers import wait_for

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("signed_out"),
]

LEASE = 4
FILE_MAIL = "django.core.mail.backends.filebased.EmailBackend"


class Mailbox:
    """The file mail backend's directory, shared by the hub and the worker process."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def messages(self) -> list[email.message.EmailMessage]:
        found = []
        for log in sorted(self.path.glob("*.log")):
            for chunk in log.read_bytes().split(b"-" * 79 + b"\n"):
                if chunk.strip():
                    found.append(
                        email.message_from_bytes(chunk.strip(), policy=email.policy.default)
                    )
        return found

    def to(self, address: str) -> list[str]:
        """Bodies of the mails sent to `address`, oldest first."""
        return [m.get_content() for m in self.messages() if address in m["To"]]

    def wait_for(self, address: str, pattern: str, timeout: float = 90) -> re.Match:
        def found():
            for body in reversed(self.to(address)):
                match = re.search(pattern, body)
                if match:
                    return match
            return None

        return wait_for(found, timeout=timeout, interval=0.5, message=f"a mail matching {pattern}")


@pytest.fixture
def mailbox(tmp_path, settings) -> Mailbox:
    settings.EMAIL_BACKEND = FILE_MAIL
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    return Mailbox(tmp_path / "mail")


@pytest.fixture
def hub(hub, settings, mailbox):
    """The hub as the person and the officer reach it (the module's Chromium gets a fresh
    session per test: `signed_out`)."""
    settings.CUSTODIA_PUBLIC_URL = hub.url
    settings.CUSTODIA_STEP_LEASE_SECONDS = LEASE
    prop = ConsentProperty.objects.create(name="Shop", publishable_key="pk_journey")
    prop.purposes.set(Purpose.objects.all())
    return hub


@pytest.fixture
def worker_process(start_worker, hub, mailbox):
    return start_worker(
        env={
            "CUSTODIA_PUBLIC_URL": hub.url,
            "CUSTODIA_STEP_LEASE_SECONDS": str(LEASE),
            "EMAIL_BACKEND": FILE_MAIL,
            "EMAIL_FILE_PATH": str(mailbox.path),
        }
    )


def _manual_system(name: str, instructions: str) -> SystemConnector:
    system = System.objects.create(name=name, kind="destination")
    return SystemConnector.objects.create(
        system=system, mode=SystemConnector.Mode.MANUAL, instructions=instructions
    )


def _until(dsr: DataSubjectRequest, status: str, timeout: float = 90) -> DataSubjectRequest:
    """Wait for the worker, running the sweeper every second as beat would."""

    def reached():
        housekeeping.sweep()
        current = DataSubjectRequest.objects.get(pk=dsr.pk)
        return current if current.status == status else None

    return wait_for(reached, timeout=timeout, interval=1, message=f"request to be {status}")


def _send_request(browser, hub, *, kind: str, address: str, message: str) -> str:
    """The person fills in the privacy center's request form and sends it: the reference."""
    browser.get(f"{hub.url}/privacy-center/?key=pk_journey")
    form = browser.find_element(By.ID, "dsar-intake")
    Select(form.find_element(By.NAME, "kind")).select_by_value(kind)
    form.find_element(By.NAME, "email").send_keys(address)
    Select(form.find_element(By.NAME, "region")).select_by_value("EU")
    form.find_element(By.NAME, "description").send_keys(message)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_until(browser, lambda d: "Your reference" in d.find_element(By.ID, "dsar-status").text)
    return re.search(r"DSR-[A-Z0-9]{10}", browser.find_element(By.ID, "dsar-status").text)[0]


def _confirm(browser, mailbox: Mailbox, address: str) -> None:
    """The person types the code mailed to them into the confirmation step."""
    code = mailbox.wait_for(address, r"code: (\d{6})")[1]
    confirm = browser.find_element(By.ID, "dsar-confirm")
    confirm.find_element(By.NAME, "code").send_keys(code)
    confirm.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_until(browser, lambda d: "is confirmed" in d.find_element(By.ID, "dsar-status").text)


def _open(browser, hub, dsr: DataSubjectRequest) -> None:
    browser.get(f"{hub.url}/admin/dsar/datasubjectrequest/{dsr.pk}/change/")
    wait_until(browser, lambda d: d.find_elements(By.ID, "dsr-desk"))


def _click(browser, css: str) -> None:
    """Submit one of the request page's forms by clicking its button; wait for the answer."""
    click_for_new_page(browser, browser.find_element(By.CSS_SELECTOR, css))
    wait_until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".messagelist li"))
    assert not browser.find_elements(By.CSS_SELECTOR, ".messagelist .error"), browser.find_element(
        By.CSS_SELECTOR, ".messagelist"
    ).text


def _close_manual_tasks(browser, hub, dsr: DataSubjectRequest, system: str) -> None:
    """The officer waits for the manual task, reads its instructions and marks it done."""

    def task_shown(driver):
        _open(driver, hub, dsr)
        return driver.find_elements(By.CSS_SELECTOR, ".dsr-task-done")

    wait_for(lambda: task_shown(browser), timeout=90, interval=1, message="the manual task")
    task = browser.find_element(By.CSS_SELECTOR, ".dsr-task")
    assert system in task.text
    assert "paste the ticket number" in task.find_element(By.CLASS_NAME, "dsr-instructions").text
    task.find_element(By.NAME, "text").send_keys("ticket 4711")
    _click(browser, f".dsr-task-done input[value='Mark {system} done']")


def _downloaded(downloads: Path, name: str, timeout: float = 30) -> Path:
    path = downloads / name
    return wait_for(
        lambda: path if path.exists() and path.stat().st_size else None,
        timeout=timeout,
        message=f"{name} in Chromium's download directory",
    )


@pytest.mark.timeout(240)
def test_a_person_gets_a_copy_of_their_data_through_the_privacy_center_and_an_officer(
    hub, browser, downloads, mailbox, worker_process
):
    person = make_subject(region="EU", email="cory@example.com", name="Cory Pie", events=4)
    _manual_system("CRM", "Export the contact from the CRM; paste the ticket number.")
    officer = make_staff("Privacy officer", regions=["EU"])

    # The privacy center: each consent checkbox sits right before its own label.
    browser.get(f"{hub.url}/privacy-center/?key=pk_journey")
    boxes = wait_until(
        browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#custodia-center [type=checkbox]")
    )
    for box in boxes:
        label = browser.find_element(By.CSS_SELECTOR, f"label[for='{box.get_attribute('id')}']")
        assert (
            abs(box.rect["y"] + box.rect["height"] / 2 - label.rect["y"] - label.rect["height"] / 2)
            < 12
        )
        assert 0 <= label.rect["x"] - (box.rect["x"] + box.rect["width"]) < 24

    reference = _send_request(
        browser, hub, kind="access", address="cory@example.com", message="Include my orders."
    )
    # Sent: the request form is cleared and put away; the code is the next step.
    intake = browser.find_element(By.ID, "dsar-intake")
    assert not intake.is_displayed()
    assert intake.find_element(By.NAME, "email").get_attribute("value") == ""
    assert not intake.find_element(By.CSS_SELECTOR, "button[type=submit]").is_enabled()
    assert browser.find_element(By.ID, "dsar-confirm").is_displayed()
    assert "an access request (GDPR Art. 15)" in mailbox.to("cory@example.com")[0]
    _confirm(browser, mailbox, "cory@example.com")
    dsr = DataSubjectRequest.objects.get(reference=reference)

    # The officer sees who asks and what, and closes the CRM's manual task by clicking.
    admin_login(browser, hub.url, officer.username)
    _open(browser, hub, dsr)
    brief = browser.find_element(By.ID, "dsr-brief").text
    assert "cory@example.com" in brief
    assert "Include my orders." in brief
    assert str(person.pk) in browser.find_element(By.ID, "dsr-subject").text
    _close_manual_tasks(browser, hub, dsr, "CRM")
    dsr = _until(dsr, "completed")
    _open(browser, hub, dsr)
    page = browser.find_element(By.ID, "dsr-desk").text
    assert "the privacy center of Shop" in page
    assert "subject found" in page
    assert "1 connected system done" in page
    assert "{" not in browser.find_element(By.CSS_SELECTOR, "#dsr-desk table").text

    # The person follows the mailed link and clicks the download button.
    link = mailbox.wait_for("cory@example.com", r"http\S+/privacy-center/download/\S+/")[0]
    assert link.startswith(hub.url)
    browser.delete_all_cookies()
    browser.get(link)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    archive = _downloaded(downloads, f"{reference}.zip")
    with zipfile.ZipFile(archive) as opened:
        names = set(opened.namelist())
        data = json.loads(opened.read("data.json"))
    assert {"data.json", "profile.csv", "events.csv", "consent.csv"} <= names
    assert any(name.upper().startswith("README") for name in names)
    assert data["subject"]["id"] == str(person.pk)
    assert len(data["events"]) == 4
    assert any(a["value"] == "Cory Pie" for a in data["attributes"])

    # A second download is refused.
    browser.get(link)
    assert "used already" in browser.find_element(By.TAG_NAME, "body").text
    assert not browser.find_elements(By.CSS_SELECTOR, "form button[type=submit]")


@pytest.mark.timeout(240)
def test_an_erasure_is_approved_by_a_click_and_the_persons_data_is_gone(
    hub, browser, mailbox, worker_process
):
    person = make_subject(region="EU", email="erin@example.com", name="Erin Rase", events=3)
    _manual_system("CRM", "Delete the contact in the CRM; paste the ticket number.")
    officer = make_staff("Privacy officer", regions=["EU"])

    reference = _send_request(
        browser, hub, kind="erasure", address="erin@example.com", message="Close my account."
    )
    _confirm(browser, mailbox, "erin@example.com")
    dsr = DataSubjectRequest.objects.get(reference=reference)
    assert dsr.status == "awaiting_approval"

    # Before approving, the officer sees whom the request matches and what approval will do.
    admin_login(browser, hub.url, officer.username)
    _open(browser, hub, dsr)
    assert str(person.pk) in browser.find_element(By.ID, "dsr-subject").text
    assert "erin@example.com" in browser.find_element(By.ID, "dsr-contact").text
    assert "Close my account." in browser.find_element(By.ID, "dsr-message").text
    effects = browser.find_element(By.ID, "dsr-effects").text
    assert "What approving will do" in browser.find_element(By.ID, "dsr-brief").text
    assert "Erases the subject's profile: 1 identifier, 1 attribute and 3 events" in effects
    assert "Keeps the consent history" in effects
    assert "Notifies 1 connected system: CRM" in effects

    _click(browser, "#dsr-approve [type=submit]")
    assert DataSubjectRequest.objects.get(pk=dsr.pk).approved_by == officer.username
    _close_manual_tasks(browser, hub, dsr, "CRM")
    _until(dsr, "completed")

    person.refresh_from_db()
    assert person.status == Subject.Status.ERASED
    assert not Identifier.objects.filter(subject=person).exists()
    assert not SubjectKey.objects.filter(subject_id=person.pk).exists()
    done = mailbox.wait_for("erin@example.com", r"erased from our systems")
    assert done
    assert not any("CCPA" in body for body in mailbox.to("erin@example.com"))


def test_the_download_button_hands_out_the_archive_once(hub, browser, downloads):
    """The link's page is opened and its button clicked as a person does (no worker needed)."""
    subject = make_subject(region="EU", email="dana@example.com")
    dsr, _ = services.request_create(
        kind="access",
        channel="api",
        actor=Actor.system("test"),
        subject=subject,
        verification="service",
    )
    stored, _ = archives.archive_store(request=dsr, data=archives.collect(dsr))
    content = archives.archive_open(stored)
    browser.get(archives.download_url(stored))
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    archive = _downloaded(downloads, f"{dsr.reference}.zip")
    assert archive.read_bytes() == content
    # The link's token never leaves the hub in a Referer header (no third party sees it).
    assert browser.find_element(By.CSS_SELECTOR, "meta[name=referrer]").get_attribute(
        "content"
    ) in ("same-origin", "strict-origin", "strict-origin-when-cross-origin")
    browser.get(archives.download_url(stored))
    assert "used already" in browser.find_element(By.TAG_NAME, "body").text


def test_an_officer_opens_extends_assigns_notes_denies_and_retries_by_clicking(
    hub, browser, mailbox
):
    officer = make_staff("Privacy officer", regions=["EU"])
    colleague = make_staff("Privacy officer", regions=["EU"])
    subject = make_subject(region="EU", email="finn@example.com")
    admin_login(browser, hub.url, officer.username)

    # A request taken on the phone: the officer opens it with the intake form.
    browser.get(f"{hub.url}/admin/dsar/datasubjectrequest/add/")
    Select(browser.find_element(By.NAME, "kind")).select_by_value("access")
    browser.find_element(By.NAME, "subject").send_keys("finn@example.com")
    browser.find_element(By.NAME, "email").send_keys("finn@example.com")
    browser.find_element(By.NAME, "attestation").click()
    browser.find_element(By.CSS_SELECTOR, "#content form [type=submit]").click()
    wait_until(browser, lambda d: d.find_elements(By.ID, "dsr-desk"))
    dsr = DataSubjectRequest.objects.get(subject=subject)
    assert dsr.verification == "officer"
    due = dsr.due_at

    browser.find_element(By.CSS_SELECTOR, "#dsr-extend [name=text]").send_keys("Many systems.")
    _click(browser, "#dsr-extend [type=submit]")
    assert DataSubjectRequest.objects.get(pk=dsr.pk).due_at > due
    assert not browser.find_elements(By.ID, "dsr-extend")  # once only

    Select(browser.find_element(By.CSS_SELECTOR, "#dsr-assign select")).select_by_visible_text(
        colleague.username
    )
    _click(browser, "#dsr-assign [type=submit]")
    assert DataSubjectRequest.objects.get(pk=dsr.pk).assigned_to == colleague

    browser.find_element(By.CSS_SELECTOR, "#dsr-note textarea").send_keys("Called back.")
    _click(browser, "#dsr-note [type=submit]")
    assert "Called back." in browser.find_element(By.CSS_SELECTOR, ".dsr-timeline").text

    # A request that needs no approval: Deny is the first decision form on its page.
    browser.find_element(By.CSS_SELECTOR, "#dsr-deny [name=text]").send_keys("Duplicate.")
    _click(browser, "#dsr-deny [type=submit]")
    denied = DataSubjectRequest.objects.get(pk=dsr.pk)
    assert denied.status == "rejected"
    assert denied.outcome == "Duplicate."

    # A step that failed is retried from its button.
    other, _ = services.request_create(
        kind="access",
        channel="api",
        actor=Actor.system("crm"),
        subject=subject,
        verification="service",
    )
    RequestStep.objects.filter(request=other, name="locate").update(status="failed", error="boom")
    _open(browser, hub, other)
    _click(browser, ".dsr-retry [value='Retry locate']")
    assert RequestStep.objects.get(request=other, name="locate").status != "failed"
    assert TimelineEntry.objects.filter(request=other, message="locate: retry").exists()

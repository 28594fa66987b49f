"""What the browser tests share: headless Chromium (Debian's chromium and chromium-driver;
never a download), a customer's site, waiting for a page, signing in to the admin and working
its pages as an officer does. Their fixtures (one Chromium per module, the hub, a fresh session
per test) are in tests/e2e/conftest.py."""

from __future__ import annotations

import http.server
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait


def chromium(*, gpc: bool = False, download_dir: str | None = None) -> webdriver.Chrome:
    """Headless Chromium; with `download_dir`, files the pages hand out land there unasked."""
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.fail("chromium and chromedriver are missing: run `bash scripts/install-browser.sh`")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tempfile.mkdtemp(prefix='custodia-chromium-')}",
    ):
        options.add_argument(flag)
    if download_dir:
        options.add_experimental_option(
            "prefs",
            {"download.default_directory": download_dir, "download.prompt_for_download": False},
        )
    driver = webdriver.Chrome(
        service=Service(executable_path=shutil.which("chromedriver")), options=options
    )
    if download_dir:
        driver.execute_cdp_cmd(
            "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": download_dir}
        )
    if gpc:
        # What a browser with Global Privacy Control on does: the header on every request,
        # and the property scripts can read.
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Sec-GPC": "1"}})
        driver.execute_cdp_cmd(
            "Page.addScriptToEvaluateOnNewDocument",
            {
                "source": "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true});"
            },
        )
    driver.set_page_load_timeout(30)
    return driver


def banner_property(origin: str):
    """A consent property (key `pk_browser`) with every purpose, embedded by `origin`."""
    from consent.models import ConsentProperty, Purpose

    prop = ConsentProperty.objects.create(
        name="Shop", publishable_key="pk_browser", allowed_origins=[origin]
    )
    prop.purposes.set(Purpose.objects.all())
    return prop


@contextmanager
def customer_site(html: str) -> Iterator[str]:
    """A tiny web site on 127.0.0.1 (another origin than the hub) serving one page."""
    body = html.encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def click_for_new_page(driver: webdriver.Chrome, element, timeout: float = 20) -> None:
    """Click `element` (a submit button or a link) and wait until the browser shows the page
    it answers with, fully loaded.

    The old page is told apart by a mark set on its window, not by holding one of its nodes:
    asking a node of a page being replaced is answered, by newer chromedrivers, with "node
    does not belong to the document" rather than as a stale element, so Selenium's
    `staleness_of` fails mid-navigation."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script("window.__custodiaOldPage = true;")
    element.click()

    def loaded(d) -> bool:
        try:
            return bool(
                d.execute_script(
                    "return window.__custodiaOldPage === undefined"
                    " && document.readyState === 'complete';"
                )
            )
        except WebDriverException:  # the page is between documents: ask again
            return False

    WebDriverWait(driver, timeout).until(loaded)


def admin_login(driver: webdriver.Chrome, base_url: str, username: str) -> None:
    """Sign a staff user made by tests.factories.make_staff in to the admin."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{base_url}/admin/login/")
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys("correct horse battery staple")
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(driver, 20).until(lambda d: "/admin/login/" not in d.current_url)


def sign_in(driver: webdriver.Chrome, hub: Any, role: str, regions: list[str] | None = None):
    """A new staff user in `role` seeing `regions` (None: all), signed in to the admin of the
    live server `hub`; the user."""
    from tests.factories import make_staff

    officer = make_staff(role, regions=regions)
    admin_login(driver, str(hub), officer.username)
    return officer


def wait_until(driver: webdriver.Chrome, predicate: Callable[[Any], Any], timeout: float = 20):
    """`predicate(driver)`'s first true value within `timeout` seconds; else an assertion
    error with the browser's console and the end of the page."""
    try:
        return WebDriverWait(driver, timeout).until(lambda d: predicate(d))
    except TimeoutException:
        console = [entry["message"] for entry in driver.get_log("browser")]
        raise AssertionError(
            f"page never got there; console: {console}; page: {driver.page_source[-2000:]}"
        ) from None


def submit(driver: webdriver.Chrome, css: str) -> None:
    """Click a submit button and wait for the page it answers with."""
    click_for_new_page(driver, driver.find_element(By.CSS_SELECTOR, css))
    wait_until(driver, lambda d: d.find_elements(By.ID, "content"))
    assert "Server Error" not in driver.page_source, driver.current_url
    assert "403 Forbidden" not in driver.title, driver.current_url


def page_messages(driver: webdriver.Chrome) -> list[tuple[str, str]]:
    """The admin's messages on the page, as (level, text)."""
    return [
        (li.get_attribute("class"), li.text)
        for li in driver.find_elements(By.CSS_SELECTOR, ".messagelist li")
    ]


def act(
    driver: webdriver.Chrome,
    hub: Any,
    model: str,
    rows: list,
    action: str,
    confirm: str | None = None,
) -> list[tuple[str, str]]:
    """In the change list of `model`, tick `rows`, pick `action` (its label), click Go, and,
    for an action that asks first, `confirm` (the label of the confirmation button). Returns
    the messages the officer sees afterwards."""
    driver.get(f"{hub}/admin/{model}/")
    assert "Server Error" not in driver.page_source, model
    for row in rows:
        box = driver.find_element(
            By.CSS_SELECTOR, f"#result_list input.action-select[value='{row.pk}']"
        )
        box.click()
        assert box.is_selected()
    Select(driver.find_element(By.NAME, "action")).select_by_visible_text(action)
    submit(driver, "#changelist-form button[name=index]")
    if confirm is not None:
        page = driver.find_element(By.ID, "content").text
        assert f"{len(rows)} selected" in page, page
        for row in rows:
            assert str(row) in page
        submit(driver, f"#content form input[type=submit][value='{confirm}']")
    assert f"/admin/{model}/" in driver.current_url
    return page_messages(driver)


def audited(action: str, officer, **where):
    """The one audit event of `action` by `officer` (matching `where`)."""
    from audit.models import AuditEvent

    events = AuditEvent.objects.filter(action=action, actor_label=officer.username, **where)
    assert events.count() == 1, (action, list(AuditEvent.objects.values_list("action", flat=True)))
    return events.get()


def fill(driver: webdriver.Chrome, name: str, value: Any) -> None:
    """Type, tick or pick `value` into the admin form's field `name` as a person would."""
    boxes = driver.find_elements(By.NAME, name)
    assert boxes, f"no field {name!r} on {driver.current_url}"
    box = boxes[0]
    if box.tag_name == "select":
        picker = driver.find_elements(By.ID, f"id_{name}_from")
        if picker:  # filter_horizontal: pick in the left box, click "Choose"
            for text in value:
                Select(picker[0]).select_by_visible_text(text)
                driver.find_element(By.ID, f"id_{name}_add").click()
            return
        select = Select(box)
        for text in value if isinstance(value, list) else [value]:
            try:
                select.select_by_value(str(text))
            except Exception:
                select.select_by_visible_text(str(text))
        return
    if box.get_attribute("type") == "checkbox":
        if len(boxes) > 1:  # a list of checkboxes
            for b in boxes:
                if (b.get_attribute("value") in value) != b.is_selected():
                    b.click()
        elif bool(value) != box.is_selected():
            box.click()
        return
    box.clear()
    box.send_keys(str(value))

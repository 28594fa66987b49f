"""Headless Chromium for browser tests (Debian's chromium and chromium-driver; never a download)."""

from __future__ import annotations

import http.server
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service


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

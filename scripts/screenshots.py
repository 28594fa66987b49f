"""Screenshots of a running hub for the docs, with headless Chromium (Debian's chromium and
chromium-driver; `bash scripts/install-browser.sh` installs them).

Usage: make run (in another terminal), then
       uv run python scripts/screenshots.py [--url http://127.0.0.1:8000] [--out docs/img]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

ROOT = Path(__file__).resolve().parent.parent


def browser(width: int = 1400, height: int = 900) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--window-size={width},{height}",
        f"--user-data-dir={tempfile.mkdtemp(prefix='custodia-chromium-')}",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(
        service=Service(executable_path="/usr/bin/chromedriver"), options=options
    )


def full_page(driver: webdriver.Chrome, width: int = 1400) -> None:
    """Grow the window to the page's height so one screenshot shows all of it."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(max(height + 120, 900), 4000))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--out", default=str(ROOT / "docs" / "img"))
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password", default=None, help="default: <var>/demo-login.txt")
    parser.add_argument("--var-dir", default=str(ROOT / "var"), help="the hub's CUSTODIA_VAR_DIR")
    args = parser.parse_args()
    password = args.password or (Path(args.var_dir) / "demo-login.txt").read_text().strip()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    driver = browser()
    try:
        driver.get(f"{args.url}/admin/login/")
        driver.find_element(By.NAME, "username").send_keys(args.user)
        driver.find_element(By.NAME, "password").send_keys(password)
        driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        driver.get(f"{args.url}/admin/")
        full_page(driver)
        driver.save_screenshot(str(out / "workspace.png"))
        driver.set_window_size(1400, 900)
        driver.get(f"{args.url}/admin/dsar/datasubjectrequest/")
        driver.save_screenshot(str(out / "requests.png"))
        driver.get(f"{args.url}/admin/dsar/datasubjectrequest/?status__exact=awaiting_external")
        driver.find_element(By.CSS_SELECTOR, "#result_list tbody tr th a").click()
        full_page(driver)
        driver.save_screenshot(str(out / "request-detail.png"))
        driver.set_window_size(1400, 900)
        driver.get(f"{args.url}/admin/consent/processingactivity/data-map/")
        full_page(driver)
        driver.save_screenshot(str(out / "data-map.png"))
        driver.set_window_size(1400, 900)
        driver.get(f"{args.url}/admin/consent/processingactivity/art30/")
        driver.save_screenshot(str(out / "art30.png"))
        driver.get(f"{args.url}/admin/profiles/subject/")
        driver.save_screenshot(str(out / "subjects.png"))
        first = driver.find_element(By.CSS_SELECTOR, "#result_list tbody tr th a")
        first.click()
        driver.save_screenshot(str(out / "subject-golden-record.png"))
        driver.get(f"{args.url}/admin/audit/auditevent/")
        driver.save_screenshot(str(out / "audit-log.png"))
    finally:
        driver.quit()
    print(f"screenshots written to {out}")


if __name__ == "__main__":
    main()

"""The admin's remaining buttons, clicked in Chromium as an officer does: the retention preview
and its "Apply now", a store's "Test connection" and "Run discovery" (as buttons on its page and
as bulk actions), a destination's audience export, a SCIM token issued, expired sign-in attempts
cleaned up. Each test reads what the officer relies on: the message, the rows changed, the audit
event written."""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
import time

import pytest
from axes.models import AccessAttempt
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from access.roles import DPO, PRIVACY_OFFICER
from activation.models import Destination
from audit.actors import Actor
from audit.models import AuditEvent
from consent.models import Purpose, RetentionPolicy, RetentionRun
from consent.services import consent_record
from profiles.models import Event, System
from profiles.services import event_dedup_key
from sso.models import IdentityProvider
from stores.connection import store_connection
from stores.demo import demo_people, shop_create
from stores.models import ConnectedStore, StoreDataset
from stores.services import store_discover
from tests.browser import act, admin_login, audited, chromium, fill, page_messages, sign_in, submit
from tests.factories import make_staff, make_subject

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("signed_out"),
]

SYSTEM = Actor.system("tests")


def _event(subject, *, days_ago: int) -> Event:
    when = timezone.now() - dt.timedelta(days=days_ago)
    payload = {"path": f"/p/{days_ago}"}
    return Event.objects.create(
        subject=subject,
        name="page_view",
        payload=payload,
        category="behavioral",
        occurred_at=when,
        dedup_key=event_dedup_key("page_view", when, payload),
    )


def test_an_officer_previews_a_retention_policy_then_applies_it_in_their_region(hub, browser):
    eu, ca = make_subject(region="EU"), make_subject(region="US-CA")
    eu_old, eu_fresh, ca_old = (
        _event(eu, days_ago=800),
        _event(eu, days_ago=10),
        _event(ca, days_ago=800),
    )
    policy = RetentionPolicy.objects.create(
        name="Old page views",
        target="events",
        data_category="behavioral",
        max_age_days=730,
        action="delete",
    )
    officer = sign_in(browser, hub, PRIVACY_OFFICER, regions=["EU"])

    browser.get(f"{hub.url}/admin/consent/retentionpolicy/")
    browser.find_element(
        By.CSS_SELECTOR, f"#result_list input.action-select[value='{policy.pk}']"
    ).click()
    Select(browser.find_element(By.NAME, "action")).select_by_visible_text("Preview (dry run)")
    submit(browser, "#changelist-form button[name=index]")
    page = browser.find_element(By.ID, "content").text
    assert "Nothing has been changed" in page
    assert "in your regions only (EU)" in page
    assert "EU: 1" in page, page
    assert "US-CA" not in page, page
    assert Event.objects.filter(pk__in=[eu_old.pk, eu_fresh.pk, ca_old.pk]).count() == 3

    submit(browser, "#content form input[type=submit][value='Apply now']")
    assert browser.current_url.endswith("/admin/consent/retentionrun/")
    shown = page_messages(browser)
    assert [level for level, _ in shown] == ["success"], shown
    assert not Event.objects.filter(pk=eu_old.pk).exists()
    assert Event.objects.filter(pk=eu_fresh.pk).exists()
    assert Event.objects.filter(pk=ca_old.pk).exists()  # outside the officer's region
    run = RetentionRun.objects.get(policy=policy, dry_run=False)
    assert run.actor_label == officer.username
    assert run.total == 1
    audited("consent.retention.apply", officer)


def _shop(tmp_path) -> ConnectedStore:
    path = tmp_path / "shop.db"
    sqlite3.connect(path).close()
    store = ConnectedStore(name="Shop", dialect="sqlite", database=str(path), timeout_seconds=5)
    store.save()
    with store_connection(store, write=True) as conn:
        shop_create(conn, demo_people())
    return store


def test_an_officer_tests_a_store_and_runs_its_discovery_from_its_page(hub, browser, tmp_path):
    store = _shop(tmp_path)
    officer = sign_in(browser, hub, PRIVACY_OFFICER)
    page = f"{hub.url}/admin/stores/connectedstore/{store.pk}/change/"

    browser.get(page)
    submit(browser, "input[type=submit][name=_check]")
    assert browser.current_url == page
    assert page_messages(browser) == [("success", "Shop: read: ok; write: ok")]
    store.refresh_from_db()
    assert store.last_check_result == "read: ok; write: ok"
    audited("stores.check", officer, object_id=str(store.pk))

    submit(browser, "input[type=submit][name=_discover]")
    [(level, text)] = page_messages(browser)
    assert level == "info"
    assert text.startswith("Shop: 9 tables, "), text
    assert StoreDataset.objects.filter(store=store, status="proposed").count() == 9
    audited("stores.discover", officer, object_id=str(store.pk))


def test_an_officer_tests_and_discovers_stores_by_bulk_actions(hub, browser, tmp_path):
    store = _shop(tmp_path)
    officer = sign_in(browser, hub, PRIVACY_OFFICER)

    shown = act(browser, hub, "stores/connectedstore", [store], "Test the connection")
    assert shown == [("success", "Shop: read: ok; write: ok")]
    audited("stores.check", officer, object_id=str(store.pk))

    [(level, text)] = act(
        browser, hub, "stores/connectedstore", [store], "Run discovery (propose the dataset map)"
    )
    assert level == "info"
    assert text.startswith("Shop: 9 tables, "), text
    assert StoreDataset.objects.filter(store=store).count() == 9
    audited("stores.discover", officer, object_id=str(store.pk))


def test_an_officer_exports_a_destinations_audience_by_the_action(hub, tmp_path):
    yes = make_subject(region="EU", email="yes@example.com")
    consent_record(
        purpose=Purpose.objects.get(slug="marketing_email"),
        state="granted",
        channel="api",
        actor=SYSTEM,
        subject=yes,
    )
    no = make_subject(region="EU", email="no@example.com")
    crm = System.objects.create(name="CRM", kind=System.Kind.DESTINATION)
    destination = Destination.objects.create(system=crm)
    destination.purposes.set([Purpose.objects.get(slug="marketing_email")])
    officer = make_staff(PRIVACY_OFFICER, regions=["EU"])
    driver = chromium(download_dir=str(tmp_path))
    try:
        admin_login(driver, hub.url, officer.username)
        driver.get(f"{hub.url}/admin/activation/destination/")
        driver.find_element(
            By.CSS_SELECTOR, f"#result_list input.action-select[value='{destination.pk}']"
        ).click()
        Select(driver.find_element(By.NAME, "action")).select_by_visible_text(
            "Export the audience as CSV (consented people only; audited)"
        )
        driver.find_element(By.CSS_SELECTOR, "#changelist-form button[name=index]").click()
        target = tmp_path / f"audience-{destination.pk}.csv"
        deadline = time.monotonic() + 20
        while not target.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        driver.quit()
    text = target.read_text()
    assert f"{yes.pk},{hashlib.sha256(b'yes@example.com').hexdigest()}," in text
    assert str(no.pk) not in text
    event = audited("activation.audience.export", officer, object_id=str(destination.pk))
    assert event.reason == "purposes marketing_email; 1 rows"


def test_a_dpo_issues_a_scim_token_and_cleans_up_expired_sign_in_attempts(hub, browser):
    idp = IdentityProvider.objects.create(name="Okta", slug="okta", kind="oidc")
    dpo = sign_in(browser, hub, DPO)

    [(level, text)] = act(
        browser, hub, "sso/identityprovider", [idp], "Issue a SCIM bearer token (shown once)"
    )
    assert level == "warning"
    assert text.startswith("SCIM token for okta (copy it now): "), text
    raw = text.rsplit(": ", 1)[1]
    assert len(raw) > 20
    audited("sso.scim_token.issue", dpo)
    assert raw not in "".join(AuditEvent.objects.values_list("reason", flat=True))


def _attempt(username: str, *, hours_ago: float) -> AccessAttempt:
    attempt = AccessAttempt.objects.create(
        username=username,
        ip_address="192.0.2.1",
        user_agent="test",
        http_accept="*/*",
        path_info="/admin/login/",
        failures_since_start=3,
    )
    then = timezone.now() - dt.timedelta(hours=hours_ago)
    AccessAttempt.objects.filter(pk=attempt.pk).update(attempt_time=then)
    return attempt


def test_an_administrator_cleans_up_expired_sign_in_attempts(hub, browser):
    admin = make_staff(is_superuser=True)
    admin_login(browser, hub.url, admin.username)
    expired = _attempt("old-typo", hours_ago=5)  # made after signing in, which cleans too
    recent = _attempt("recent-typo", hours_ago=0.1)

    shown = act(browser, hub, "axes/accessattempt", [recent], "Clean up expired attempts")
    assert shown == [("success", "Cleaned up 1 expired sign-in attempts.")]
    assert not AccessAttempt.objects.filter(pk=expired.pk).exists()
    assert AccessAttempt.objects.filter(pk=recent.pk).exists()
    event = audited("access.signin_attempts.cleanup", admin)
    assert event.object_id == "count:1"


def _strategy_select(browser, column) -> Select:
    """The strategy picker of `column`'s row in its dataset's inline."""
    row_id = browser.find_element(By.CSS_SELECTOR, f"input[name$='-id'][value='{column.pk}']")
    prefix = row_id.get_attribute("name").removesuffix("-id")
    return Select(browser.find_element(By.NAME, f"{prefix}-strategy"))


def test_an_officer_overrides_a_columns_strategy_and_a_bad_one_is_refused(hub, browser, tmp_path):
    store = _shop(tmp_path)
    store_discover(store=store, actor=SYSTEM)
    customers = StoreDataset.objects.get(store=store, table="customers")
    text = customers.columns.filter(kind="text").exclude(strategy="hash").first()
    not_null = customers.columns.filter(nullable=False).exclude(strategy="set_null").first()
    assert text is not None
    assert not_null is not None
    sign_in(browser, hub, PRIVACY_OFFICER)
    page = f"{hub.url}/admin/stores/storedataset/{customers.pk}/change/"

    browser.get(page)
    _strategy_select(browser, text).select_by_value("hash")
    submit(browser, "input[name=_continue]")
    assert [level for level, _ in page_messages(browser)] == ["success"], page_messages(browser)
    text.refresh_from_db()
    assert text.strategy == "hash"

    _strategy_select(browser, not_null).select_by_value("set_null")
    submit(browser, "input[name=_continue]")
    errors = " ".join(e.text for e in browser.find_elements(By.CSS_SELECTOR, ".errorlist"))
    assert f"{not_null.name}: NOT NULL, cannot be set to NULL" in errors
    before = not_null.strategy
    not_null.refresh_from_db()
    assert not_null.strategy == before


def test_an_administrator_adds_an_officer_with_a_role_and_regions(hub, browser):
    from django.contrib.auth import get_user_model

    from access.models import RegionScope

    admin = make_staff(is_superuser=True)
    admin_login(browser, hub.url, admin.username)

    browser.get(f"{hub.url}/admin/auth/user/add/")
    fill(browser, "username", "new.officer")
    fill(browser, "password1", "a long passphrase 2026")
    fill(browser, "password2", "a long passphrase 2026")
    submit(browser, "input[name=_save]")
    user = get_user_model().objects.get(username="new.officer")
    assert browser.current_url.endswith(f"/admin/auth/user/{user.pk}/change/")

    fill(browser, "is_staff", True)
    fill(browser, "groups", [PRIVACY_OFFICER])
    browser.find_element(By.CSS_SELECTOR, "#region_scope-group .add-row a").click()
    fill(browser, "region_scope-0-regions", '["EU"]')
    submit(browser, "input[name=_save]")
    assert "was changed successfully" in " ".join(t for _, t in page_messages(browser))

    user = get_user_model().objects.get(pk=user.pk)
    assert user.is_staff
    assert [g.name for g in user.groups.all()] == [PRIVACY_OFFICER]
    scope = RegionScope.objects.get(user=user)
    assert (scope.all_regions, scope.regions) == (False, ["EU"])
    assert user.check_password("a long passphrase 2026")


def _delete_selected(browser, hub, model: str, rows: list) -> str:
    """Tick `rows`, pick Django's "Delete selected …", click Go; the page's text."""
    browser.get(f"{hub.url}/admin/{model}/")
    for row in rows:
        browser.find_element(
            By.CSS_SELECTOR, f"#result_list input.action-select[value='{row.pk}']"
        ).click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("delete_selected")
    submit(browser, "#changelist-form button[name=index]")
    return browser.find_element(By.ID, "content").text


def test_a_regional_dpo_deletes_a_system_of_their_region_but_not_one_writing_abroad(hub, browser):
    """A system reaches the regions of its parts: an EU DPO deletes the EU shop (its source
    endpoint writes the EU only) with its endpoint; the US shop reaches California, so neither
    the system (SystemAdmin, `system_regions`) nor its endpoint
    (SourceEndpointAdmin.has_delete_permission) may be deleted by them, even with the
    permission to delete sources (the roles give no one that permission: granted here by hand)."""
    from django.contrib.auth.models import Permission

    from activation.models import SourceEndpoint

    eu_shop = System.objects.create(name="EU shop", kind=System.Kind.SOURCE, scope_regions=["EU"])
    eu_source = SourceEndpoint.objects.create(system=eu_shop, regions=["EU"])
    us_shop = System.objects.create(name="US shop", kind=System.Kind.SOURCE)
    us_source = SourceEndpoint.objects.create(system=us_shop, regions=["US-CA"])
    officer = make_staff(DPO, regions=["EU"])
    officer.user_permissions.add(Permission.objects.get(codename="delete_sourceendpoint"))
    admin_login(browser, hub.url, officer.username)

    page = _delete_selected(browser, hub, "profiles/system", [eu_shop])
    assert "Are you sure" in page
    submit(browser, "#content form input[type=submit]")
    assert page_messages(browser) == [("success", "Successfully deleted 1 system.")]
    assert not System.objects.filter(pk=eu_shop.pk).exists()
    assert not SourceEndpoint.objects.filter(pk=eu_source.pk).exists()

    page = _delete_selected(browser, hub, "profiles/system", [us_shop])
    assert page.startswith("Cannot delete system"), page
    refused = page.split("following types of objects:")[1].strip().splitlines()
    # The system itself and its endpoint (Django lists them from a set: in any order).
    assert {"system", "source endpoint"} <= {line.strip() for line in refused}, page
    assert not browser.find_elements(By.CSS_SELECTOR, "#content form input[type=submit]")
    assert System.objects.filter(pk=us_shop.pk).exists()
    assert SourceEndpoint.objects.filter(pk=us_source.pk).exists()

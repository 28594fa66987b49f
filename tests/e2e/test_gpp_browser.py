"""The banner's IAB GPP CMP API in a real browser: a page's __gpp stub is taken over, the
commands answer, listeners hear a choice, and the ledger keeps the string the page saw."""

import pytest
from selenium.webdriver.common.by import By

from consent.models import ConsentRecord
from tests.browser import banner_property, customer_site, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# A publisher's stub, as the GPP CMP API spec describes one: listeners registered and other
# commands queued before the CMP loads.
STUB = """<script>
window.gppEvents = [];
window.__gpp = function () {
  var a = arguments; __gpp.queue = __gpp.queue || []; __gpp.events = __gpp.events || [];
  if (!a.length) { return __gpp.queue; }
  if (a[0] === "addEventListener") {
    __gpp.lastId = (__gpp.lastId || 0) + 1;
    __gpp.events.push({ id: __gpp.lastId, callback: a[1], parameter: a[2] });
    return;
  }
  if (a[0] === "ping" || a[0] === "hasSection" || a[0] === "getSection" || a[0] === "getField") { return null; }
  __gpp.queue.push([].slice.apply(a));
};
__gpp("addEventListener", function (evt) { window.gppEvents.push([evt.eventName, evt.data, evt.pingData.gppString]); });
</script>"""


def _page(hub: str, region: str) -> str:
    return f"""<!doctype html><html><head><title>Shop</title>{STUB}</head><body><h1>Shop</h1>
<script src="{hub}/consent/banner.js" data-property-key="pk_browser" data-region="{region}"></script>
</body></html>"""


def _gpp(driver, command, parameter=None):
    return driver.execute_script(
        "var out = {}; __gpp(arguments[0], function (d, ok) { out = {data: d, ok: ok}; },"
        " arguments[1]); return out;",
        command,
        parameter,
    )


def test_the_gpp_api_answers_and_a_choice_reaches_listeners_and_the_ledger(hub, driver):
    with customer_site(_page(hub, "US-CA")) as site:
        banner_property(site)
        driver.get(site)
        wait_until(
            driver,
            lambda d: (
                ["signalStatus", "ready"]
                in [e[:2] for e in d.execute_script("return window.gppEvents")]
            ),
        )
        ping = _gpp(driver, "ping")["data"]
        assert (ping["gppVersion"], ping["cmpStatus"], ping["signalStatus"]) == (
            "1.1",
            "loaded",
            "ready",
        )
        assert ping["applicableSections"] == [8]
        assert ping["sectionList"] == [7, 8]
        assert "8:usca" in ping["supportedAPIs"]
        assert _gpp(driver, "hasSection", "usca")["data"] is True
        assert _gpp(driver, "hasSection", "tcfeuv2")["data"] is False
        usnat = _gpp(driver, "getSection", "usnat")["data"]
        assert usnat[1] == {"SubsectionType": 1, "Gpc": False}
        assert _gpp(driver, "getField", "usca.SaleOptOut")["data"] == 2  # did not opt out
        assert driver.execute_script("return !!window.frames.__gppLocator")

        driver.execute_script("window.gppEvents = [];")
        driver.find_element(By.CSS_SELECTOR, "button[data-action=false]").click()  # reject
        wait_until(
            driver,
            lambda d: (
                ["signalStatus", "ready"]
                in [e[:2] for e in d.execute_script("return window.gppEvents")]
            ),
        )
        events = [e[:2] for e in driver.execute_script("return window.gppEvents")]
        assert events[0] == ["signalStatus", "not ready"]
        assert ["sectionChange", "usca"] in events
        assert events[-1] == ["signalStatus", "ready"]
        assert _gpp(driver, "getField", "usca.SaleOptOut")["data"] == 1  # opted out
        shown = _gpp(driver, "ping")["data"]["gppString"]

        listener = driver.execute_script(
            "var id; __gpp('addEventListener', function (e) { id = id || e.listenerId; });"
            " return id;"
        )
        assert _gpp(driver, "removeEventListener", listener)["data"] is True
        assert _gpp(driver, "removeEventListener", listener)["data"] is False
    records = ConsentRecord.objects.filter(subject__isnull=True, channel="banner")
    assert records.exists()
    assert {r.gpp_string for r in records} == {shown}

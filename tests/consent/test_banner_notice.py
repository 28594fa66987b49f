"""A banner write cites the notice the visitor was shown; the ledger keeps it as the proof of
what they were told. Only a notice the property shows (one asking for one of its purposes) is
accepted: a notice of another property, or none at all, is refused with 400 `unknown_notice`
and nothing is recorded."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from consent.models import ConsentProperty, ConsentRecord, Notice, Purpose

pytestmark = pytest.mark.django_db
ORIGIN = "https://shop.example.com"


@pytest.fixture
def shop():
    prop = ConsentProperty.objects.create(
        name="Shop", publishable_key="pk_shop", allowed_origins=[ORIGIN]
    )
    prop.purposes.set(Purpose.objects.filter(slug__in=["essential", "analytics"]))
    cache.clear()
    return prop


def _notice(purpose: str, version: int) -> Notice:
    notice = Notice.objects.create(language="en", version=version, title="T", text="X")
    notice.purposes.set([Purpose.objects.get(slug=purpose)])
    return notice


def _save(client, notice, **body):
    return client.post(
        "/api/v1/consent/public/consents/?key=pk_shop",
        {"visitor_id": "visitor-0001", "choices": {"analytics": "granted"}, "notice": notice}
        | body,
        content_type="application/json",
        HTTP_ORIGIN=ORIGIN,
    )


@pytest.mark.parametrize("other", ["another_property", "missing", "zero"])
def test_a_banner_write_citing_a_notice_the_property_does_not_show_is_refused(client, shop, other):
    _notice("analytics", 1)
    foreign = _notice("marketing_email", 2)  # another property's (this one offers no e-mail)
    cited = {"another_property": foreign.pk, "missing": foreign.pk + 1000, "zero": 0}[other]
    response = _save(client, cited)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["code"], error["fields"]) == (
        "unknown_notice",
        {"notice": ["not a notice of this property"]},
    )
    assert not ConsentRecord.objects.exists()


def test_a_banner_write_citing_its_propertys_notice_records_it(client, shop):
    notice = _notice("analytics", 1)
    response = _save(client, notice.pk)
    assert response.status_code == 200, response.content
    assert ConsentRecord.objects.get().notice_id == notice.pk


@pytest.mark.parametrize("huge", [2**63, 10**40, -(2**63) - 1])
def test_a_notice_id_beyond_any_column_is_a_400_not_a_500(client, shop, huge):
    response = _save(client, huge)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] in ("unknown_notice", "invalid")
    assert not ConsentRecord.objects.exists()

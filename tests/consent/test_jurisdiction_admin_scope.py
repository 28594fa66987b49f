"""A regime decides the banner's defaults, whether Global Privacy Control is honoured and the
request deadlines for the people of its regions: an officer limited to some regions changes or
deletes only regimes of their own regions, and gives a regime none outside them. An EU-limited
officer could otherwise stop Californians' GPC signals being honoured."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.forms.models import model_to_dict

from access.roles import DPO, PRIVACY_OFFICER
from consent.models import Jurisdiction
from tests.factories import make_staff, signed_in

pytestmark = pytest.mark.django_db


def _form(jurisdiction: Jurisdiction, **over: Any) -> dict:
    data = {
        k: ("" if v is None else v)
        for k, v in model_to_dict(jurisdiction).items()
        if k not in ("id",)
    }
    for name in ("regions", "opt_out_rights"):
        if name in data:
            data[name] = json.dumps(data[name])
    for name, value in list(data.items()):
        if isinstance(value, bool):
            if value:
                data[name] = "on"
            else:
                del data[name]
    return {**data, **over}


@pytest.mark.parametrize("role", [PRIVACY_OFFICER, DPO])
def test_a_limited_officer_cannot_change_another_regions_regime(regimes, roles, role):
    ca = Jurisdiction.objects.get(regions=["US-CA"])
    assert ca.honours_gpc
    eu = signed_in(make_staff(role, regions=["EU"]))
    url = f"/admin/consent/jurisdiction/{ca.pk}/change/"
    assert eu.get(url).status_code == 200  # viewed, read-only
    form = _form(ca)
    form.pop("honours_gpc", None)
    assert eu.post(url, form).status_code == 403
    ca.refresh_from_db()
    assert ca.honours_gpc


def test_a_limited_officer_gives_a_regime_no_region_outside_theirs(regimes, roles):
    gdpr = Jurisdiction.objects.get(code="GDPR")
    eu = signed_in(make_staff(PRIVACY_OFFICER, regions=["EU"]))
    url = f"/admin/consent/jurisdiction/{gdpr.pk}/change/"
    r = eu.post(url, _form(gdpr, regions='["EU", "US-CA"]'))
    assert r.status_code == 200
    assert "Outside your regions: US-CA." in r.content.decode()
    gdpr.refresh_from_db()
    assert gdpr.regions == ["EU"]
    # Their own region's regime stays theirs to change.
    r = eu.post(url, _form(gdpr, notes="reviewed"))
    assert r.status_code == 302, r.content
    gdpr.refresh_from_db()
    assert gdpr.notes == "reviewed"


def test_an_officer_of_every_region_changes_any_regime(regimes, roles):
    ca = Jurisdiction.objects.get(regions=["US-CA"])
    officer = signed_in(make_staff(DPO))
    r = officer.post(f"/admin/consent/jurisdiction/{ca.pk}/change/", _form(ca, notes="x"))
    assert r.status_code == 302, r.content


def test_the_us_fallback_regime_is_changed_only_by_staff_covering_the_states_falling_back(
    regimes, roles
):
    """US-XX state regimes fall back to "US" before their effective dates (and for decisions
    dated before them): an officer of the "US" region only would decide for Texans too."""
    us = Jurisdiction.objects.get(code="US")
    states = sorted(r for j in Jurisdiction.objects.filter(fallback="US") for r in j.regions)
    assert states
    url = f"/admin/consent/jurisdiction/{us.pk}/change/"
    us_only = signed_in(make_staff(DPO, regions=["US"]))
    assert us_only.post(url, _form(us, notes="x")).status_code == 403
    us.refresh_from_db()
    assert us.notes != "x"
    assert (
        us_only.post(f"/admin/consent/jurisdiction/{us.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    covering = signed_in(make_staff(DPO, regions=["US", *states]))
    assert covering.post(url, _form(us, notes="x")).status_code == 302
    us.refresh_from_db()
    assert us.notes == "x"


def test_a_regime_of_no_region_is_changed_only_by_staff_of_every_region(regimes, roles):
    gdpr = Jurisdiction.objects.get(code="GDPR")
    blank = Jurisdiction.objects.create(
        code="BLANK", name="Blank", regions=[], consent_model="opt_in"
    )
    eu = signed_in(make_staff(DPO, regions=["EU"]))
    url = f"/admin/consent/jurisdiction/{blank.pk}/change/"
    assert eu.post(url, _form(blank, notes="x")).status_code == 403
    r = eu.post(f"/admin/consent/jurisdiction/{gdpr.pk}/change/", _form(gdpr, regions="[]"))
    assert r.status_code == 200  # refused on the form (a required list of regions)
    gdpr.refresh_from_db()
    assert gdpr.regions == ["EU"]
    assert 'name="_save"' not in eu.get(url).content.decode()  # read-only to them
    assert 'name="_save"' in signed_in(make_staff(DPO)).get(url).content.decode()


def test_a_limited_officer_cannot_take_the_code_other_regions_fall_back_to(regimes, roles):
    """Renaming their own regime to the code Texas falls back to would make it Texas's."""
    Jurisdiction.objects.filter(code="US").delete()
    gdpr = Jurisdiction.objects.get(code="GDPR")
    eu = signed_in(make_staff(DPO, regions=["EU"]))
    r = eu.post(f"/admin/consent/jurisdiction/{gdpr.pk}/change/", _form(gdpr, code="US"))
    assert r.status_code == 200
    assert "Regimes of other regions fall back to this code" in r.content.decode()
    gdpr.refresh_from_db()
    assert gdpr.code == "GDPR"

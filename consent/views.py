"""Pages served by the hub to the public: the banner script, the privacy center, gpc.json."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from consent.banner import ui_language
from consent.consent_mode import consent_mode_defaults
from consent.demo import DEMO_KEY
from consent.identity import identity_assertion_sign
from consent.models import ConsentProperty
from consent.refdata import refdata
from consent.selectors import subject_choices_now
from profiles.selectors import subjects_find_by_identifier

BANNER_JS = Path(__file__).resolve().parent / "static" / "consent" / "banner.js"
GPC_SUPPORT_SINCE = dt.date(2026, 11, 25)


@require_safe
@cache_control(public=True, max_age=300)
def banner_js(request: HttpRequest) -> HttpResponse:
    """The banner script; with `?key=` of an active property, its Google Consent Mode mapping
    and per-region defaults inlined, so they reach the dataLayer before any tag runs."""
    script = BANNER_JS.read_bytes()
    key = request.GET.get("key", "")
    prop = refdata().properties.get(key) if key else None
    if prop is not None and prop.active:
        table = json.dumps(consent_mode_defaults(prop), separators=(",", ":"))
        script = script.replace(b"/*CONSENT_MODE*/null", table.encode(), 1)
    response = HttpResponse(script, content_type="application/javascript; charset=utf-8")
    response["Access-Control-Allow-Origin"] = "*"  # a public script, like any CDN asset
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


@require_safe
def privacy_center(request: HttpRequest) -> HttpResponse:
    """In the language of `?lang=` (the override), else of the browser's Accept-Language, else
    the property's default; the banner inside shows the notice in the same language."""
    key = request.GET.get("key", "")
    prop = ConsentProperty.objects.filter(publishable_key=key, active=True).first() if key else None
    wanted = request.GET.get("lang", "")[:40] or request.META.get("HTTP_ACCEPT_LANGUAGE", "")
    default = prop.default_language if prop else settings.LANGUAGE_CODE
    with translation.override(ui_language(wanted, default)):
        return render(
            request,
            "consent/privacy_center.html",
            {"prop": prop, "notice_language": request.GET.get("lang", "")[:16]},
            status=200 if prop else 404,
        )


@require_safe
@cache_control(public=True, max_age=86400)
def gpc_json(request: HttpRequest) -> JsonResponse:
    """Declares support for Global Privacy Control (https://globalprivacycontrol.org)."""
    return JsonResponse({"gpc": True, "version": 1, "lastUpdate": GPC_SUPPORT_SINCE.isoformat()})


def _demo_customer(request: HttpRequest) -> tuple[ConsentProperty, Any]:
    """The demo shop and the customer it says is logged in (404 outside the demo)."""
    prop = refdata().properties.get(DEMO_KEY)
    if not settings.CUSTODIA_DEMO_PAGES or prop is None:
        raise Http404
    customer = request.GET.get("customer", "C100000")[:20]
    subject = (
        subjects_find_by_identifier(kind="customer_id", value=customer, regions=prop.identity_scope)
        .order_by("pk")
        .first()
    )
    if subject is None:
        raise Http404
    return prop, subject


@require_safe
def demo_identified(request: HttpRequest) -> HttpResponse:
    """The demo shop's page for a logged-in customer: its backend signs who they are, the banner
    passes it along, and the golden record beside it shows their choices arriving."""
    prop, subject = _demo_customer(request)
    assertion = identity_assertion_sign(
        secret=prop.identity_secret,
        kind="customer_id",
        value=request.GET.get("customer", "C100000"),
    )
    return render(
        request,
        "consent/demo_identified.html",
        {
            "prop": prop,
            "subject_id": subject.pk,
            "assertion": assertion,
            "customer": request.GET.get("customer", "C100000")[:20],
            "choices": subject_choices_now(subject_id=subject.pk),
        },
    )


@require_safe
def demo_identified_record(request: HttpRequest) -> JsonResponse:
    """The demo customer's current choices in the golden record."""
    _, subject = _demo_customer(request)
    return JsonResponse(
        {"subject": str(subject.pk), "choices": subject_choices_now(subject_id=subject.pk)}
    )

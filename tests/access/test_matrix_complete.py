"""Every API endpoint is either in the access matrix or declared free of personal data, every
write endpoint and every write of a scoped admin (its actions, add form and own pages) is in
the write matrix, and every action and own page of every other model admin is in a matrix or
declared free of personal data, so a new endpoint or admin action cannot ship without its row
in docs/access.md. Every admin of a model holding subject references is scoped by
construction (ScopedAdmin or AllRegionsOnlyAdmin) or reviewed one by one below."""

import re

from django.contrib import admin
from django.db import models
from django.urls import URLPattern, URLResolver, get_resolver

from access.admin_base import AllRegionsOnlyAdmin, ScopedAdmin
from tests.access.matrix import MATRIX, WRITE_MATRIX

# Endpoints that show no personal data of subjects, or whose scoping is tested elsewhere.
NOT_PERSONAL = {
    "api/v1/access/me/": "the caller's own roles and scopes",
    "api/v1/access/tokens/": "token metadata; DPO only (tests/access/test_tokens.py)",
    "api/v1/access/tokens/<int:token_id>/revoke/": "token metadata; DPO only",
    "api/v1/profiles/imports/<uuid:job_id>/": "progress counters of the caller's own import",
    "api/v1/profiles/imports/<uuid:job_id>/errors/": "line numbers and reasons, never values",
    "api/v1/consent/tcf/decode/": "decodes a string the caller sends",
    "api/v1/consent/gpp/decode/": "decodes a string the caller sends",
    "api/v1/consent/public/config/": "public banner API: a visitor's own choices by property key "
    "(POST: the visitor id in the body, not the URL)",
    "api/v1/consent/public/consents/": "public banner API: records a visitor's own choices",
    "api/v1/consent/public/identify/": "public banner API: an assertion signed by the site's "
    "backend; scoped to the property's identity regions (tests/consent/test_signals.py)",
    "api/v1/dsar/intake/": "public intake: answers the same whether or not data is held",
    "api/v1/dsar/intake/confirm/": "public: a reference and a code, never personal data",
    "api/v1/dsar/callbacks/<uuid:task_id>/": "signed by the connected system; returns a status",
    "api/v1/sources/<uuid:source_id>/events/": "signed by the source; returns the inbox id only "
    "(its writes are scoped by the source's regions, tests/activation)",
}


# Write endpoints whose scoping is not by the caller's regions: public (the person themselves),
# signed by a connected system, or touching no subject's data.
WRITES_WITHOUT_REGION_SCOPE = {
    "api/v1/access/tokens/",
    "api/v1/access/tokens/<int:token_id>/revoke/",
    "api/v1/consent/tcf/decode/",
    "api/v1/consent/gpp/decode/",
    "api/v1/consent/public/config/",
    "api/v1/consent/public/consents/",
    "api/v1/consent/public/identify/",
    "api/v1/dsar/intake/",
    "api/v1/dsar/intake/confirm/",
    "api/v1/dsar/callbacks/<uuid:task_id>/",
    "api/v1/sources/<uuid:source_id>/events/",
}
WRITE_METHODS = ("post", "put", "patch", "delete")


def _routes(resolver: URLResolver, prefix: str = "") -> list[tuple[str, object]]:
    routes = []
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            routes += _routes(pattern, route)
        elif isinstance(pattern, URLPattern):
            routes.append((route, getattr(pattern.callback, "cls", None)))
    return routes


def _api_routes() -> dict[str, object]:
    return {r: view for r, view in _routes(get_resolver()) if r.startswith("api/v1/")}


def _route_of(endpoint: str) -> str:
    path = endpoint.split(" ")[1].split("?")[0].lstrip("/")
    return (
        path.replace("{id}", "<uuid:subject_id>")
        .replace("{record}", "<uuid:record_id>")
        .replace("{request}", "<uuid:request_id>")
        .replace("{destination}", "<int:destination_id>")
    )


def _matrix_routes(matrix: dict, methods: tuple[str, ...] = ("GET ", "POST ")) -> set[str]:
    return {_route_of(e) for e in matrix if e.startswith(methods)}


def test_every_api_endpoint_is_in_the_matrix_or_declared_non_personal():
    covered = _matrix_routes(MATRIX) | _matrix_routes(WRITE_MATRIX)
    missing = sorted(set(_api_routes()) - covered - set(NOT_PERSONAL))
    assert missing == [], f"add these endpoints to tests/access/matrix.py: {missing}"


def test_every_write_endpoint_is_in_the_write_matrix():
    """A route whose view writes (POST/PUT/PATCH/DELETE) is in the write matrix, or is a read
    by POST in the read matrix, or is declared free of region scope above."""
    writes = {
        route
        for route, view in _api_routes().items()
        if view is not None and any(hasattr(view, m) for m in WRITE_METHODS)
    }
    covered = _matrix_routes(WRITE_MATRIX) | _matrix_routes(MATRIX, ("POST ",))
    missing = sorted(writes - covered - WRITES_WITHOUT_REGION_SCOPE)
    assert missing == [], f"add these write endpoints to WRITE_MATRIX: {missing}"


def _admin_entries(*, scoped_only: bool) -> set[str]:
    """Each model admin's actions, add form (when it has its own) and own pages (get_urls
    beyond the standard ones); `scoped_only`: of the ScopedAdmin subclasses only."""
    standard = {"changelist", "add", "history", "delete", "change", "autocomplete"}
    found = set()
    for model, model_admin in admin.site._registry.items():
        if scoped_only and not isinstance(model_admin, ScopedAdmin):
            continue
        name = model._meta.verbose_name
        found |= {f"admin: {name}, action {action}" for action in model_admin.actions or ()}
        own = type(model_admin).__dict__
        if scoped_only and ("add_view" in own or "save_model" in own):
            found.add(f"admin: {name}, add")
        prefix = f"{model._meta.app_label}_{model._meta.model_name}_"
        for url in model_admin.get_urls():
            page = (url.name or "").removeprefix(prefix)
            if url.name and page not in standard:
                found.add(f"admin: {name}, {page}")
    return found


def test_every_scoped_admin_write_is_in_the_write_matrix():
    missing = sorted(_admin_entries(scoped_only=True) - set(WRITE_MATRIX))
    assert missing == [], f"add these admin writes to WRITE_MATRIX: {missing}"


# Views that are not behind the scoped base view, and why.
OUTSIDE_THE_DOOR = {
    "api/v1/access/me/": "the caller's own roles and scopes, for tokens of any scope",
    "api/v1/consent/public/": "public banner API: a property key, the visitor's own choices",
    "api/v1/dsar/intake/": "public intake: the person, confirmed by a mailed code",
    "api/v1/dsar/callbacks/": "signed by the connected system",
    "api/v1/sources/": "signed by the source; writes scoped by the source's regions",
}


def test_every_api_view_goes_through_the_scoped_base_view():
    """A new endpoint derives from access.api.base.ScopedAPIView (or ScopedViewMixin), so its
    token scope, role permission and region-scoped actor come by construction."""
    from access.api.base import ScopedViewMixin

    outside = sorted(
        route
        for route, view in _api_routes().items()
        if view is not None
        and not issubclass(view, ScopedViewMixin)
        and not route.startswith(tuple(OUTSIDE_THE_DOOR))
    )
    assert outside == [], f"derive these views from access.api.base.ScopedAPIView: {outside}"


# Actions and own pages of the model admins that do not derive from ScopedAdmin, as
# "admin: <model>, action <name>" or "admin: <model>, <url name>", that show or change no
# subject's personal data (each read before it was listed here).
ADMIN_NOT_PERSONAL = {
    "admin: api token, action revoke": "token metadata; DPO only (tests/access/test_tokens.py)",
    "admin: source endpoint, preview": "what the mapping makes of a sample the officer pastes, "
    "masked; writes nothing",
    "admin: source endpoint, action rotate_secret": "the source's signing secret",
    "admin: audit alert, action acknowledge": "marks chain/volume alerts seen; no subject data",
    "admin: user, password_change": "a staff account's password (staff, not subjects)",
    "admin: access attempt, action cleanup_expired_attempts": "staff sign-in attempts (axes)",
    "admin: consent property, action rotate_identity_secret": "the property's signing secret",
    "admin: processing activity, art30": "the Art. 30 record: activities, categories, no people",
    "admin: processing activity, art30_csv": "the Art. 30 record as CSV",
    "admin: processing activity, datamap": "systems and purposes; audience counts within the "
    "viewer's regions, never who (tests/activation/test_audience.py)",
    "admin: retention policy, action preview": "dry run: counts per region within the officer's "
    "regions, writes nothing",
    "admin: system connector, action rotate_secret": "the connected system's signing secret",
    "admin: TOTP device, config": "a staff member's second-factor device",
    "admin: TOTP device, qrcode": "a staff member's second-factor device",
    "admin: identity provider, action issue_scim_token": "an SSO provider's SCIM token",
    "admin: connected store, action check_connection": "connects and reports reachable or not",
    "admin: connected store, action discover": "table and column names and how many sampled "
    "values match a pattern; the values are read in memory, never stored or shown",
    "admin: store dataset, action approve": "the dataset map (columns and strategies), no rows",
    "admin: store dataset, action ignore": "the dataset map (columns and strategies), no rows",
}


def _row_names(matrix: dict) -> set[str]:
    """A matrix's rows without their explanation in parentheses."""
    return {endpoint.split(" (")[0] for endpoint in matrix}


def test_every_admin_action_and_page_is_in_a_matrix_or_declared_non_personal():
    """Every admin, scoped or not: a CSV export or a page showing people on a plain
    ModelAdmin (the per-purpose export on destinations) cannot escape the matrix."""
    covered = _row_names(MATRIX) | _row_names(WRITE_MATRIX)
    declared = set(ADMIN_NOT_PERSONAL)
    missing = sorted(_admin_entries(scoped_only=False) - covered - declared)
    assert missing == [], f"add these admin pages or actions to tests/access/matrix.py: {missing}"
    stale = sorted(declared - _admin_entries(scoped_only=False))
    assert stale == [], f"no longer in the admin, remove from the lists: {stale}"


# A field named for a subject or visitor reference: subject, subject_id, merged_subject_id,
# visitor_id, subject_ids (not subject_categories, a list of kinds of people).
SUBJECT_REFERENCE = re.compile(r"(^|_)(subject|visitor)(_ids?)?$")

# Fields holding subject references under another name, as "app.Model": "field: what it holds"
# (each read before it was listed here).
REFERENCES_UNDER_OTHER_NAMES = {
    "consent.WebhookDelivery": "payload: a consent change's subject and visitor ids, an "
    "audience push's ids",
}

# Admins of models holding subject references that derive from neither ScopedAdmin nor
# AllRegionsOnlyAdmin, as "app.Model": "how its rows are scoped, and where that is tested".
# Reviewed one by one: a plain admin.ModelAdmin lists every region's subjects to any officer.
SCOPED_OTHERWISE = {
    "audit.AuditEvent": "append-only log, no restrict(): get_queryset is audit_events_filter("
    "regions=allowed_regions(user)) (access/admin_audit.py); the admin audit search row of the "
    "access matrix",
}


def _holds_subject_references(model: type[models.Model]) -> bool:
    """A foreign key to a subject or to another scoped model's rows, a field named for a subject
    or visitor id, or a field listed in REFERENCES_UNDER_OTHER_NAMES."""
    if model._meta.label in REFERENCES_UNDER_OTHER_NAMES:
        return True
    for field in model._meta.concrete_fields:
        related = field.related_model
        if related is not None and hasattr(related.objects, "restrict"):
            return True
        if SUBJECT_REFERENCE.search(field.name):
            return True
    return False


def _unscoped_admins_of_subject_references(site: admin.AdminSite) -> dict[str, str]:
    """ "app.Model" -> admin class, for every admin (and inline) of a model holding subject
    references that is neither scoped by construction nor declared in SCOPED_OTHERWISE."""
    found = {}
    for model, model_admin in site._registry.items():
        by_construction = isinstance(model_admin, ScopedAdmin | AllRegionsOnlyAdmin)
        shown = [(model, model_admin)]
        shown += [(inline.model, model_admin) for inline in model_admin.inlines]
        for shown_model, shown_by in shown:
            label = shown_model._meta.label
            if by_construction or label in SCOPED_OTHERWISE:
                continue
            if _holds_subject_references(shown_model):
                found[label] = type(shown_by).__qualname__
    return found


def test_every_admin_of_subject_references_is_scoped_by_construction():
    """A plain admin.ModelAdmin for a model naming subjects lists every region's people to any
    officer who may view it (the webhook outbox did, until its admin was restricted)."""
    unscoped = _unscoped_admins_of_subject_references(admin.site)
    assert unscoped == {}, (
        "derive these admins from access.admin_base.ScopedAdmin (rows with a region) or "
        f"AllRegionsOnlyAdmin (no region), or review and add them to SCOPED_OTHERWISE: {unscoped}"
    )


def test_the_review_lists_hold_no_stale_entry():
    registered = {
        model._meta.label: model_admin for model, model_admin in admin.site._registry.items()
    }
    for label in SCOPED_OTHERWISE:
        assert label in registered, f"{label} has no admin any more"
        assert not isinstance(registered[label], ScopedAdmin | AllRegionsOnlyAdmin), label
        assert _holds_subject_references(registered[label].model), label
    for label in REFERENCES_UNDER_OTHER_NAMES:
        assert label in registered, f"{label} has no admin any more"


def test_a_plain_admin_of_a_model_naming_subjects_is_caught():
    """The check itself: a foreign key to a subject, a visitor id, a subject id held as text."""
    from consent.models import ConsentRecord
    from dsar.models import LegalHold
    from profiles.models import System

    site = admin.AdminSite(name="matrix-check")
    for model in (LegalHold, ConsentRecord, System):
        site.register(model, admin.ModelAdmin)
    assert _unscoped_admins_of_subject_references(site) == {
        "dsar.LegalHold": "ModelAdmin",
        "consent.ConsentRecord": "ModelAdmin",
    }
    site = admin.AdminSite(name="matrix-check-scoped")
    site.register(LegalHold, ScopedAdmin)
    assert _unscoped_admins_of_subject_references(site) == {}

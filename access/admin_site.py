"""The admin site: staff must pass a TOTP second factor when CUSTODIA_REQUIRE_MFA is on, every
form edits JSON columns and many-to-many relations with the checked fields of core.forms, and
the autocomplete endpoint never searches an admin searched by personal data."""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models.base import ModelBase
from django.http import HttpRequest
from django_otp.admin import OTPAdminAuthenticationForm

from access.admin_search import PrivateSearchMixin
from core.forms import CheckedJSONField, CheckedModelMultipleChoiceField

# Set in the session by a single sign-on (the IdP did the strong authentication, so the
# TOTP requirement is met by it); written by sso's views, read here.
SSO_SESSION_KEY = "custodia_sso_provider"
_CHECKED_FORM_FIELDS = {
    models.JSONField: CheckedJSONField,
    models.ManyToManyField: CheckedModelMultipleChoiceField,
}


class CustodiaAdminSite(admin.AdminSite):
    site_header = "Custodia"
    site_title = "Custodia privacy hub"
    index_title = "Privacy workspace"
    # A site above may bring its own form (it must ask for TOTP when CUSTODIA_REQUIRE_MFA is on).
    password_login_form: Any = None

    def has_permission(self, request: HttpRequest) -> bool:
        if not super().has_permission(request):
            return False
        # django_otp's middleware gives the user `is_verified`; the stubs do not know it.
        if not settings.CUSTODIA_REQUIRE_MFA or cast(Any, request.user).is_verified():
            return True
        return bool(request.session.get(SSO_SESSION_KEY))

    def login(self, request: HttpRequest, extra_context: dict | None = None):
        default = OTPAdminAuthenticationForm if settings.CUSTODIA_REQUIRE_MFA else None
        self.login_form = self.password_login_form or default
        return super().login(request, extra_context)

    def autocomplete_view(self, request: HttpRequest):
        return PrivateAutocompleteJsonView.as_view(admin_site=self)(request)

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        """Every model admin and its inlines, ours and third parties', edit a JSON column and a
        many-to-many relation with the fields of core.forms: Django's own were a 500 on JSON
        nested a few thousand deep and on an id beyond the column."""
        if isinstance(model_or_iterable, ModelBase):
            model_or_iterable = [model_or_iterable]
        registered = list(model_or_iterable)
        super().register(registered, admin_class, **options)
        for model in registered:  # the admins just made (the others have theirs already)
            model_admin = self._registry[model]
            overrides = cast(dict, model_admin.formfield_overrides)  # the instance's own copy
            overrides.update(_with_checked_fields(overrides))
            for inline in model_admin.inlines:  # made per request from the class's overrides
                inline.formfield_overrides = _with_checked_fields(inline.formfield_overrides)


def _with_checked_fields(overrides: Any) -> dict:
    """Form field overrides with the checked fields as the form class (unless one is named)."""
    merged = dict(overrides)
    for db_field, form_class in _CHECKED_FORM_FIELDS.items():
        merged[db_field] = {"form_class": form_class, **merged.get(db_field, {})}
    return merged


class PrivateAutocompleteJsonView(AutocompleteJsonView):
    """Django's autocomplete (`/admin/autocomplete/?term=`) runs the search of the admin a
    foreign key points at, by GET: for an admin searched by personal data (PrivateSearchMixin:
    an e-mail, a phone number, a visitor id) the value went into the URL, unaudited, and the
    answer told whether that person is known. Those admins answer 403 here (none of our forms
    uses an autocomplete widget on them); the others as Django does."""

    def process_request(self, request: HttpRequest):
        term, model_admin, source_field, to_field_name = super().process_request(request)
        if isinstance(model_admin, PrivateSearchMixin):
            raise PermissionDenied
        return term, model_admin, source_field, to_field_name

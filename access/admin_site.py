"""The admin site: staff must pass a TOTP second factor when CUSTODIA_REQUIRE_MFA is on."""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest
from django_otp.admin import OTPAdminAuthenticationForm

# Set in the session by a single sign-on (the IdP did the strong authentication, so the
# TOTP requirement is met by it); written by sso's views, read here.
SSO_SESSION_KEY = "custodia_sso_provider"


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

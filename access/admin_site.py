"""The admin site: staff must pass a TOTP second factor when CUSTODIA_REQUIRE_MFA is on."""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest
from django_otp.admin import OTPAdminAuthenticationForm


class CustodiaAdminSite(admin.AdminSite):
    site_header = "Custodia"
    site_title = "Custodia privacy hub"
    index_title = "Privacy workspace"

    def has_permission(self, request: HttpRequest) -> bool:
        if not super().has_permission(request):
            return False
        # django_otp's middleware gives the user `is_verified`; the stubs do not know it.
        return not settings.CUSTODIA_REQUIRE_MFA or cast(Any, request.user).is_verified()

    def login(self, request: HttpRequest, extra_context: dict | None = None):
        self.login_form = OTPAdminAuthenticationForm if settings.CUSTODIA_REQUIRE_MFA else None
        return super().login(request, extra_context)

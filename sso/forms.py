"""The admin's password login, aware of SSO-only domains and of the break-glass superuser."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django_otp.admin import OTPAdminAuthenticationForm

from audit.actors import Actor
from sso.selectors import sso_only_domain
from sso.services import break_glass_record

SSO_ONLY_MESSAGE = (
    "Your organisation signs you in through single sign-on: use the \u201cSign in with\u201d "
    "button below instead of a password."
)


class SsoAwareLoginForm(OTPAdminAuthenticationForm):
    """Password + TOTP when MFA is required. A user of an SSO-only domain is refused, except a
    superuser with a TOTP code (break-glass), whose every use is audited and alerted."""

    break_glass = False

    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        if sso_only_domain(user.email) and not user.is_superuser:
            raise forms.ValidationError(SSO_ONLY_MESSAGE, code="sso_only")

    def clean(self):
        self.cleaned_data = AdminAuthenticationForm.clean(self)
        user = self.get_user()
        self.break_glass = bool(user is not None and sso_only_domain(user.email))
        if settings.CUSTODIA_REQUIRE_MFA or self.break_glass:
            self.clean_otp(user)
        if self.break_glass:
            break_glass_record(user=user, actor=Actor.from_request(self.request))
        return self.cleaned_data

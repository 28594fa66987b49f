"""Access administration: region scopes on staff users, API tokens (secret shown once),
unmask grants (read-only: created with a reason through the API or the subject page);
sign-in attempts and authenticator devices (the third-party admins, mended)."""

from __future__ import annotations

from typing import Any, cast

from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice

from access import (
    admin_audit,  # noqa: F401  registers audit's screens (see the module)
    services,
)
from access.admin_base import ScopedAdmin
from access.admin_search import PrivateSearchMixin
from access.models import ApiToken, RegionScope, UnmaskGrant
from access.scoping import actor_for, allowed_regions
from access.selectors import api_tokens_visible, service_accounts_visible
from audit.actors import Actor
from audit.services import audit_record
from core.admin import ReadOnlyAdminMixin
from core.errors import DomainError


class RegionScopeInline(admin.StackedInline):
    model = RegionScope
    can_delete = False
    extra = 0


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class StaffUserAdmin(PrivateSearchMixin, UserAdmin):
    inlines = [RegionScopeInline]
    list_display = ["username", "is_staff", "is_active", "roles", "regions", "last_login"]
    list_filter = ["is_staff", "is_active", "groups"]

    # Who may do what, and where, is the first thing a regulator asks to be shown: every
    # change to a staff account (its roles, permissions, status, password, region scope) is
    # appended to the audit chain with the names of what changed, never values.
    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        entry = super().log_addition(request, obj, message)
        self._audit(request, obj, "access.staff.create", message)
        return entry

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        entry = super().log_change(request, obj, message)
        self._audit(request, obj, "access.staff.update", message)
        return entry

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        entries = super().log_deletions(request, queryset)
        for obj in queryset:
            self._audit(request, obj, "access.staff.delete", [])
        return entries

    def _audit(self, request: HttpRequest, obj: Any, action: str, message: Any) -> None:
        """One audit event naming what Django's change message says changed: the account's
        fields, and inline rows as "<row>" or "<row>.<field>" (never the values)."""
        fields: set[str] = set()
        parts = message if isinstance(message, list) else []
        for detail in (d for part in parts if isinstance(part, dict) for d in part.values()):
            if not isinstance(detail, dict):
                continue
            row, named = str(detail.get("name", "")), detail.get("fields", [])
            fields.update(f"{row}.{f}" if row else str(f) for f in named)
            if row and not named:
                fields.add(row)
        audit_record(
            actor=actor_for(request),
            action=action,
            object_type="auth.user",
            object_id=obj.pk,
            fields=sorted(fields),
        )

    def get_queryset(self, request: HttpRequest):
        # The roles and regions columns: read with the page, not a query per staff member.
        return (
            super().get_queryset(request).select_related("region_scope").prefetch_related("groups")
        )

    @admin.display(description="roles")
    def roles(self, user) -> str:
        return ", ".join(g.name for g in user.groups.all())

    @admin.display(description="regions")
    def regions(self, user) -> str:
        try:
            return str(user.region_scope)
        except RegionScope.DoesNotExist:
            return "no region"


class ApiTokenForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=[(s, s) for s in services.TOKEN_SCOPES], widget=forms.CheckboxSelectMultiple
    )
    regions = forms.CharField(required=False, help_text="comma-separated region codes")

    class Meta:
        model = ApiToken
        fields = ["user", "name", "scopes", "all_regions", "regions", "expires_at"]

    issuer: Actor | None = None  # set by the admin: the officer, with their regions

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "user" in self.fields:
            user_field = cast(forms.ModelChoiceField, self.fields["user"])
            # Another region's service accounts are neither listed nor accepted (no issuer:
            # none at all, failing closed).
            regions = self.issuer.regions if self.issuer is not None else frozenset()
            user_field.queryset = service_accounts_visible(regions=regions)
            user_field.help_text = "a service account (tokens are for no one else)"

    def clean_regions(self) -> list[str]:
        return [r.strip().upper() for r in self.cleaned_data["regions"].split(",") if r.strip()]

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        shape = services.api_token_shape_refusals(
            scopes=cleaned.get("scopes") or [],
            regions=cleaned.get("regions"),
            all_regions=bool(cleaned.get("all_regions")),
        )
        for field, errors in shape.items():
            if field not in self.errors:
                self.add_error(field, errors)
        if cleaned.get("user") is not None:
            refusals = services.api_token_refusals(
                user=cleaned["user"], expires_at=cleaned.get("expires_at")
            )
            for field, errors in refusals.items():
                self.add_error(field, errors)
        if self.issuer is not None:
            reach = services.api_token_reach_refusals(
                actor=self.issuer,
                regions=cleaned.get("regions"),
                all_regions=bool(cleaned.get("all_regions")),
            )
            for field, errors in reach.items():
                self.add_error(field, errors)
        return cleaned


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    form = ApiTokenForm
    list_display = [
        "name",
        "token_prefix",
        "user",
        "scopes",
        "all_regions",
        "regions",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    actions = ["revoke"]

    def get_queryset(self, request: HttpRequest):
        """Tokens reaching no region outside the officer's (and their own), as the API lists."""
        return api_tokens_visible(user=request.user, regions=allowed_regions(request.user))

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return ["token_prefix", "created_at", "last_used_at", "revoked_at"] if obj else []

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"issuer": actor_for(request)})

    def save_model(self, request: HttpRequest, obj: ApiToken, form, change: bool) -> None:
        if change:
            return
        token, raw = services.api_token_create(
            user=obj.user,
            name=obj.name,
            scopes=form.cleaned_data["scopes"],
            regions=form.cleaned_data["regions"],
            all_regions=obj.all_regions,
            expires_at=obj.expires_at,
            actor=actor_for(request),
        )
        obj.pk = token.pk
        messages.warning(request, f"Copy this token now, it will not be shown again: {raw}")

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(description="Revoke selected tokens", permissions=["add"])
    def revoke(self, request: HttpRequest, queryset) -> None:
        """Only tokens reaching no region outside the officer's own (the service refuses the
        others); each refusal is named."""
        actor, done = actor_for(request), 0
        for token in queryset.select_related("user", "user__region_scope"):
            try:
                services.api_token_revoke(token=token, actor=actor)
                done += 1
            except DomainError as exc:
                messages.error(request, f"{token.name} ({token.token_prefix}): {exc.message}")
        messages.success(request, f"{done} token(s) revoked.")


@admin.register(UnmaskGrant)
class UnmaskGrantAdmin(ReadOnlyAdminMixin, ScopedAdmin):
    list_display = readonly_fields = ("user", "subject_id", "reason", "created_at", "expires_at")


admin.site.unregister(AccessAttempt)
admin.site.unregister(AccessLog)
admin.site.unregister(AccessFailureLog)


@admin.register(AccessAttempt)
class SignInAttemptAdmin(PrivateSearchMixin, AccessAttemptAdmin):
    """django-axes' sign-in attempts, searched by the username typed and the IP address (by
    POST, never `?q=`). Its cleanup action answered 500: axes reads the attempt time it stamps
    on sign-in requests only. Here it needs the delete permission (it lifts lockouts) and is
    audited."""

    actions = ["cleanup_expired_attempts"]

    @admin.action(description="Clean up expired attempts", permissions=["delete"])
    def cleanup_expired_attempts(self, request: HttpRequest, queryset) -> None:
        request.axes_attempt_time = timezone.now()  # type: ignore[attr-defined]
        count = self.handler.clean_expired_user_attempts(request=request)
        audit_record(
            actor=Actor.from_request(request),
            action="access.signin_attempts.cleanup",
            object_type="axes.accessattempt",
            object_id=f"count:{count}",
        )
        messages.success(request, f"Cleaned up {count} expired sign-in attempts.")


@admin.register(AccessLog)
class SignInLogAdmin(PrivateSearchMixin, AccessLogAdmin):
    """django-axes' sign-in log, searched by username and IP address by POST, never `?q=`."""


@admin.register(AccessFailureLog)
class SignInFailureLogAdmin(PrivateSearchMixin, AccessFailureLogAdmin):
    """django-axes' log of failed sign-ins, searched by username and IP address by POST."""


admin.site.unregister(TOTPDevice)


@admin.register(TOTPDevice)
class AuthenticatorDeviceAdmin(PrivateSearchMixin, TOTPDeviceAdmin):
    """django-otp's TOTP devices, searched by their staff member's username and e-mail by POST
    (never `?q=`). Its configuration and QR code pages looked the device up with
    `.get()`: an id that is no device was a 500 (DoesNotExist); here it is a 404."""

    def config_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        get_object_or_404(TOTPDevice, pk=pk)
        return super().config_view(request, pk)

    def qrcode_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        get_object_or_404(TOTPDevice, pk=pk)
        return super().qrcode_view(request, pk)

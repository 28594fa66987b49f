"""SSO configuration screens: identity providers, SSO-only domains, group mappings.
Officers (DPO) and superusers only."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from access.roles import DPO
from audit.actors import Actor
from sso.models import GroupMapping, IdentityProvider, SsoDomain
from sso.services import scim_token_issue


class _OfficersOnly:
    def _allowed(self, request) -> bool:
        user = request.user
        return bool(
            user.is_active
            and user.is_staff
            and (user.is_superuser or user.groups.filter(name=DPO).exists())
        )

    def has_module_permission(self, request):
        return self._allowed(request)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request)

    def has_add_permission(self, request, obj=None):
        # ModelAdmin calls it with the request, an inline with the parent object too.
        return self._allowed(request)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request)

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request)


class IdentityProviderForm(forms.ModelForm):
    client_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted with the hub's keyring; leave empty to keep the current one",
    )

    issuer = forms.URLField(required=False, assume_scheme="https", max_length=500)
    sso_url = forms.URLField(
        label="IdP SSO URL", required=False, assume_scheme="https", max_length=500
    )

    class Meta:
        model = IdentityProvider
        fields = [
            "name",
            "slug",
            "kind",
            "enabled",
            "issuer",
            "client_id",
            "client_secret",
            "entity_id",
            "sso_url",
            "certificate",
            "groups_claim",
        ]

    def save(self, commit=True):
        provider = super().save(commit=False)
        if self.cleaned_data.get("client_secret"):
            provider.set_client_secret(self.cleaned_data["client_secret"])
        if commit:
            provider.save()
        return provider


class GroupMappingInline(_OfficersOnly, admin.TabularInline):
    model = GroupMapping
    extra = 1


@admin.register(IdentityProvider)
class IdentityProviderAdmin(_OfficersOnly, admin.ModelAdmin):
    form = IdentityProviderForm
    list_display = ["name", "kind", "slug", "enabled"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [GroupMappingInline]
    actions = ["issue_scim_token"]

    @admin.action(description="Issue a SCIM bearer token (shown once)")
    def issue_scim_token(self, request, queryset):
        for provider in queryset:
            raw = scim_token_issue(provider=provider, actor=Actor.from_request(request))
            messages.warning(request, f"SCIM token for {provider.slug} (copy it now): {raw}")


@admin.register(SsoDomain)
class SsoDomainAdmin(_OfficersOnly, admin.ModelAdmin):
    list_display = ["domain", "provider"]


@admin.register(GroupMapping)
class GroupMappingAdmin(_OfficersOnly, admin.ModelAdmin):
    list_display = ["provider", "value", "role", "all_regions", "regions"]
    list_filter = ["provider", "role"]

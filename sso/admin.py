"""SSO configuration screens: identity providers, SSO-only domains, group mappings.
Officers (DPO) and superusers see them; only those who see every region change them. A group
mapping grants roles and regions at every sign-in, and a provider decides who signs in with
which groups: an officer limited to some regions who could change either could grant
themselves (or anyone) every region."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages

from access.roles import DPO
from access.scoping import allowed_regions
from audit.actors import Actor
from core.regions import KNOWN_REGIONS
from sso import saml
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

    def _may_change(self, request) -> bool:
        """Officers who see every region (and superusers): SSO settings grant regions."""
        return self._allowed(request) and allowed_regions(request.user) is None

    def has_add_permission(self, request, obj=None):
        # ModelAdmin calls it with the request, an inline with the parent object too.
        return self._may_change(request)

    def has_change_permission(self, request, obj=None):
        return self._may_change(request)

    def has_delete_permission(self, request, obj=None):
        return self._may_change(request)


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

    def clean(self):
        """An enabled provider has what its sign-in needs (a provider being set up may be
        saved incomplete while not enabled): SAML its IdP entity id, SSO URL and a readable
        signing certificate; OpenID Connect its issuer and client id."""
        data = super().clean()
        if not data.get("enabled"):
            return data
        needed = {
            IdentityProvider.SAML: ("entity_id", "sso_url", "certificate"),
            IdentityProvider.OIDC: ("issuer", "client_id"),
        }.get(data.get("kind", ""), ())
        for name in needed:
            if not data.get(name) and name not in self.errors:
                self.add_error(name, "An enabled provider needs this to sign anyone in.")
        certificate = data.get("certificate")
        if (
            data.get("kind") == IdentityProvider.SAML
            and certificate
            and not saml.certificate_readable(certificate)
        ):
            self.add_error("certificate", "This is not an X.509 certificate in PEM form.")
        return data

    def save(self, commit=True):
        provider = super().save(commit=False)
        if self.cleaned_data.get("client_secret"):
            provider.set_client_secret(self.cleaned_data["client_secret"])
        if commit:
            provider.save()
        return provider


class GroupMappingForm(forms.ModelForm):
    class Meta:
        model = GroupMapping
        fields = ["provider", "value", "role", "all_regions", "regions"]

    def clean_regions(self) -> Any:
        """A list of known region codes (any case; kept upper-case, as scopes compare them).
        A text such as "EU" was kept as the regions E and U, a lower-case code matched none."""
        regions = self.cleaned_data.get("regions")
        if regions in (None, ""):
            return []
        if not isinstance(regions, list) or not all(isinstance(r, str) for r in regions):
            raise forms.ValidationError('A list of region codes, e.g. ["EU"].')
        codes = sorted({r.strip().upper() for r in regions})
        unknown = [c for c in codes if c not in KNOWN_REGIONS]
        if unknown:
            raise forms.ValidationError(
                f"Unknown region: {', '.join(unknown)}. Known: {', '.join(KNOWN_REGIONS)}."
            )
        return codes


class GroupMappingInline(_OfficersOnly, admin.TabularInline):
    model = GroupMapping
    form = GroupMappingForm
    extra = 1


@admin.register(IdentityProvider)
class IdentityProviderAdmin(_OfficersOnly, admin.ModelAdmin):
    form = IdentityProviderForm
    list_display = ["name", "kind", "slug", "enabled"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [GroupMappingInline]
    actions = ["issue_scim_token"]

    @admin.action(description="Issue a SCIM bearer token (shown once)", permissions=["change"])
    def issue_scim_token(self, request, queryset):
        """For officers who see every region only (`_may_change`): a SCIM token sets any
        identity's groups, and so the roles and regions mapped to them, at once."""
        for provider in queryset:
            raw = scim_token_issue(provider=provider, actor=Actor.from_request(request))
            messages.warning(request, f"SCIM token for {provider.slug} (copy it now): {raw}")


@admin.register(SsoDomain)
class SsoDomainAdmin(_OfficersOnly, admin.ModelAdmin):
    list_display = ["domain", "provider"]


@admin.register(GroupMapping)
class GroupMappingAdmin(_OfficersOnly, admin.ModelAdmin):
    form = GroupMappingForm
    list_display = ["provider", "value", "role", "all_regions", "regions"]
    list_filter = ["provider", "role"]

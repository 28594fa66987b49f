"""Consent configuration and the (read-only, region-scoped) ledger in the admin."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from consent.models import (
    ConsentProperty,
    ConsentRecord,
    ConsentWebhook,
    CurrentConsent,
    Jurisdiction,
    Notice,
    Purpose,
    WebhookDelivery,
)
from profiles.admin import ScopedAdmin


@admin.register(Jurisdiction)
class JurisdictionAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "regions",
        "consent_model",
        "honours_gpc",
        "consent_max_age_days",
        "dsar_deadline_days",
        "dsar_deadline_months",
        "dsar_extension_days",
        "dsar_extension_months",
    ]


@admin.register(Purpose)
class PurposeAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "lawful_basis", "essential", "sale_sharing", "sensitive"]


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
    list_display = ["title", "language", "version", "published_at"]
    list_filter = ["language"]
    filter_horizontal = ["purposes"]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        # A published notice is evidence: consents point at it. Publish a new version instead.
        return ["language", "version", "title", "text"] if obj else []


@admin.register(ConsentProperty)
class ConsentPropertyAdmin(admin.ModelAdmin):
    list_display = ["name", "publishable_key", "allowed_origins", "default_region", "active"]
    filter_horizontal = ["purposes"]


class ReadOnly(ScopedAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReadOnly):
    list_display = [
        "recorded_at",
        "subject",
        "visitor_id",
        "purpose",
        "state",
        "channel",
        "jurisdiction",
        "gpc",
        "notice",
    ]
    list_filter = ["state", "channel", "jurisdiction", "gpc", "purpose"]
    search_fields = ["=subject__id", "=visitor_id", "=id"]
    date_hierarchy = "recorded_at"
    show_full_result_count = False


@admin.register(CurrentConsent)
class CurrentConsentAdmin(ReadOnly):
    list_display = [
        "subject",
        "visitor_id",
        "purpose",
        "state",
        "gpc",
        "recorded_at",
        "expires_at",
        "needs_reprompt",
    ]
    list_filter = ["state", "purpose", "needs_reprompt", "region"]
    search_fields = ["=subject__id", "=visitor_id"]


@admin.register(ConsentWebhook)
class ConsentWebhookAdmin(admin.ModelAdmin):
    list_display = ["name", "url", "active"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "webhook",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "delivered_at",
    ]
    list_filter = ["status", "webhook"]
    readonly_fields = [
        "webhook",
        "payload",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "delivered_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

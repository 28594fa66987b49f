"""Audit's screens in the admin: the read-only log, scoped by the viewer's regions, and the
alerts staff acknowledge. They live in access, above audit, because they check the viewer with
access's region scope and private search; the log itself (models, chain, services) stays below
access. `access.admin` loads this module, so admin autodiscovery registers them; their URLs
follow the models (/admin/audit/...)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest

from access.admin_filters import ActionFamilyFilter, ActorTypeFilter, RegionFilter
from access.admin_search import PrivateSearchMixin
from access.scoping import allowed_regions
from audit import services
from audit.actors import Actor
from audit.export import audit_csv_response
from audit.models import AuditAlert, AuditEvent, PublishedHead
from audit.selectors import audit_events_filter
from core.admin import LargeTableAdminMixin, ReadOnlyAdminMixin


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    pass


@admin.register(AuditEvent)
class AuditEventAdmin(PrivateSearchMixin, LargeTableAdminMixin, ReadOnlyAdmin):
    list_display = [
        "sequence",
        "occurred_at",
        "actor_label",
        "action",
        "object_type",
        "object_id",
        "region",
    ]
    # Known choices and date ranges: no DISTINCT over the whole log on every page (no date
    # hierarchy either, which reads the log's years, then months, the same way).
    list_filter = [
        ActionFamilyFilter,
        ActorTypeFilter,
        RegionFilter,
        ("occurred_at", admin.DateFieldListFilter),
    ]
    search_fields = ["=subject_id", "=object_id", "=actor_label", "=request_id"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
    actions = ["export_csv"]

    def get_queryset(self, request: HttpRequest):
        return audit_events_filter(regions=allowed_regions(request.user))

    def get_search_results(self, request, queryset, search_term):
        # Exact matches only: uuid fields must not be compared to arbitrary text.
        import uuid

        if not search_term:
            return queryset, False
        try:
            subject = uuid.UUID(search_term.strip())
        except ValueError:
            subject = None
        term = search_term.strip()
        from django.db.models import Q

        condition = Q(object_id=term) | Q(actor_label=term) | Q(request_id=term)
        if subject:
            condition |= Q(subject_id=subject)
        return queryset.filter(condition), False

    @admin.action(description="Export selected events as CSV", permissions=["export"])
    def export_csv(self, request: HttpRequest, queryset):
        services.audit_record(
            actor=Actor.from_request(request),
            action="audit.event.export",
            object_type="audit.event",
            object_id=f"count:{queryset.count()}",
        )
        return audit_csv_response(queryset.order_by("sequence"), "audit-events.csv")

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("audit.export_auditevent")


@admin.register(AuditAlert)
class AuditAlertAdmin(ReadOnlyAdmin):
    list_display = ["raised_at", "kind", "message", "acknowledged_at", "acknowledged_by"]
    list_filter = ["kind", ("acknowledged_at", admin.EmptyFieldListFilter)]
    actions = ["acknowledge"]

    @admin.action(description="Acknowledge selected alerts", permissions=["acknowledge"])
    def acknowledge(self, request: HttpRequest, queryset) -> None:
        actor = Actor.from_request(request)
        for alert in queryset:
            services.audit_alert_acknowledge(alert=alert, actor=actor)
        messages.success(request, "Alerts acknowledged.")

    def has_acknowledge_permission(self, request: HttpRequest) -> bool:
        """Staff who see every region: an alert (a broken or cut audit chain, a break-glass
        sign-in, new personal columns in a store) concerns every region's data, and an
        acknowledged one is no longer shown as open to the officers who must act on it."""
        return request.user.has_perm("audit.change_auditalert") and (
            allowed_regions(request.user) is None
        )


@admin.register(PublishedHead)
class PublishedHeadAdmin(ReadOnlyAdmin):
    list_display = ["sequence", "hash", "published_at", "delivered_at"]

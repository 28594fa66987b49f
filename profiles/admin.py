"""Profiles in the admin: subjects found by exact e-mail, phone or customer id through the
blind index; values shown masked unless the viewer's role or an unmask grant allows; every
page of personal data audited; out-of-scope subjects answer 404."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from access.admin_actions import confirmed
from access.admin_base import ScopedAdmin
from access.admin_search import PrivateSearchMixin, admin_search_term
from audit.services import audit_record_list_read
from profiles import selectors, services
from profiles.models import (
    DataCategory,
    ImportJob,
    MatchReview,
    Subject,
    SuppressedIdentity,
    System,
)


@admin.register(Subject)
class SubjectAdmin(PrivateSearchMixin, ScopedAdmin):
    list_display = ["id", "region", "jurisdiction", "status", "created_at"]
    list_filter = ["region", "status"]
    search_fields = ["id"]
    search_help_text = "Exact e-mail, phone (+country code), customer id or subject id."
    readonly_fields = [
        "id",
        "region",
        "jurisdiction",
        "status",
        "merged_into",
        "created_at",
        "updated_at",
        "golden_record",
    ]
    fields = readonly_fields
    show_full_result_count = False

    def get_search_results(self, request: HttpRequest, queryset, search_term: str):
        if not search_term.strip():
            return queryset, False
        found = selectors.subject_search_any(who=request.user, text=search_term)
        return queryset.filter(pk__in=found.values("pk")), False

    def changelist_view(self, request: HttpRequest, extra_context=None):
        term = (admin_search_term(request) or "").strip() if request.method == "GET" else ""
        if term:
            # A search by identifier is a read of personal data (who looked for whom).
            found = selectors.subject_search_any(who=request.user, text=term).count()
            audit_record_list_read(
                actor=self.actor(request),
                object_type="profiles.subject",
                count=found,
                fields=["identifier"],
                reason="admin search",
            )
        return super().changelist_view(request, extra_context)

    @admin.display(description="Golden record")
    def golden_record(self, subject: Subject) -> str:
        request = self._request
        profile = selectors.subject_profile(
            who=request.user,
            subject=subject,
            actor=self.actor(request),
            reason="admin view",
        )
        return mark_safe(render_to_string("profiles/golden_record.html", {"profile": profile}))  # noqa: S308

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None
    ):
        self._request = request
        return super().change_view(request, object_id, form_url, extra_context)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # erasure goes through a data-subject request, with proof


@admin.register(MatchReview)
class MatchReviewAdmin(ScopedAdmin):
    list_display = [
        "subject",
        "candidate",
        "score",
        "signals",
        "status",
        "created_at",
        "decided_by",
    ]
    list_filter = ["status"]
    readonly_fields = [*list_display, "decided_at"]
    actions = ["accept", "reject"]

    def _decide(self, request: HttpRequest, queryset, accept: bool) -> None:
        actor = self.actor(request)
        done = 0
        for review in queryset.filter(status=MatchReview.Status.PENDING):
            services.match_review_decide(review=review, accept=accept, actor=actor)
            done += 1
        messages.success(request, f"{done} match(es) {'merged' if accept else 'rejected'}.")

    @admin.action(description="Accept: merge the two subjects", permissions=["change"])
    def accept(self, request: HttpRequest, queryset):
        page = confirmed(
            self,
            request,
            queryset,
            title="Merge the subjects",
            consequence="Each pair is merged into the older subject, with lineage. "
            "A merge cannot be undone automatically.",
        )
        return page or self._decide(request, queryset, True)

    @admin.action(description="Reject: they are different people", permissions=["change"])
    def reject(self, request: HttpRequest, queryset):
        page = confirmed(
            self,
            request,
            queryset,
            title="Reject the matches",
            consequence="The pairs are recorded as different people and not proposed again.",
        )
        return page or self._decide(request, queryset, False)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class HoldsCategoryFilter(admin.SimpleListFilter):
    title = "holds data category"
    parameter_name = "category"

    def lookups(self, request: HttpRequest, model_admin):
        return DataCategory.choices

    def queryset(self, request: HttpRequest, queryset):
        if self.value() not in DataCategory.values:
            return queryset
        # The JSON list as text contains the quoted value (works on SQLite and PostgreSQL).
        return queryset.filter(data_categories__icontains=f'"{self.value()}"')


@admin.register(System)
class SystemAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "data_categories", "country", "is_processor", "owner_contact"]
    list_filter = ["kind", HoldsCategoryFilter, "is_processor", "country"]
    search_fields = ["name"]


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "status",
        "lines_total",
        "lines_done",
        "imported",
        "failed",
        "created_by",
        "created_at",
        "finished_at",
    ]
    readonly_fields = [*list_display, "region", "source"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(SuppressedIdentity)
class SuppressedIdentityAdmin(admin.ModelAdmin):
    list_display = ["kind", "suppressed_at", "reason"]
    readonly_fields = ["kind", "suppressed_at", "reason"]
    exclude = ["value_index"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

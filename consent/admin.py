"""Consent configuration, the (read-only, region-scoped) ledger, and the data map: processing
activities with their Art. 30 export."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from access.admin_actions import confirmed
from access.admin_base import AllRegionsOnlyAdmin, ScopedAdmin
from access.admin_filters import RegionFilter
from access.admin_search import PrivateSearchMixin
from access.scoping import allowed_regions
from audit.actors import Actor
from consent import services
from consent.art30 import art30_csv, art30_record, data_map
from consent.models import (
    ConsentModeMapping,
    ConsentProperty,
    ConsentRecord,
    ConsentWebhook,
    CurrentConsent,
    Jurisdiction,
    Notice,
    ProcessingActivity,
    Purpose,
    RetentionPolicy,
    RetentionRun,
    WebhookDelivery,
)
from consent.retention import retention_run
from core.admin import EstimatedCountPaginator, ReadOnlyAdminMixin, secret_shown_once
from core.regions import KNOWN_REGIONS
from profiles.models import DataCategory


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
        "effective_date",
        "gpc_required_from",
        "statute",
    ]
    list_filter = ["consent_model", "honours_gpc", "sensitive_opt_in"]


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


class ConsentModeMappingInline(admin.TabularInline):
    """Google Consent Mode v2: the purposes each consent type stands for on this site."""

    model = ConsentModeMapping
    extra = 0
    filter_horizontal = ["purposes"]
    verbose_name = "Google Consent Mode type"
    verbose_name_plural = "Google Consent Mode v2 mapping"


@admin.register(ConsentProperty)
class ConsentPropertyAdmin(admin.ModelAdmin):
    """The identity-assertion secret is generated, never typed in: shown once when the property
    is added and when an officer rotates it."""

    list_display = ["name", "publishable_key", "allowed_origins", "default_region", "active"]
    filter_horizontal = ["purposes"]
    inlines = [ConsentModeMappingInline]
    actions = ["rotate_identity_secret"]

    def save_model(self, request: HttpRequest, obj: ConsentProperty, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            secret_shown_once(
                request, f"Identity-assertion secret of {obj.name}", obj.identity_secret
            )

    @admin.action(description="Rotate the identity-assertion secret", permissions=["change"])
    def rotate_identity_secret(self, request: HttpRequest, queryset):
        page = confirmed(
            self,
            request,
            queryset,
            title="Rotate the identity-assertion secrets",
            consequence="Each property gets a new secret, shown once. Assertions signed with "
            "the old secret are refused from now on: give the new one to the site's backend.",
        )
        if page:
            return page
        actor = Actor.from_request(request)
        for prop in queryset:
            secret = services.consent_property_identity_secret_rotate(prop=prop, actor=actor)
            secret_shown_once(request, f"Identity-assertion secret of {prop.name}", secret)
        return None


class ReadOnly(ReadOnlyAdminMixin, ScopedAdmin):
    pass


class JurisdictionFilter(admin.SimpleListFilter):
    """The jurisdictions of the reference table (a few dozen rows), not of the ledger."""

    title = "jurisdiction"
    parameter_name = "jurisdiction__exact"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(Jurisdiction.objects.order_by("code").values_list("code", "code"))

    def queryset(self, request: HttpRequest, queryset):
        value = self.value()
        return queryset if value is None else queryset.filter(jurisdiction=value)


@admin.register(ConsentRecord)
class ConsentRecordAdmin(PrivateSearchMixin, ReadOnly):
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
    # Choices from reference data and date ranges, not DISTINCT over the ledger on every page.
    list_filter = [
        "state",
        "channel",
        JurisdictionFilter,
        "gpc",
        "purpose",
        ("recorded_at", admin.DateFieldListFilter),
    ]
    search_fields = ["=subject__id", "=visitor_id", "=id"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    # Subject and notice are nullable: Django's default join skips them (a query per row).
    list_select_related = ["subject", "purpose", "notice"]


@admin.register(CurrentConsent)
class CurrentConsentAdmin(PrivateSearchMixin, ReadOnly):
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
    list_filter = ["state", "purpose", "needs_reprompt", RegionFilter]
    search_fields = ["=subject__id", "=visitor_id"]
    # The subject is nullable (a query per row by default), the ledger record is not shown.
    list_select_related = ["subject", "purpose"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator


@admin.register(ConsentWebhook)
class ConsentWebhookAdmin(admin.ModelAdmin):
    list_display = ["name", "url", "active"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(AllRegionsOnlyAdmin):
    """The outbox. A payload names subjects (a consent change's subject and visitor, an
    audience push's ids) of any region and the row has no region to scope by: only staff who
    see every region see the deliveries (no row, no filter on the payload, for the others)."""

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


class _LinesField(forms.CharField):
    """A JSON list of texts edited as one item per line."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 60})

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list) else value

    def clean(self, value: Any) -> list[str]:
        text = super().clean(value) or ""
        return [line.strip() for line in text.splitlines() if line.strip()]


class ProcessingActivityForm(forms.ModelForm):
    data_categories = forms.MultipleChoiceField(
        choices=DataCategory.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    regions = forms.MultipleChoiceField(
        choices=[(r, r) for r in KNOWN_REGIONS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="none ticked = every region",
    )
    subject_categories = _LinesField(
        required=False,
        help_text="one per line, e.g. " + ", ".join(ProcessingActivity.SUBJECT_CATEGORY_EXAMPLES),
    )
    recipients = _LinesField(required=False, help_text="one recipient category or name per line")

    class Meta:
        model = ProcessingActivity
        fields = [
            "name",
            "purpose",
            "lawful_basis",
            "description",
            "active",
            "data_categories",
            "subject_categories",
            "systems",
            "regions",
            "recipients",
            "transfers",
            "retention",
            "retention_days",
            "controller",
            "joint_controller",
            "dpo_contact",
            "security_measures",
        ]


@admin.register(ProcessingActivity)
class ProcessingActivityAdmin(admin.ModelAdmin):
    """The Art. 30 record: edit activities; export the record as CSV or a printable page; see
    the data map of systems and the activities they feed."""

    form = ProcessingActivityForm
    change_list_template = "admin/consent/processingactivity/change_list.html"
    list_display = ["name", "purpose", "lawful_basis", "retention", "active", "updated_at"]
    list_filter = ["lawful_basis", "purpose", "active"]
    search_fields = ["name"]
    filter_horizontal = ["systems"]
    fieldsets = [
        (None, {"fields": ["name", "purpose", "lawful_basis", "description", "active"]}),
        ("Data", {"fields": ["data_categories", "subject_categories", "systems", "regions"]}),
        ("Disclosures", {"fields": ["recipients", "transfers"]}),
        ("Retention", {"fields": ["retention", "retention_days"]}),
        (
            "Controller and security",
            {"fields": ["controller", "joint_controller", "dpo_contact", "security_measures"]},
        ),
    ]

    def save_model(self, request: HttpRequest, obj, form, change: bool) -> None:
        # The changeform view runs in one transaction: save_related() then sets the systems.
        services.processing_activity_save(
            activity=obj, actor=Actor.from_request(request), changed=form.changed_data
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "art30.csv",
                view(self.art30_csv_view),
                name="consent_processingactivity_art30_csv",
            ),
            path("art30/", view(self.art30_view), name="consent_processingactivity_art30"),
            path("data-map/", view(self.data_map_view), name="consent_processingactivity_datamap"),
            *super().get_urls(),
        ]

    def _context(self, request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            **extra,
        }

    def art30_csv_view(self, request: HttpRequest) -> HttpResponse:
        self._context(request, "")
        response = HttpResponse(art30_csv(art30_record()), content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y-%m-%d")
        response["Content-Disposition"] = f'attachment; filename="art30-record-{stamp}.csv"'
        return response

    def art30_view(self, request: HttpRequest) -> TemplateResponse:
        context = self._context(
            request,
            "Record of processing activities (Art. 30)",
            rows=art30_record(),
            generated_at=timezone.now(),
        )
        return TemplateResponse(request, "admin/consent/processingactivity/art30.html", context)

    def data_map_view(self, request: HttpRequest) -> TemplateResponse:
        context = self._context(request, "Data map", systems=data_map(who=request.user))
        return TemplateResponse(request, "admin/consent/processingactivity/data_map.html", context)


class RetentionPolicyForm(forms.ModelForm):
    data_category = forms.ChoiceField(
        choices=[("", "every category"), *DataCategory.choices], required=False
    )
    region = forms.ChoiceField(
        choices=[("", "every region"), *((r, r) for r in KNOWN_REGIONS)], required=False
    )

    class Meta:
        model = RetentionPolicy
        fields = [
            "name",
            "target",
            "data_category",
            "event_name",
            "region",
            "max_age_days",
            "action",
            "description",
            "active",
        ]


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(admin.ModelAdmin):
    """Define policies; "Preview (dry run)" shows counts per region, then "Apply now" runs them
    within the staff member's regions. The daily beat task applies every active policy."""

    form = RetentionPolicyForm
    list_display = [
        "name",
        "target",
        "data_category",
        "event_name",
        "region",
        "max_age_days",
        "action",
        "active",
        "last_run_at",
    ]
    list_filter = ["target", "action", "active"]
    search_fields = ["name"]
    readonly_fields = ["last_run_at", "created_at", "updated_at"]
    actions = ["preview"]

    def get_urls(self):
        return [
            path(
                "apply/",
                self.admin_site.admin_view(self.apply_view),
                name="consent_retentionpolicy_apply",
            ),
            *super().get_urls(),
        ]

    @admin.action(description="Preview (dry run)", permissions=["change"])
    def preview(self, request: HttpRequest, queryset) -> TemplateResponse:
        actor, regions = Actor.from_request(request), allowed_regions(request.user)
        results = [
            result
            for policy in queryset
            for result in retention_run(
                policy=policy, dry_run=True, actor=actor, regions=regions
            ).results
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Retention preview (dry run)",
            "results": results,
            "total": sum(r.total for r in results),
            "regions": sorted(regions) if regions is not None else None,
        }
        return TemplateResponse(request, "admin/consent/retentionpolicy/preview.html", context)

    def apply_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            raise PermissionDenied
        actor, regions = Actor.from_request(request), allowed_regions(request.user)
        # A posted id that is no policy id (a word, a number beyond the column) selects none.
        posted = request.POST.getlist("policy")
        ids = [int(i) for i in posted if i.isascii() and i.isdigit() and len(i) < 19]
        policies = RetentionPolicy.objects.filter(pk__in=ids)
        for policy in policies:
            report = retention_run(policy=policy, dry_run=False, actor=actor, regions=regions)
            for result in report.results:
                messages.success(request, result.describe())
        return redirect("admin:consent_retentionrun_changelist")


@admin.register(RetentionRun)
class RetentionRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "policy",
        "dry_run",
        "action",
        "counts",
        "total",
        "cutoff",
        "actor_label",
        "started_at",
        "finished_at",
    ]
    list_filter = ["dry_run", "action", "policy"]
    readonly_fields = [
        "policy",
        "dry_run",
        "action",
        "cutoff",
        "regions",
        "counts",
        "actor_label",
        "started_at",
        "finished_at",
    ]
    date_hierarchy = "started_at"

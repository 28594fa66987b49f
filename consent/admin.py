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
from access.admin_base import (
    AllRegionsChangeMixin,
    AllRegionsOnlyAdmin,
    RegionsWithinChangeMixin,
    RegionsWithinListMixin,
    ScopedAdmin,
    region_checkboxes,
    regions_within_editor,
)
from access.admin_filters import RegionFilter
from access.admin_search import PrivateSearchMixin
from access.scoping import allowed_regions
from audit.actors import Actor
from audit.services import audit_record
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
from consent.selectors import jurisdiction_reach
from core.admin import LargeTableAdminMixin, ReadOnlyAdminMixin, secret_shown_once
from core.regions import KNOWN_REGIONS
from profiles.models import DataCategory


class JurisdictionForm(forms.ModelForm):
    editor_regions: frozenset[str] | None = None

    class Meta:
        model = Jurisdiction
        exclude: list[str] = []

    def clean_regions(self) -> Any:
        """Within the editor's own regions: a regime decides the banner's defaults, whether
        GPC is honoured and the request deadlines of the people of its regions."""
        regions = self.cleaned_data.get("regions")
        allowed = self.editor_regions
        if allowed is None:
            return regions
        if not isinstance(regions, list) or not all(isinstance(r, str) for r in regions):
            raise forms.ValidationError('A list of region codes, e.g. ["EU"].')
        outside = sorted({r.strip().upper() for r in regions} - allowed)
        if outside:
            raise forms.ValidationError(f"Outside your regions: {', '.join(outside)}.")
        return regions

    def clean(self) -> dict[str, Any]:
        """A limited editor's regime may reach no region outside theirs once saved: not "every
        region" (no region), and not the regions of regimes falling back to its code."""
        cleaned = super().clean()
        allowed = self.editor_regions
        if allowed is None or "regions" not in cleaned or not cleaned.get("code"):
            return cleaned
        reach = jurisdiction_reach(code=cleaned["code"], regions=cleaned["regions"])
        if reach is None:
            self.add_error(
                "regions",
                "A regime naming no region, or one that regimes of no region fall back to, "
                "can apply to every region: only staff of every region may save it.",
            )
        elif not set(reach) <= allowed:
            outside = ", ".join(sorted(set(reach) - allowed))
            self.add_error(
                "code",
                f"Regimes of other regions fall back to this code ({outside}): only staff "
                "who see those regions may save it.",
            )
        return cleaned


@admin.register(Jurisdiction)
class JurisdictionAdmin(RegionsWithinChangeMixin, admin.ModelAdmin):
    """A regime decides the consent defaults, GPC and request deadlines of its regions' people
    and of the regions whose regimes fall back to it: an officer limited to some regions
    changes or deletes only regimes all of whose reach is theirs (`jurisdiction_reach`)."""

    form = JurisdictionForm

    def setting_regions(self, obj: Jurisdiction) -> list[str] | None:
        return jurisdiction_reach(code=obj.code, regions=obj.regions)

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
class PurposeAdmin(AllRegionsChangeMixin, admin.ModelAdmin):
    """A purpose is offered and decided in every region (whether it is essential, sale/sharing
    or sensitive decides every decision about it): changed only by staff of every region."""

    list_display = ["slug", "name", "lawful_basis", "essential", "sale_sharing", "sensitive"]


@admin.register(Notice)
class NoticeAdmin(AllRegionsChangeMixin, admin.ModelAdmin):
    """The latest notice of a language is shown by every property offering its purposes, in
    every region: added only by staff of every region."""

    list_display = ["title", "language", "version", "published_at"]
    list_filter = ["language"]
    filter_horizontal = ["purposes"]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        # A published notice is evidence: consents point at it, and at what it asked for (its
        # purposes). Publish a new version instead.
        return ["language", "version", "title", "text", "purposes"] if obj else []


class ConsentModeMappingInline(admin.TabularInline):
    """Google Consent Mode v2: the purposes each consent type stands for on this site."""

    model = ConsentModeMapping
    extra = 0
    filter_horizontal = ["purposes"]
    verbose_name = "Google Consent Mode type"
    verbose_name_plural = "Google Consent Mode v2 mapping"


def _property_within(prop: ConsentProperty, user: Any) -> bool:
    """Every region the property's identity assertions reach (its identity regions, else its
    default region) is one `user` may see."""
    allowed = allowed_regions(user)
    if allowed is None:
        return True
    reach = prop.identity_regions if isinstance(prop.identity_regions, list) else []
    return all(str(r).upper() in allowed for r in [*reach, prop.default_region])


class ConsentPropertyForm(forms.ModelForm):
    """Regions are known codes, kept upper-case, each within the editor's own: whoever holds
    the property's identity secret links visitors to, and records consent for, the subjects
    of its identity regions."""

    editor_regions: frozenset[str] | None = None

    class Meta:
        model = ConsentProperty
        fields = [
            "name",
            "publishable_key",
            "allowed_origins",
            "default_region",
            "default_language",
            "purposes",
            "active",
            "identity_regions",
        ]

    def _codes(self, codes: list[str]) -> list[str]:
        unknown = sorted({c for c in codes if c not in KNOWN_REGIONS})
        if unknown:
            raise forms.ValidationError(f"Unknown region: {', '.join(unknown)}.")
        allowed = self.editor_regions
        outside = sorted({c for c in codes if allowed is not None and c not in allowed})
        if outside:
            raise forms.ValidationError(f"Outside your regions: {', '.join(outside)}.")
        return codes

    def clean_default_region(self) -> str:
        return self._codes([(self.cleaned_data.get("default_region") or "").strip().upper()])[0]

    def clean_identity_regions(self) -> list[str]:
        regions = self.cleaned_data.get("identity_regions")
        if regions in (None, ""):
            return []
        if not isinstance(regions, list) or not all(isinstance(r, str) for r in regions):
            raise forms.ValidationError('A list of region codes, e.g. ["EU"].')
        return self._codes(sorted({r.strip().upper() for r in regions}))


@admin.register(ConsentProperty)
class ConsentPropertyAdmin(admin.ModelAdmin):
    """The identity-assertion secret is generated, never typed in: shown once when the property
    is added and when an officer rotates it. Whoever holds it links visitors to the subjects of
    the property's identity regions and records consent for them: an officer limited to some
    regions changes, deletes or rotates only properties whose regions are all theirs, and gives
    a property none outside them."""

    form = ConsentPropertyForm

    list_display = ["name", "publishable_key", "allowed_origins", "default_region", "active"]
    filter_horizontal = ["purposes"]
    inlines = [ConsentModeMappingInline]
    actions = ["rotate_identity_secret"]

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"editor_regions": allowed_regions(request.user)})

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or _property_within(obj, request.user))

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or _property_within(obj, request.user))

    def save_model(self, request: HttpRequest, obj: ConsentProperty, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            secret_shown_once(
                request, f"Identity-assertion secret of {obj.name}", obj.identity_secret
            )

    @admin.action(description="Rotate the identity-assertion secret", permissions=["change"])
    def rotate_identity_secret(self, request: HttpRequest, queryset):
        outside = [p.name for p in queryset if not _property_within(p, request.user)]
        if outside:
            messages.error(
                request,
                "Not rotated: these properties link visitors to people of regions outside "
                f"yours: {', '.join(outside)}.",
            )
            return None
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
    """The consent ledger and its projection: shown, never written; region-scoped. Opening
    a row is an audited read of the person's consent (with its proof: browser, truncated IP
    address, consent strings), as opening a profile is."""

    def change_view(self, request: HttpRequest, object_id: str, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        row = (getattr(response, "context_data", None) or {}).get("original")
        if request.method == "GET" and row is not None:
            label = self.model._meta.label_lower
            audit_record(
                actor=Actor.from_request(request),
                action=f"{label}.read",
                object_type=label,
                object_id=row.pk,
                subject_id=row.subject_id,
                region=getattr(row, "region", "") or "",
                fields=[f.name for f in self.model._meta.concrete_fields],
                reason="admin view",
            )
        return response


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
class ConsentRecordAdmin(PrivateSearchMixin, LargeTableAdminMixin, ReadOnly):
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
    # Subject and notice are nullable: Django's default join skips them (a query per row).
    list_select_related = ["subject", "purpose", "notice"]


@admin.register(CurrentConsent)
class CurrentConsentAdmin(PrivateSearchMixin, LargeTableAdminMixin, ReadOnly):
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


@admin.register(ConsentWebhook)
class ConsentWebhookAdmin(AllRegionsChangeMixin, admin.ModelAdmin):
    """A webhook is sent every region's consent changes (subject and visitor ids, purpose,
    state), or a destination's audience pushes: only officers who see every region add,
    change or delete one (the outbox's rows are theirs only, for the same reason)."""

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
    regions = region_checkboxes(help_text="none ticked = every region")
    subject_categories = _LinesField(
        required=False,
        help_text="one per line, e.g. " + ", ".join(ProcessingActivity.SUBJECT_CATEGORY_EXAMPLES),
    )
    recipients = _LinesField(required=False, help_text="one recipient category or name per line")
    editor_regions: frozenset[str] | None = None

    def clean_regions(self) -> list[str]:
        """Within the editor's regions ("every region" only for staff who see them all)."""
        return regions_within_editor(self.cleaned_data.get("regions"), self.editor_regions)

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
class ProcessingActivityAdmin(RegionsWithinChangeMixin, admin.ModelAdmin):
    """The Art. 30 record: edit activities; export the record as CSV or a printable page; see
    the data map of systems and the activities they feed. An officer limited to some regions
    changes or deletes only activities of their regions (none ticked is every region)."""

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
    editor_regions: frozenset[str] | None = None

    def clean_region(self) -> str:
        """Within the editor's regions: the daily run applies every active policy to every
        region it names ("every region" only for staff who see them all)."""
        region = self.cleaned_data.get("region") or ""
        allowed = self.editor_regions
        if allowed is not None and region not in allowed:
            raise forms.ValidationError(
                f"Outside your regions: {region or 'every region'}. "
                f"Choose one of {', '.join(sorted(allowed)) or 'none'}."
            )
        return region

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
    within the staff member's regions. The daily beat task applies every active policy to the
    region it names, whoever wrote it: an officer limited to some regions writes policies of
    those regions only (an EU-limited officer could otherwise have every Californian's events
    deleted after a day)."""

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

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"editor_regions": allowed_regions(request.user)})

    def _within(self, request: HttpRequest, policy: RetentionPolicy | None) -> bool:
        """The daily run applies a policy to its region (every region when it names none) on
        its own authority: an officer changes or deletes only policies of their regions."""
        allowed = allowed_regions(request.user)
        return policy is None or allowed is None or policy.region in allowed

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return super().has_change_permission(request, obj) and self._within(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and self._within(request, obj)

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
class RetentionRunAdmin(RegionsWithinListMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Runs are listed to staff whose regions cover the runner's (`regions`, null = every
    region): another region's counts of deleted rows and who ran them are not theirs to see."""

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

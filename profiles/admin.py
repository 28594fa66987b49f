"""Profiles in the admin: subjects found by exact e-mail, phone or customer id through the
blind index; values shown masked unless the viewer's role or an unmask grant allows; every
page of personal data audited; out-of-scope subjects answer 404."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from access.admin_actions import confirmed
from access.admin_base import (
    AllRegionsChangeMixin,
    RegionsWithinChangeMixin,
    RegionsWithinListMixin,
    ScopedAdmin,
    region_checkboxes,
    regions_within_editor,
)
from access.admin_filters import RegionFilter
from access.admin_search import PrivateSearchMixin
from access.scoping import actor_for, allowed_regions
from core.admin import LargeTableAdminMixin
from core.errors import DomainError
from profiles import selectors, services
from profiles.models import (
    DataCategory,
    ImportJob,
    MatchModel,
    MatchReview,
    MergeLineage,
    Subject,
    SuppressedIdentity,
    System,
)


@admin.register(Subject)
class SubjectAdmin(PrivateSearchMixin, LargeTableAdminMixin, ScopedAdmin):
    list_display = ["id", "region", "jurisdiction", "status", "created_at"]
    list_filter = [RegionFilter, "status"]
    search_fields = ["id"]
    search_help_text = "Exact e-mail, phone (+country code), customer id or subject id."
    search_audit_fields = ("identifier",)
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

    def get_search_results(self, request: HttpRequest, queryset, search_term: str):
        if not search_term.strip():
            return queryset, False
        found = selectors.subject_search_any(who=request.user, text=search_term)
        return queryset.filter(pk__in=found.values("pk")), False

    @admin.display(description="Golden record")
    def golden_record(self, subject: Subject) -> str:
        request = subject.admin_request
        profile = selectors.subject_profile(
            who=request.user,
            subject=subject,
            actor=self.actor(request),
            reason="admin view",
        )
        return mark_safe(render_to_string("profiles/golden_record.html", {"profile": profile}))  # noqa: S308

    def get_object(self, request: HttpRequest, object_id: str, from_field=None):
        subject = super().get_object(request, object_id, from_field)
        # The golden record is rendered for this request's viewer (masking, audit). The admin
        # instance is shared by every thread, so the request travels with its own object.
        subject.admin_request = request
        return subject

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # erasure goes through a data-subject request, with proof


def _explanation_table(explanation: list[dict]) -> str:
    """Why a pair scored what it did: each field's comparison level and its weight."""
    if not explanation:
        return "-"
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td style='text-align:right'>{}</td></tr>",
        ((r["field"], r["level"], f"{r['weight']:+.2f}") for r in explanation),
    )
    total = sum(r["weight"] for r in explanation)
    return format_html(
        "<table><thead><tr><th>field</th><th>comparison level</th><th>weight (log2)</th></tr>"
        "</thead><tbody>{}</tbody><tfoot><tr><th colspan='2'>match weight</th>"
        "<th style='text-align:right'>{}</th></tr></tfoot></table>",
        rows,
        f"{total:+.2f}",
    )


@admin.register(MatchReview)
class MatchReviewAdmin(ScopedAdmin):
    list_display = [
        "subject",
        "candidate",
        "score",
        "weight",
        "model_version",
        "signals",
        "status",
        "created_at",
        "decided_by",
    ]
    list_filter = ["status", "model_version"]
    readonly_fields = [*list_display, "decided_at", "why"]
    exclude = ["levels", "explanation"]
    actions = ["accept", "reject"]

    @admin.display(description="Why: comparison levels and their weights")
    def why(self, review: MatchReview) -> str:
        return _explanation_table(review.explanation)

    def _decide(self, request: HttpRequest, queryset, accept: bool) -> None:
        """Each review on its own: one decided meanwhile (a merge earlier in the same batch
        closes the other reviews of the subject it merged) is named, the others still run."""
        actor = self.actor(request)
        done = 0
        for review in queryset.filter(status=MatchReview.Status.PENDING):
            try:
                services.match_review_decide(review=review, accept=accept, actor=actor)
            except DomainError as exc:
                messages.error(request, f"Review {review.pk}: {exc.message}")
                continue
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


@admin.register(MergeLineage)
class MergeLineageAdmin(ScopedAdmin):
    list_display = [
        "merged_subject_id",
        "survivor",
        "method",
        "confidence",
        "model_version",
        "merged_by",
        "merged_at",
        "split_at",
    ]
    list_filter = ["method", "model_version"]
    readonly_fields = [*list_display, "weight", "signals", "split_into", "split_by", "why"]
    exclude = ["explanation", "moved_rows", "source"]
    actions = ["split"]

    @admin.display(description="Why: comparison levels and their weights")
    def why(self, lineage: MergeLineage) -> str:
        return _explanation_table(lineage.explanation)

    @admin.action(description="Split: the merge was wrong", permissions=["change"])
    def split(self, request: HttpRequest, queryset):
        page = confirmed(
            self,
            request,
            queryset,
            title="Split the merges",
            consequence="Each merged subject becomes active again with the identifiers, "
            "attributes and events that came from it; the pair is recorded as different people.",
        )
        if page:
            return page
        actor = self.actor(request)
        done = 0
        for lineage in queryset.filter(split_at=None):
            try:
                services.subject_split(lineage=lineage, actor=actor, reason="officer split")
            except DomainError as exc:
                messages.error(request, f"Merge {lineage.pk}: {exc.message}")
                continue
            done += 1
        messages.success(request, f"{done} merge(s) split.")
        return None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(MatchModel)
class MatchModelAdmin(admin.ModelAdmin):
    list_display = ["version", "created_at", "created_by", "evaluation"]
    readonly_fields = ["version", "created_at", "created_by", "evaluation", "weights"]
    exclude = ["parameters"]
    change_list_template = "admin/profiles/matchmodel/change_list.html"

    @admin.display(description="Weights per field and level (log2 m/u)")
    def weights(self, row: MatchModel) -> str:
        from profiles.matching.model import Parameters

        params = Parameters.from_json(row.parameters)
        explanation = [
            {"field": f, "level": level, "weight": w}
            for f, ws in params.level_weights().items()
            for level, w in zip(row.parameters["levels"][f], ws, strict=True)
        ]
        return _explanation_table(explanation)

    def get_urls(self):
        urls = [
            path(
                "re-estimate/",
                self.admin_site.admin_view(self.re_estimate_view),
                name="profiles_matchmodel_re_estimate",
            )
        ]
        return urls + super().get_urls()

    def re_estimate_view(self, request: HttpRequest) -> HttpResponseRedirect:
        """POST: a new model version from the data and the officers' decisions, then the
        pending reviews re-scored (the same work as the nightly beat task)."""
        if request.method != "POST" or not request.user.has_perm("profiles.add_matchmodel"):
            raise PermissionDenied
        actor = actor_for(request)
        try:
            model = services.match_model_estimate(actor=actor)
        except services.ModelNotEstimable as exc:
            messages.warning(request, exc.message)
            return HttpResponseRedirect(reverse("admin:profiles_matchmodel_changelist"))
        counts = services.match_reviews_rescore(actor=actor)
        messages.success(
            request,
            f"Model v{model.version} estimated; {counts['rescored']} pending review(s) "
            f"re-scored, {counts['merged']} merged, {counts['dismissed']} dismissed.",
        )
        return HttpResponseRedirect(reverse("admin:profiles_matchmodel_changelist"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
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


class SystemForm(forms.ModelForm):
    """A data-map entry; its regions are ticked within the editor's own (none ticked = every
    region, which only staff of every region may choose)."""

    scope_regions = region_checkboxes(
        label="Regions",
        help_text="the regions whose data map this system belongs to; none ticked = every "
        "region. Its parts (a source's regions, a processing activity's) add theirs.",
    )
    editor_regions: frozenset[str] | None = None

    def clean_scope_regions(self) -> list[str] | None:
        regions = regions_within_editor(self.cleaned_data.get("scope_regions"), self.editor_regions)
        return regions or None

    class Meta:
        model = System
        fields = [
            "name",
            "kind",
            "description",
            "data_categories",
            "datasets",
            "owner_contact",
            "country",
            "is_processor",
            "scope_regions",
        ]


@admin.register(System)
class SystemAdmin(RegionsWithinChangeMixin, admin.ModelAdmin):
    """The data map: listed to every officer; a system is changed or deleted by a limited
    officer only when every region it reaches is theirs (`system_regions`): its own regions
    and those of its parts."""

    form = SystemForm
    list_display = ["name", "kind", "data_categories", "country", "is_processor", "owner_contact"]
    list_filter = ["kind", HoldsCategoryFilter, "is_processor", "country"]
    search_fields = ["name"]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        """A limited officer's new system belongs to their regions (they cannot tick none)."""
        initial = super().get_changeform_initial_data(request)
        regions = allowed_regions(request.user)
        if regions is not None:
            initial.setdefault("scope_regions", sorted(regions))
        return initial

    def setting_regions(self, obj: System) -> list[str] | None:
        return system_regions(obj)

    def get_deleted_objects(self, objs, request: HttpRequest):
        """Deleting a system clears the source of the rows that came from it (identifiers,
        attributes, events, merge lineage, import jobs). A limited officer may not clear it
        on rows of other regions: the delete page names why, and its POST (and the bulk
        delete's) is refused, as Django refuses any delete with a permission missing."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        allowed = allowed_regions(request.user)
        if allowed is not None and any(
            selectors.system_history_outside(system=system, regions=allowed) for system in objs
        ):
            perms_needed.add(
                "the source of data of other regions (rows that came from this system)"
            )
        return deleted, counts, perms_needed, protected


def system_regions(system: System) -> list[str] | None:
    """The regions a system reaches: its own (`scope_regions`: set by whoever added or last
    changed it within their regions; null for every region: added by staff of every region,
    by a service, or before regions were recorded), and those of its parts (the one-to-one
    settings of the apps above profiles and the processing activities naming it, found through
    the model's reverse relations, as profiles imports none of them): a part naming regions
    reaches those, one naming none or holding no regions (a destination, a DSAR connector, a
    connected store) every region. None means every region. Parts only widen the reach: an
    officer's EU source or EU activity on a system of every region never hands it to them."""
    if system.scope_regions is None:
        return None
    reached: set[str] = {str(code).upper() for code in system.scope_regions}
    for relation in System._meta.related_objects:
        if not (relation.one_to_one or relation.many_to_many):
            continue  # rows that came from the system (identifiers, events): its history
        parts = relation.related_model._default_manager.filter(**{relation.field.name: system})
        has_regions = any(f.name == "regions" for f in relation.related_model._meta.fields)
        for regions in parts.values_list("regions", flat=True) if has_regions else parts:
            if not has_regions or not regions:
                return None
            reached |= {str(code).upper() for code in regions}
    return sorted(reached) or None


def systems_open_to(user, rows):
    """Of the systems `rows`, those `user` may give a part (a source, a destination): every
    one to staff of every region; to an officer of some regions, a system of every region
    (a part of theirs never hands it to them) or one reaching only their regions. A part on
    another region's system widened its reach, so that region's officers could no longer
    change or delete their own system."""
    allowed = allowed_regions(user)
    if allowed is None:
        return rows
    open_ = [
        system.pk
        for system in rows
        if system.scope_regions is None
        or set(system_regions(system) or ["every region"]) <= allowed
    ]
    return rows.filter(pk__in=open_)


@admin.register(ImportJob)
class ImportJobAdmin(RegionsWithinListMixin, admin.ModelAdmin):
    """Read-only; listed to and deleted by staff whose regions cover the job's (its creator's
    scope): its file name and creator are not for officers of other regions."""

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
class SuppressedIdentityAdmin(AllRegionsChangeMixin, admin.ModelAdmin):
    """Erased identities of every region (blind indexes, no region): deleting one lets that
    person be imported again, so only staff of every region may."""

    list_display = ["kind", "suppressed_at", "reason"]
    readonly_fields = ["kind", "suppressed_at", "reason"]
    exclude = ["value_index"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

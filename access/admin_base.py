"""The admin's one authorization door: model admins of personal data derive from
`ScopedAdmin`, so changelists, searches, change views and actions see `restrict(user)` rows
only, and actions write through services with the officer's scoped actor. A model that names
subjects but has no region to scope by derives from `AllRegionsOnlyAdmin`: its rows are for
staff who see every region. tests/access/test_matrix_complete.py holds every admin to one of
the two. Settings that decide where every region's data goes (a connected store, a connected
system's or a consent webhook's URL, a purpose, a notice) are changed only by staff who see
every region (`AllRegionsChangeMixin`); settings that name the regions they apply to (every
region when they name none) only by staff whose regions cover all of them
(`RegionsWithinChangeMixin`); rows that name the regions they concern and show what an officer
of other regions should not see (an import's file name, a token's name) are also listed only
to them (`RegionsWithinListMixin`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponseRedirect

from access.scoping import actor_for, allowed_regions
from audit.actors import Actor
from core.errors import DomainError
from core.regions import KNOWN_REGIONS


class ScopedAdmin(admin.ModelAdmin):
    """Changelists, searches, change views and actions all see `restrict(user)` rows only."""

    def get_queryset(self, request: HttpRequest):
        return self.model.objects.restrict(request.user, "view")

    def get_object(self, request: HttpRequest, object_id: str, from_field=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied  # no access to this kind of page at all: 403, as the changelist
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("not found")  # never tell "exists but not yours" apart from "missing"
        return obj

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        """A form's link to a scoped model (a legal hold's subject) accepts only rows the
        officer may see: an out-of-scope id is "not a valid choice", as a missing one."""
        related = db_field.remote_field.model
        if hasattr(related.objects, "restrict"):
            kwargs["queryset"] = related.objects.restrict(request.user, "view")
            if db_field.name in self.raw_id_fields:
                kwargs["widget"] = ScopedRawIdWidget(
                    db_field.remote_field,
                    self.admin_site,
                    rows=kwargs["queryset"],
                    using=kwargs.get("using"),
                )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def actor(self, request: HttpRequest) -> Actor:
        """The officer, with the regions they may write: what every admin write passes on."""
        return actor_for(request)

    def response_action(self, request: HttpRequest, queryset, *args, **kwargs):
        """A service's refusal inside an action (a row decided, merged or moved meanwhile) is
        shown on the list as the API words it, never a 500."""
        try:
            return super().response_action(request, queryset, *args, **kwargs)
        except DomainError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(request.get_full_path())


class ScopedRawIdWidget(ForeignKeyRawIdWidget):
    """A raw-id field (a legal hold's subject) that names and links the row it holds only when
    the officer may see it: Django's looks the typed id up in the whole table, so a refused
    form showed "Subject <id>" for another region's subject, and nothing for a missing one."""

    def __init__(self, rel: Any, admin_site: Any, *, rows: Any, using: Any = None) -> None:
        super().__init__(rel, admin_site, using=using)
        self.rows = rows

    def label_and_url_for_value(self, value: Any) -> tuple[str, str]:
        key = self.rel.get_related_field().name
        try:
            visible = self.rows.filter(**{key: value}).exists()
        except (ValueError, ValidationError):
            return "", ""
        return super().label_and_url_for_value(value) if visible else ("", "")


class AllRegionsOnlyAdmin(admin.ModelAdmin):
    """Rows naming subjects of any region with no region of their own (a webhook payload):
    staff who see every region see them; the others get no row (so no search or filter on
    them either) and cannot add one."""

    def get_queryset(self, request: HttpRequest):
        rows = super().get_queryset(request)
        return rows if allowed_regions(request.user) is None else rows.none()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return allowed_regions(request.user) is None and super().has_add_permission(request)


class AllRegionsChangeMixin:
    """For settings that reach people of every region (where their identifiers or consent
    changes are sent, which of their rows an erasure changes): viewed as the model permissions
    allow, added, changed and deleted only by staff who see every region (and superusers).
    Put before the ModelAdmin or InlineModelAdmin base."""

    def _every_region(self, request: HttpRequest) -> bool:
        return allowed_regions(request.user) is None

    def has_add_permission(self, request: HttpRequest, *args) -> bool:
        # ModelAdmin calls it with the request, an inline with the parent object too.
        return self._every_region(request) and super().has_add_permission(  # type: ignore[misc]
            request, *args
        )

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._every_region(request) and super().has_change_permission(  # type: ignore[misc]
            request, obj
        )

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._every_region(request) and super().has_delete_permission(  # type: ignore[misc]
            request, obj
        )


def region_checkboxes(**kwargs: Any) -> forms.MultipleChoiceField:
    """A form's list of regions as a box per known region, none ticked for every region; the
    form cleans it with `regions_within_editor` (give the form `editor_regions`)."""
    return forms.MultipleChoiceField(
        choices=[(r, r) for r in KNOWN_REGIONS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        **kwargs,
    )


def regions_within_editor(codes: Any, editor_regions: frozenset[str] | None) -> list[str]:
    """A form's list of region codes (any case; none = every region), known and upper-cased,
    each within the editor's own regions (None: every region); a ValidationError otherwise.
    An editor limited to some regions cannot write "every region" (an empty list)."""
    if codes in (None, ""):
        codes = []
    if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
        raise forms.ValidationError('A list of region codes, e.g. ["EU"].')
    regions = sorted({c.strip().upper() for c in codes})
    unknown = [c for c in regions if c not in KNOWN_REGIONS]
    if unknown:
        raise forms.ValidationError(f"Unknown region: {', '.join(unknown)}.")
    if editor_regions is None:
        return regions
    if not regions:
        raise forms.ValidationError(
            "Every region is outside your regions: "
            f"choose among {', '.join(sorted(editor_regions)) or 'none'}."
        )
    outside = [c for c in regions if c not in editor_regions]
    if outside:
        raise forms.ValidationError(f"Outside your regions: {', '.join(outside)}.")
    return regions


class RegionsWithinChangeMixin:
    """For settings that apply to the regions they name, every region when they name none (a
    retention exception, a processing activity): changed and deleted only by staff whose
    regions cover all of them; the form is given `editor_regions` (the officer's regions, None
    for every region) to refuse others (`regions_within_editor`). Put before the ModelAdmin."""

    def setting_regions(self, obj: Any) -> Iterable[str] | None:
        """The regions `obj` applies to; None (or empty) for every region."""
        regions = getattr(obj, "regions", None)
        return regions if isinstance(regions, list) and regions else None

    def setting_within(self, request: HttpRequest, obj: Any) -> bool:
        return obj is None or _within(self.setting_regions(obj), allowed_regions(request.user))

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)  # type: ignore[misc]
        return type(form.__name__, (form,), {"editor_regions": allowed_regions(request.user)})

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        allowed = super().has_change_permission(request, obj)  # type: ignore[misc]
        return allowed and self.setting_within(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        allowed = super().has_delete_permission(request, obj)  # type: ignore[misc]
        return allowed and self.setting_within(request, obj)


class RegionsWithinListMixin(RegionsWithinChangeMixin):
    """`RegionsWithinChangeMixin`, and the changelist, searches, change views and actions see
    only rows whose regions are within the officer's (a row naming none concerns every region:
    staff of every region only). For a few rows per officer (jobs, tokens): the regions are
    compared in Python, the same on SQLite and PostgreSQL. The model has a `regions` field, read
    by the default `setting_regions`. Put before the ModelAdmin."""

    def get_queryset(self, request: HttpRequest):
        rows = super().get_queryset(request)  # type: ignore[misc]
        allowed = allowed_regions(request.user)
        if allowed is None:
            return rows
        # Only the ids and regions are read (not whole rows) to decide.
        within = [
            pk
            for pk, regions in rows.values_list("pk", "regions")
            if _within(self.setting_regions(_Regions(regions)), allowed)
        ]
        return rows.filter(pk__in=within)


def _within(regions: Iterable[str] | None, allowed: frozenset[str] | None) -> bool:
    """True if a setting's `regions` (None: every region) are all within `allowed` (None:
    every region)."""
    if allowed is None:
        return True
    return regions is not None and {str(r).upper() for r in regions} <= allowed


class _Regions:
    """A row as `setting_regions` reads it: its `regions` only."""

    def __init__(self, regions: Any) -> None:
        self.regions = regions

"""Officer screens: source endpoints (the signing secret shown once, rotated with an overlap)
and the inbox (dead letters read masked, replayed after a fix)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from rest_framework.exceptions import ParseError

from access.admin_actions import confirmed
from access.admin_base import RegionsWithinListMixin, ScopedAdmin, regions_within_editor
from access.masking import mask_value
from access.models import ApiToken
from access.scoping import actor_for, allowed_regions
from access.selectors import api_token_within
from activation import mapping, segment, services
from activation.models import Destination, InboxMessage, SourceEndpoint
from audit.actors import Actor
from consent.api.throttles import parse_rate
from consent.models import Purpose
from core.admin import LargeTableAdminMixin, secret_shown_once
from core.errors import DomainError
from core.parsers import json_loads_checked
from profiles.admin import systems_open_to
from profiles.models import System

_IDENTITY_KEYS = {"email": "email", "phone": "phone"}


class SourceEndpointForm(forms.ModelForm):
    """The endpoint, with a sample payload for the mapping's live preview (never stored)."""

    sample = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 12, "cols": 80, "spellcheck": "false"}),
        label="Sample payload (preview only)",
        help_text="Paste one call as the source sends it: the preview below shows what the "
        "mapping makes of it, masked. It is never saved.",
    )

    class Meta:
        model = SourceEndpoint
        fields = ["system", "format", "regions", "rate", "tolerance_seconds", "active", "mapping"]
        widgets = {"mapping": forms.Textarea(attrs={"rows": 16, "cols": 80, "spellcheck": "false"})}

    class Media:
        js = ["activation/mapping_preview.js"]

    # The regions the editing officer may write (None: every region); set by the admin.
    editor_regions: frozenset[str] | None = None

    def clean_mapping(self) -> Any:
        return self.cleaned_data.get("mapping") or {}

    def clean_rate(self) -> str:
        """A rate the webhook's limiter reads (a bad one failed every call of the source)."""
        rate = (self.cleaned_data.get("rate") or "").strip()
        try:
            parse_rate(rate)
        except ImproperlyConfigured as exc:
            raise forms.ValidationError(
                "A number of calls per second, minute, hour or day, e.g. 600/min."
            ) from exc
        return rate

    def clean_regions(self) -> list[str]:
        """Codes of known regions, each within the editor's own scope: a source writes with
        its regions, so an officer cannot give one a region they may not write themselves. A
        source of no region is every region's to configure: staff of every region only."""
        return regions_within_editor(self.cleaned_data.get("regions"), self.editor_regions)


def _in_scope(allowed: frozenset[str] | None, region: str) -> bool:
    return allowed is None or region in allowed


def _source_reaches(source: SourceEndpoint, user: Any) -> bool:
    """At least one region of the source is within the user's own."""
    allowed = allowed_regions(user)
    return isinstance(source.regions, list) and any(
        _in_scope(allowed, str(r).upper()) for r in source.regions
    )


@admin.register(SourceEndpoint)
class SourceEndpointAdmin(RegionsWithinListMixin, admin.ModelAdmin):
    form = SourceEndpointForm
    list_display = ["system", "format", "regions", "rate", "active", "webhook_path"]
    list_filter = ["format", "active"]
    readonly_fields = ["webhook_path", "previous_valid_until", "mapping_preview"]
    fieldsets = [
        (None, {"fields": ["system", "format", "regions", "rate", "tolerance_seconds", "active"]}),
        ("Webhook", {"fields": ["webhook_path", "previous_valid_until"]}),
        (
            "Custom format",
            {
                "fields": ["mapping", "sample", "mapping_preview"],
                "description": "Only for the custom format: which paths of the source's JSON are "
                "identifiers, attributes and events. See docs/sources-and-destinations.md.",
            },
        ),
    ]
    actions = ["rotate_secret"]

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "system":
            kwargs["queryset"] = _systems_offered(request, System.Kind.SOURCE, "source_endpoint")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="webhook URL (path)")
    def webhook_path(self, obj: SourceEndpoint) -> str:
        return f"/api/v1/sources/{obj.pk}/events/" if obj.pk else ""

    @admin.display(description="preview")
    def mapping_preview(self, obj: SourceEndpoint | None) -> str:
        return format_html(
            '<button type="button" class="button" id="mapping-preview-button" data-url="{}">'
            'Preview</button><div id="mapping-preview" aria-live="polite"></div>',
            reverse("admin:activation_sourceendpoint_preview"),
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("preview/", view(self.preview_view), name="activation_sourceendpoint_preview"),
            *super().get_urls(),
        ]

    def preview_view(self, request: HttpRequest) -> JsonResponse:
        """POST mapping, sample (and regions): what the mapping makes of the sample, masked.
        Writes nothing (no row, no audit): the sample stays in this request."""
        if not (self.has_change_permission(request) or self.has_add_permission(request)):
            raise PermissionDenied
        if request.method != "POST":
            return JsonResponse({"errors": ["POST the mapping and a sample."]}, status=405)
        parsed: dict[str, Any] = {}
        for name in ("mapping", "sample", "regions"):
            raw = (request.POST.get(name) or "null").encode()
            try:  # the API's rules: a hostile sample is an error shown, never a 500
                parsed[name] = json_loads_checked(raw)
            except ParseError as exc:
                where = _where(exc.__cause__) if isinstance(exc.__cause__, ValueError) else "?"
                return JsonResponse({"errors": [f"The {name} is not JSON ({where})."]})
            except DomainError as exc:
                return JsonResponse({"errors": [f"The {name} cannot be read: {exc.message}"]})
        regions = parsed["regions"] if isinstance(parsed["regions"], list) else []
        if not regions:
            return JsonResponse({"errors": [_NO_REGION]})
        if parsed["sample"] is None:
            return JsonResponse({"errors": ["Paste a sample payload to preview the mapping."]})
        return JsonResponse(
            mapping.preview(parsed["mapping"], parsed["sample"], region=str(regions[0]).upper())
        )

    def save_model(self, request: HttpRequest, obj: SourceEndpoint, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            secret_shown_once(request, f"Signing secret of {obj.system.name}", obj.secret)

    @admin.action(
        description="Rotate the signing secret (old one valid 24 h)", permissions=["change"]
    )
    def rotate_secret(self, request: HttpRequest, queryset):
        page = confirmed(
            self,
            request,
            queryset,
            title="Rotate the signing secrets",
            consequence="Each source gets a new secret, shown once. Calls signed with the old "
            "secret are accepted for 24 hours more, then refused: give the new one to the source.",
        )
        if page:
            return page
        actor = Actor.from_request(request)
        for endpoint in queryset.select_related("system"):
            secret = services.source_secret_rotate(endpoint=endpoint, actor=actor)
            secret_shown_once(request, f"Signing secret of {endpoint.system.name}", secret)
        return None


_NO_REGION = (
    "Set the source's regions first: the preview places calls in the first one, "
    "and with none every call is dead-lettered."
)


def _where(exc: ValueError) -> str:
    """Where a JSON document broke (line and column), never the text around it."""
    line, column = getattr(exc, "lineno", None), getattr(exc, "colno", None)
    return f"line {line}, column {column}" if line else "unreadable"


def masked(value: Any, key: str = "") -> Any:
    """A payload with every value masked (e-mail and phone by their shape), keys kept: enough
    for an officer to see which field broke a mapping, not whose data it is."""
    if isinstance(value, dict):
        return {k: masked(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v, key) for v in value]
    if value is None or isinstance(value, bool):
        return value
    if key in ("type", "event", "messageId", "timestamp"):
        return value
    return mask_value(_IDENTITY_KEYS.get(key, "text"), value)


class InboxKindFilter(admin.SimpleListFilter):
    """The kinds a source's call can have, not a DISTINCT over the inbox (which keeps every
    call) on every page."""

    title = "kind"
    parameter_name = "kind__exact"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(k, k) for k in (*segment.KINDS, mapping.KIND)]

    def queryset(self, request: HttpRequest, queryset):
        value = self.value()
        return queryset if value is None else queryset.filter(kind=value)


class InboxSourceFilter(admin.SimpleListFilter):
    """The sources writing at least one region the officer covers, read from the sources'
    own table: the names of sources writing only other regions stay off their screen, and no
    DISTINCT runs over the inbox (which keeps every call) on every page."""

    title = "source"
    parameter_name = "source__id__exact"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        sources = SourceEndpoint.objects.select_related("system").order_by("system__name")
        return [
            (str(source.pk), str(source.system.name))
            for source in sources
            if _source_reaches(source, request.user)
        ]

    def queryset(self, request: HttpRequest, queryset):
        value = self.value()
        if value is None:
            return queryset
        try:
            source_id = uuid.UUID(value)
        except ValueError:  # a hand-edited URL: nothing, not a 500
            return queryset.none()
        return queryset.filter(source_id=source_id)


@admin.register(InboxMessage)
class InboxMessageAdmin(LargeTableAdminMixin, ScopedAdmin):
    """The inbox: read-only; a payload is shown masked (keys in clear, values masked) on the
    message's page, never read for the list, and can be replayed once the officer fixed its
    cause (the source's regions or mapping)."""

    list_display = [
        "message_id",
        "source",
        "kind",
        "status",
        "attempts",
        "last_error",
        "received_at",
    ]
    list_filter = ["status", InboxKindFilter, InboxSourceFilter]
    search_fields = ["message_id"]
    list_defer = ("payload",)
    fields = [
        "source",
        "message_id",
        "kind",
        "region",
        "status",
        "attempts",
        "last_error",
        "subject_id",
        "received_at",
        "processed_at",
        "payload_view",
    ]
    readonly_fields = fields
    actions = ["replay"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="payload")
    def payload_view(self, obj: InboxMessage) -> str:
        return format_html("<pre>{}</pre>", json.dumps(masked(obj.payload), indent=2, default=str))

    @admin.action(description="Replay the dead-lettered messages", permissions=["change"])
    def replay(self, request: HttpRequest, queryset):
        actor = self.actor(request)
        done = 0
        for message in queryset.filter(status=InboxMessage.Status.DEAD):
            try:
                services.inbox_replay(message=message, actor=actor)
                done += 1
            except DomainError as exc:
                messages.error(request, exc.message)
        messages.info(request, f"{done} message(s) queued again.")


def _systems_offered(request: HttpRequest, kind: str, part: str):
    """The systems of `kind` (or both kinds) an officer may hang a source or destination on
    (`systems_open_to`), and those holding one already (`part`: the one being edited; any
    other is refused as taken), so an officer still edits their own."""
    systems = System.objects.filter(kind__in=[kind, System.Kind.BOTH])
    return systems_open_to(request.user, systems) | systems.filter(**{f"{part}__isnull": False})


def _members_within(user: Any) -> Q | None:
    """The audience members an officer may count: those of their regions (None: every one)."""
    allowed = allowed_regions(user)
    return None if allowed is None else Q(members__region__in=sorted(allowed))


def _token_within(token: ApiToken | None, user: Any) -> bool:
    """True if every region `token` may read (its own narrowed by its user's) is one `user`
    may see (no token: none)."""
    return token is None or api_token_within(token, allowed_regions(user))


class PurposeExportForm(forms.Form):
    purpose = forms.ModelChoiceField(
        queryset=Purpose.objects.order_by("slug"),
        to_field_name="slug",
        help_text="People whose consent allows this purpose now",
    )
    identifiers = forms.ChoiceField(
        choices=[
            ("sha256", "SHA-256 of the normalized e-mail and phone (as ad platforms take them)"),
            ("clear", "In clear (needs the permission to view unmasked data)"),
        ],
        initial="sha256",
        widget=forms.RadioSelect,
    )


@admin.register(Destination)
class DestinationAdmin(admin.ModelAdmin):
    """Destinations with the purposes they serve and how many people they may receive (as of
    the last sync of their changes feed or push)."""

    list_display = ["system", "purpose_list", "audience_now", "clear_identifiers", "push_webhook"]
    filter_horizontal = ["purposes"]
    actions = ["export_audience"]
    change_list_template = "admin/activation/destination/change_list.html"

    def get_urls(self):
        return [
            path(
                "export-purpose/",
                self.admin_site.admin_view(self.export_purpose_view),
                name="activation_destination_export_purpose",
            ),
            *super().get_urls(),
        ]

    def export_purpose_view(self, request: HttpRequest) -> HttpResponse:
        """A CSV of the people whose consent allows one purpose now, within the officer's
        regions (activation.services.purpose_export_csv), streamed; audited with its size."""
        if not request.user.has_perm("activation.export_audience"):
            raise PermissionDenied
        form = PurposeExportForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            purpose = form.cleaned_data["purpose"]
            try:
                lines, _rows = services.purpose_export_csv(
                    who=request.user,
                    purpose=purpose,
                    clear=form.cleaned_data["identifiers"] == "clear",
                    actor=actor_for(request),
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
                response["Content-Disposition"] = (
                    f'attachment; filename="consented-{purpose.slug}.csv"'
                )
                return response
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Export the people who may be used for a purpose",
            "form": form,
            "regions": sorted(r) if (r := allowed_regions(request.user)) is not None else None,
        }
        return TemplateResponse(
            request, "admin/activation/destination/export_purpose.html", context
        )

    @admin.action(
        description="Export the audience as CSV (consented people only; audited)",
        permissions=["export"],
    )
    def export_audience(self, request: HttpRequest, queryset):
        destination = queryset.first()
        if destination is None or queryset.count() != 1:
            messages.error(request, "Select one destination.")
            return None
        try:
            lines, _rows = services.audience_export_csv(
                who=request.user, destination=destination, actor=actor_for(request)
            )
        except DomainError as exc:
            messages.error(request, exc.message)
            return None
        # Streamed: an audience of a million people is never one string in the web process.
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="audience-{destination.pk}.csv"'
        return response

    def has_change_permission(self, request: HttpRequest, obj: Destination | None = None) -> bool:
        """Only for a destination whose token reaches no region outside the officer's own:
        its purposes, token, push and identifier form decide what leaves about those people."""
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or _token_within(obj.token, request.user))

    def has_delete_permission(self, request: HttpRequest, obj: Destination | None = None) -> bool:
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or _token_within(obj.token, request.user))

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        """Only tokens reaching no region outside the officer's own may pull a destination;
        only systems open to the officer take one (`systems_open_to`)."""
        if db_field.name == "system":
            kwargs["queryset"] = _systems_offered(request, System.Kind.DESTINATION, "destination")
        if db_field.name == "token":
            tokens = ApiToken.objects.select_related("user", "user__region_scope")
            kwargs["queryset"] = tokens.filter(
                pk__in=[t.pk for t in tokens if _token_within(t, request.user)]
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_export_permission(self, request: HttpRequest) -> bool:
        """The export action, as the per-purpose export page: only a role allowed to export
        people (an auditor views destinations but may not take their audience away)."""
        return request.user.has_perm("activation.export_audience")

    def get_queryset(self, request: HttpRequest):
        return (
            super()
            .get_queryset(request)
            .select_related("system", "push_webhook")
            .prefetch_related("purposes")
            .annotate(members_count=Count("members", filter=_members_within(request.user)))
        )

    @admin.display(description="purposes")
    def purpose_list(self, obj: Destination) -> str:
        return ", ".join(p.slug for p in obj.purposes.all())

    @admin.display(description="audience (last sync)", ordering="members_count")
    def audience_now(self, obj: Destination) -> int:
        return getattr(obj, "members_count", 0)

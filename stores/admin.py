"""Connected stores in the admin: connection settings (passwords typed once, stored encrypted,
never shown again), a test-connection button, discovery, and the officer's review of each
proposed dataset (category, identity key and strategy per column) before approval.

A store holds people of every region, and its settings decide where every region's requests
send their identifiers and which of their rows an erasure changes: officers limited to some
regions see stores and datasets but only those who see every region change them. A kept
password stays with the server it was typed for: changing the dialect, host, port, database or
user needs the password again (it would otherwise be sent to whatever server the store now
names, on the next test or request)."""

from __future__ import annotations

import copy

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from access.admin_base import AllRegionsChangeMixin
from audit.actors import Actor
from stores import services
from stores.connection import error_describe
from stores.models import ConnectedStore, StoreColumn, StoreDataset

# The fields that say which server (and account) a password is sent to.
_PASSWORD_TARGET = {
    "read_password": ("dialect", "host", "port", "database", "read_user"),
    "write_password": ("dialect", "host", "port", "database", "write_user"),
}


class StoreForm(forms.ModelForm):
    read_password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="stored encrypted; leave empty to keep the current one",
    )
    write_password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="stored encrypted; leave empty to keep the current one",
    )

    class Meta:
        model = ConnectedStore
        fields = [
            "name",
            "dialect",
            "host",
            "port",
            "database",
            "read_user",
            "read_password",
            "write_user",
            "write_password",
            "timeout_seconds",
            "table_prefix",
            "activities",
            "active",
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._kept = {}
        if self.instance.pk:
            self._kept = {
                "read_password": self.instance.read_password,
                "write_password": self.instance.write_password,
            }

    def clean(self) -> dict:
        """An empty password field keeps the stored password, for the same server and user
        only: once any of them changed the password must be typed again."""
        data = super().clean()
        for name, value in self._kept.items():
            if data.get(name):
                continue
            moved = [
                field
                for field in _PASSWORD_TARGET[name]
                if field in data and data[field] != getattr(self.instance, field)
            ]
            if value and moved:
                self.add_error(
                    name,
                    f"The {', '.join(moved)} changed: type the password again "
                    "(the stored one is kept only for the server it was typed for).",
                )
                continue
            data[name] = value
        return data


@admin.register(ConnectedStore)
class ConnectedStoreAdmin(AllRegionsChangeMixin, admin.ModelAdmin):
    form = StoreForm
    change_form_template = "admin/stores/connectedstore/change_form.html"
    list_display = [
        "name",
        "dialect",
        "database",
        "active",
        "last_check_result",
        "last_discovery_at",
    ]
    readonly_fields = ["system", "last_check_at", "last_check_result", "last_discovery_at"]
    actions = ["check_connection", "discover"]

    def response_change(self, request: HttpRequest, obj: ConnectedStore) -> HttpResponse:
        if "_check" in request.POST:
            self._check(request, obj)
            return HttpResponseRedirect(request.path)
        if "_discover" in request.POST:
            self._discover(request, obj)
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    def _check(self, request: HttpRequest, store: ConnectedStore) -> None:
        result = services.store_check(store=store, actor=Actor.from_request(request))
        level = messages.SUCCESS if "ok" in result and "(" not in result else messages.ERROR
        self.message_user(request, f"{store.name}: {result}", level)

    def _discover(self, request: HttpRequest, store: ConnectedStore) -> None:
        try:
            summary = services.store_discover(store=store, actor=Actor.from_request(request))
        except Exception as exc:  # the store's own failure, shown without its message
            self.message_user(request, f"{store.name}: {error_describe(exc)}", messages.ERROR)
            return
        new = (
            f", {len(summary['new_columns'])} new personal columns"
            if summary["new_columns"]
            else ""
        )
        self.message_user(
            request,
            f"{store.name}: {summary['tables']} tables, {summary['personal_columns']} personal "
            f"columns{new}. Review and approve its datasets.",
        )

    @admin.action(description="Test the connection", permissions=["change"])
    def check_connection(self, request: HttpRequest, queryset) -> None:
        for store in queryset:
            self._check(request, store)

    @admin.action(description="Run discovery (propose the dataset map)", permissions=["change"])
    def discover(self, request: HttpRequest, queryset) -> None:
        for store in queryset:
            self._discover(request, store)


class StoreColumnForm(forms.ModelForm):
    class Meta:
        model = StoreColumn
        fields = ["kind", "category", "identity_kind", "strategy"]

    def clean(self) -> dict:
        data = super().clean()
        column = copy.copy(self.instance)
        for name in self.Meta.fields:
            setattr(column, name, data.get(name, getattr(column, name)))
        problems = services.column_problems(column)
        if problems:
            raise ValidationError(problems)
        return data


class StoreColumnInline(AllRegionsChangeMixin, admin.TabularInline):
    model = StoreColumn
    form = StoreColumnForm
    extra = 0
    can_delete = False
    fields = [
        "name",
        "sql_type",
        "kind",
        "nullable",
        "unique",
        "category",
        "identity_kind",
        "strategy",
        "confidence",
        "sampled",
        "matched",
        "reason",
        "is_new",
    ]
    readonly_fields = [
        "name",
        "sql_type",
        "nullable",
        "unique",
        "confidence",
        "sampled",
        "matched",
        "reason",
        "is_new",
    ]

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(StoreDataset)
class StoreDatasetAdmin(AllRegionsChangeMixin, admin.ModelAdmin):
    """An officer reviews discovery's proposal column by column (the override of a column's
    strategy is the edit here), then approves: only approved datasets are searched."""

    list_display = ["table", "store", "status", "categories_shown", "approved_by", "approved_at"]
    list_filter = ["store", "status"]
    readonly_fields = [
        "store",
        "table",
        "status",
        "primary_key",
        "foreign_keys",
        "approved_at",
        "approved_by",
        "discovered_at",
    ]
    inlines = [StoreColumnInline]
    actions = ["approve", "ignore"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_queryset(self, request: HttpRequest):
        # The categories column reads each dataset's columns: with the page, not per row.
        return super().get_queryset(request).select_related("store").prefetch_related("columns")

    @admin.display(description="categories")
    def categories_shown(self, obj: StoreDataset) -> str:
        return ", ".join(obj.categories)

    @admin.action(description="Approve the reviewed datasets", permissions=["change"])
    def approve(self, request: HttpRequest, queryset) -> None:
        actor = Actor.from_request(request)
        for dataset in queryset.select_related("store"):
            try:
                services.dataset_approve(dataset=dataset, actor=actor)
            except ValidationError as invalid:
                self.message_user(
                    request, f"{dataset}: {'; '.join(invalid.messages)}", messages.ERROR
                )
            else:
                self.message_user(request, f"{dataset}: approved")

    @admin.action(description="Ignore (no personal data)", permissions=["change"])
    def ignore(self, request: HttpRequest, queryset) -> None:
        actor = Actor.from_request(request)
        for dataset in queryset.select_related("store"):
            services.dataset_ignore(dataset=dataset, actor=actor)
            self.message_user(request, f"{dataset}: ignored")

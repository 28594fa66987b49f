"""Each request's work in each connected store, for officers: which store failed and why,
retry one store, or close it with a recorded exception (typed in its "exception reason");
for a rectification, where the subject's rows are (the task's result) and how an officer
corrected them (typed in its "evidence")."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from access.admin_base import ScopedAdmin
from dsar.store_actions import store_corrected, store_except, store_retry
from stores.models import StoreTask


@admin.register(StoreTask)
class StoreTaskAdmin(ScopedAdmin):
    list_display = [
        "request_reference",
        "store",
        "kind",
        "status",
        "attempts",
        "last_error",
        "exception_reason",
        "updated_at",
    ]
    list_filter = ["status", "store", "kind"]
    search_fields = ["request_reference"]
    fields = [
        "request_reference",
        "store",
        "kind",
        "status",
        "attempts",
        "last_error",
        "result",
        "evidence",
        "exception_reason",
        "closed_by",
    ]
    readonly_fields = [f for f in fields if f not in ("exception_reason", "evidence")]
    actions = ["retry"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: StoreTask, form, change: bool) -> None:
        """Typing evidence on a manual task records the correction; typing a reason closes the
        store's part with that exception; nothing else saves."""
        reason = form.cleaned_data.get("exception_reason", "")
        evidence = form.cleaned_data.get("evidence", "")
        open_ = (StoreTask.Status.FAILED, StoreTask.Status.PENDING, StoreTask.Status.MANUAL)
        try:
            if evidence and obj.status == StoreTask.Status.MANUAL:
                store_corrected(task=obj, actor=self.actor(request), evidence=evidence)
            elif reason and obj.status in open_:
                store_except(task=obj, actor=self.actor(request), reason=reason)
        except ValidationError as invalid:
            self.message_user(request, "; ".join(invalid.messages), messages.ERROR)

    @admin.action(description="Retry the selected stores", permissions=["change"])
    def retry(self, request: HttpRequest, queryset) -> None:
        for task in queryset.filter(status=StoreTask.Status.FAILED).select_related("store"):
            store_retry(task=task, actor=self.actor(request))
            self.message_user(request, f"{task.store.name}: retry for {task.request_reference}")

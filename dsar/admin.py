"""The request desk in the admin: a queue by deadline (overdue and due-soon highlighted),
intake on a subject's behalf with the officer's attestation, and per request a timeline with
approve / deny / extend / assign / note / close a manual task / retry a step. Scoped by region
(and assignment); every decision goes through dsar.services and is audited."""

from __future__ import annotations

import datetime as dt
import uuid

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import capfirst

from access.admin_actions import confirmed
from access.admin_base import (
    AllRegionsChangeMixin,
    RegionsWithinChangeMixin,
    ScopedAdmin,
    regions_within_editor,
)
from access.admin_filters import RegionFilter
from access.admin_search import PrivateSearchMixin
from access.scoping import region_allowed
from audit.actors import Actor
from core.admin import secret_shown_once
from core.errors import DomainError
from core.forms import CheckedJSONField
from dsar import engine, selectors, services, wording
from dsar.deadlines import deadline_state
from dsar.models import (
    DataSubjectRequest,
    LegalHold,
    RequestStep,
    RetentionException,
    SystemConnector,
    SystemTask,
)
from profiles.crypto.blind_index import InvalidIdentifier, index_of
from profiles.models import Subject
from profiles.selectors import subject_get, subject_search_any

DEADLINE_COLOURS = {"overdue": "#ba2121", "due_soon": "#b36b00", "on_track": "#447e36"}


class DeadlineFilter(admin.SimpleListFilter):
    title = "deadline"
    parameter_name = "deadline"

    def lookups(self, request, model_admin):
        return [("overdue", "Overdue"), ("due_soon", "Due within 7 days"), ("open", "All open")]

    def queryset(self, request, queryset):
        now = timezone.now()
        open_rows = queryset.filter(status__in=DataSubjectRequest.OPEN)
        if self.value() == "overdue":
            return open_rows.filter(due_at__lte=now)
        if self.value() == "due_soon":
            return open_rows.filter(due_at__gt=now, due_at__lte=now + dt.timedelta(days=7))
        if self.value() == "open":
            return open_rows
        return queryset


class MineFilter(admin.SimpleListFilter):
    title = "assignment"
    parameter_name = "mine"

    def lookups(self, request, model_admin):
        return [("1", "Assigned to me"), ("0", "Unassigned")]

    def queryset(self, request, queryset):
        if self.value() == "1":
            return queryset.filter(assigned_to=request.user)
        if self.value() == "0":
            return queryset.filter(assigned_to=None)
        return queryset


class IntakeForm(forms.Form):
    kind = forms.ChoiceField(choices=DataSubjectRequest.Kind.choices)
    subject = forms.CharField(
        required=False,
        help_text="The subject's id, or an exact e-mail, phone or customer id (blind index).",
    )
    email = forms.EmailField(
        required=False, help_text="Where to answer; needed if the subject is not known yet."
    )
    region = forms.CharField(max_length=16, required=False, help_text="e.g. EU, US-CA")
    received_on = forms.DateField(
        required=False,
        help_text="When the letter, call or e-mail reached us (default today): the deadline "
        "runs from then. YYYY-MM-DD.",
    )
    description = forms.CharField(
        widget=forms.Textarea, required=False, max_length=services.DESCRIPTION_MAX_CHARS
    )
    corrections = CheckedJSONField(
        required=False, help_text='Rectification only: {"attribute key": "corrected value"}'
    )
    attestation = forms.BooleanField(
        label="I verified the requester's identity",
        help_text="Your attestation is recorded as the verification of this request.",
    )


def _start_of(day: dt.date | None) -> dt.datetime | None:
    if day is None or day == timezone.localdate():
        return None
    return dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC)


class DecisionForm(forms.Form):
    action = forms.ChoiceField(
        choices=[
            (a, a)
            for a in ("approve", "deny", "extend", "note", "assign", "task_done", "retry_step")
        ]
    )
    text = forms.CharField(required=False, max_length=2000)
    user = forms.IntegerField(required=False)
    target = forms.CharField(required=False, max_length=64)


@admin.register(DataSubjectRequest)
class DataSubjectRequestAdmin(PrivateSearchMixin, ScopedAdmin):
    list_display = [
        "reference",
        "kind",
        "region",
        "status",
        "deadline",
        "due_at",
        "assigned_to",
        "channel",
    ]
    list_filter = [DeadlineFilter, "status", "kind", RegionFilter, MineFilter, "channel"]
    search_fields = ["reference"]
    search_help_text = "Reference (DSR-…), or the requester's exact e-mail address."
    ordering = ["due_at"]
    list_select_related = ["assigned_to"]
    change_form_template = "admin/dsar/request_change.html"
    readonly_fields = [
        "reference",
        "kind",
        "status",
        "channel",
        "subject",
        "region",
        "jurisdiction",
        "verification",
        "received_at",
        "due_at",
        "extended_at",
        "extension_reason",
        "approved_at",
        "approved_by",
        "closed_at",
        "outcome",
        "assigned_to",
        "created_by",
    ]
    fields = readonly_fields
    actions = ["assign_to_me"]

    @admin.action(description="Assign to me", permissions=["view"])
    def assign_to_me(self, request: HttpRequest, queryset):
        if not request.user.has_perm("dsar.change_datasubjectrequest"):
            raise PermissionDenied
        queryset = queryset.filter(status__in=DataSubjectRequest.OPEN)
        page = confirmed(
            self,
            request,
            queryset,
            title="Assign the requests to me",
            consequence="You become the officer in charge of these open requests: reminders "
            "go to you.",
        )
        if page:
            return page
        actor = self.actor(request)
        assigned = refused = 0
        for dsr in queryset:
            try:
                services.request_assign(request=dsr, user=request.user, actor=actor)
            except DomainError:
                refused += 1
            else:
                assigned += 1
        messages.success(request, f"{assigned} request(s) assigned to you.")
        if refused:
            messages.error(
                request,
                f"{refused} request(s) not assigned: they are of regions you do not cover.",
            )
        return None

    @admin.display(description="deadline", ordering="due_at")
    def deadline(self, obj: DataSubjectRequest) -> str:
        if not obj.is_open:
            return "closed"
        state = deadline_state(obj.due_at, timezone.now())
        days = (obj.due_at - timezone.now()).days
        label = {"overdue": f"overdue {-days} d", "due_soon": f"{days} d left"}.get(
            state, f"{days} d left"
        )
        return format_html('<strong style="color:{}">{}</strong>', DEADLINE_COLOURS[state], label)

    def get_search_results(self, request: HttpRequest, queryset, search_term: str):
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.upper().startswith("DSR-"):
            return queryset.filter(reference=term.upper()), False
        try:
            index = index_of("email", term)
        except InvalidIdentifier:
            index = None
        subjects = subject_search_any(who=request.user, text=term).values("pk")
        condition = queryset.filter(subject__in=subjects)
        if index:
            condition = condition | queryset.filter(contact_index=index)
        return condition, False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("dsar.add_datasubjectrequest")

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # decisions go through the buttons below, never a raw edit

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # the request record is the proof

    def get_urls(self):
        info = self.model._meta.app_label, self.model._meta.model_name
        return [
            path(
                "<uuid:object_id>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name=f"{info[0]}_{info[1]}_decide",
            ),
            *super().get_urls(),
        ]

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = IntakeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                dsr = self._intake(request, form.cleaned_data)
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                messages.success(request, f"Request {dsr.reference} opened.")
                return HttpResponseRedirect(
                    reverse("admin:dsar_datasubjectrequest_change", args=[dsr.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": "Open a data-subject request",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/dsar/intake.html", context)

    def _intake(self, request: HttpRequest, data: dict) -> DataSubjectRequest:
        subject = None
        term = (data.get("subject") or "").strip()
        if term:
            subject = subject_search_any(who=request.user, text=term).first()
            if subject is None:
                raise DomainError("No subject in your scope matches that.")
        elif not region_allowed(request.user, (data.get("region") or "").upper()):
            raise DomainError("Give a region you are responsible for.")
        details = {"description": data.get("description") or ""}
        if data.get("corrections"):
            details["corrections"] = data["corrections"]
        dsr, _ = services.request_create(
            kind=data["kind"],
            channel=DataSubjectRequest.Channel.ADMIN,
            actor=self.actor(request),
            subject=subject,
            email=data.get("email") or "",
            region=data.get("region") or "",
            details=details,
            verification=DataSubjectRequest.Verification.OFFICER,
            received_at=_start_of(data.get("received_on")),
        )
        return dsr

    def change_view(self, request: HttpRequest, object_id: str, form_url="", extra_context=None):
        dsr = self.get_object(request, object_id)
        manage = selectors.principal_may_manage(request.user, dsr)
        steps = list(dsr.steps.all())
        for step in steps:
            step.result_text = wording.result_text(step.result, step=step.name)
        extra = {
            "dsr": dsr,
            "manage": manage,
            "deadline": deadline_state(dsr.due_at, timezone.now()) if dsr.is_open else "closed",
            "brief": selectors.request_brief(
                who=request.user, request=dsr, actor=Actor.from_request(request)
            ),
            "kind_phrase": capfirst(wording.kind_phrase(dsr)),
            "timeline": selectors.request_timeline(request=dsr, with_notes=manage),
            "steps": steps,
            "system_tasks": dsr.system_tasks.select_related("connector__system"),
            "archive": getattr(dsr, "archive", None),
            "officers": selectors.request_assignees(request=dsr) if manage else [],
            "decide_url": reverse("admin:dsar_datasubjectrequest_decide", args=[dsr.pk]),
        }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def decide_view(self, request: HttpRequest, object_id):
        if request.method != "POST":
            return HttpResponseRedirect(
                reverse("admin:dsar_datasubjectrequest_change", args=[object_id])
            )
        if not request.user.has_perm("dsar.change_datasubjectrequest"):
            raise PermissionDenied
        try:
            dsr = selectors.request_get(who=request.user, request_id=object_id, action="change")
        except DomainError as error:
            raise Http404("not found") from error  # out of scope answers as missing
        form = DecisionForm(request.POST)
        back = HttpResponseRedirect(reverse("admin:dsar_datasubjectrequest_change", args=[dsr.pk]))
        if not form.is_valid():
            messages.error(request, "Invalid decision.")
            return back
        actor = self.actor(request)
        action, text = form.cleaned_data["action"], form.cleaned_data["text"] or ""
        try:
            self._decide(dsr, action, text, form.cleaned_data, actor)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"{action.replace('_', ' ')}: done.")
        return back

    def _decide(self, dsr, action: str, text: str, data: dict, actor: Actor) -> None:
        if action == "approve":
            services.request_approve(request=dsr, actor=actor, reason=text)
        elif action == "deny":
            services.request_deny(request=dsr, actor=actor, reason=text)
        elif action == "extend":
            services.request_extend(request=dsr, actor=actor, reason=text)
        elif action == "note":
            services.request_note(request=dsr, actor=actor, note=text)
        elif action == "assign":
            user = get_user_model().objects.filter(pk=data.get("user")).first()
            if user is None:
                raise DomainError("Choose an officer.")
            services.request_assign(request=dsr, user=user, actor=actor)
        elif action == "task_done":
            task = SystemTask.objects.filter(request=dsr, pk=_uuid_or_none(data.get("target")))
            task = task.first()
            if task is None:
                raise DomainError("Unknown system task.")
            services.system_task_complete(task=task, actor=actor, evidence=text)
        elif action == "retry_step":
            step = RequestStep.objects.filter(request=dsr, name=data.get("target")).first()
            if step is None or step.status != RequestStep.Status.FAILED:
                raise DomainError("Only a failed step can be retried.")
            engine.step_retry(step=step, actor=actor)


def _uuid_or_none(text: str | None) -> uuid.UUID | None:
    """A posted id as a UUID; None (no row) when it is none."""
    try:
        return uuid.UUID(text or "")
    except ValueError:
        return None


@admin.register(SystemConnector)
class SystemConnectorAdmin(AllRegionsChangeMixin, admin.ModelAdmin):
    """The shared secret is generated, never typed in: shown once when the system is added and
    when an officer rotates it. A connector is sent the identifiers (e-mail, phone in clear) of
    every region's requesters: only officers who see every region add, change or delete one (an
    EU-limited officer could point its URL at a server of their own)."""

    list_display = ["system", "mode", "webhook_url", "handles", "active"]
    list_filter = ["mode", "active"]
    actions = ["rotate_secret"]

    def save_model(self, request: HttpRequest, obj: SystemConnector, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            secret_shown_once(request, f"Shared secret of {obj.system.name}", obj.secret)

    @admin.action(description="Rotate the shared secret", permissions=["change"])
    def rotate_secret(self, request: HttpRequest, queryset):
        page = confirmed(
            self,
            request,
            queryset,
            title="Rotate the shared secrets",
            consequence="Each system gets a new secret, shown once. Callbacks signed with the "
            "old secret are refused from now on: give the new one to the system.",
        )
        if page:
            return page
        actor = Actor.from_request(request)
        for connector in queryset.select_related("system"):
            secret = services.connector_secret_rotate(connector=connector, actor=actor)
            secret_shown_once(request, f"Shared secret of {connector.system.name}", secret)
        return None


class LegalHoldForm(forms.ModelForm):
    """A hold on an erased person is refused by the form (nothing is left to hold)."""

    class Meta:
        model = LegalHold
        fields = ["subject", "reason"]

    def clean_subject(self):
        subject = self.cleaned_data.get("subject")
        if subject is not None and subject.status == Subject.Status.ERASED:
            raise forms.ValidationError(services.ERASED_NOTHING_TO_HOLD)
        return subject


@admin.register(LegalHold)
class LegalHoldAdmin(ScopedAdmin):
    form = LegalHoldForm
    list_display = ["subject", "reason", "created_by", "created_at", "released_at"]
    list_filter = ["released_at"]
    fields = ["subject", "reason"]
    raw_id_fields = ["subject"]
    actions = ["release"]

    def save_model(self, request, obj, form, change):
        if change:
            raise PermissionDenied  # a hold is placed or released, never edited
        subject = subject_get(who=request.user, subject_id=obj.subject_id)
        hold = services.legal_hold_place(
            subject=subject, reason=obj.reason, actor=self.actor(request)
        )
        obj.pk = hold.pk

    def add_view(self, request, form_url="", extra_context=None):
        """The service's refusal at save (the person erased after the form was checked) comes
        back to the add page as an error message; the add's transaction is rolled back."""
        try:
            return super().add_view(request, form_url, extra_context)
        except DomainError as error:
            messages.error(request, error.message)
            return HttpResponseRedirect(request.get_full_path())

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Release the selected holds", permissions=["view"])
    def release(self, request, queryset):
        if not request.user.has_perm("dsar.change_legalhold"):
            raise PermissionDenied
        done = 0
        for hold in queryset.filter(released_at=None):
            services.legal_hold_release(hold=hold, actor=self.actor(request))
            done += 1
        messages.success(request, f"{done} legal hold(s) released.")

    def response_add(self, request, obj, post_url_continue=None):
        messages.success(
            request,
            f"The legal hold was added successfully on subject {obj.subject_id}: "
            "no erasure or retention deletes its data until it is released (audited).",
        )
        return HttpResponseRedirect(reverse("admin:dsar_legalhold_changelist"))


class RetentionExceptionForm(forms.ModelForm):
    editor_regions: frozenset[str] | None = None

    class Meta:
        model = RetentionException
        fields = ["event_prefix", "regions", "reason", "keep_days", "active"]

    def clean_regions(self) -> list[str]:
        """Known codes within the editor's regions ("every region" only for staff who see
        them all): an exception keeps the events of its regions' people through an erasure."""
        return regions_within_editor(self.cleaned_data.get("regions"), self.editor_regions)


@admin.register(RetentionException)
class RetentionExceptionAdmin(RegionsWithinChangeMixin, admin.ModelAdmin):
    """An exception keeps events through the erasure of its regions' people (every region's
    when it names none): an officer limited to some regions adds, changes or deletes only
    exceptions of their regions."""

    form = RetentionExceptionForm
    list_display = ["event_prefix", "regions", "kept_for", "reason", "active"]
    list_filter = ["active"]

    @admin.display(description="kept for", ordering="keep_days")
    def kept_for(self, obj: RetentionException) -> str:
        return wording.period(obj.keep_days)


from dsar import stores_admin  # noqa: E402,F401 - registers the store tasks' admin

"""The admin site with the privacy officer's workspace as its home page."""

from __future__ import annotations

from django.http import Http404, HttpRequest
from django.template.response import TemplateResponse
from django.urls import path

from access.admin_site import CustodiaAdminSite
from audit.actors import Actor
from core.errors import NotFoundError
from ops.dashboard import workspace
from ops.timeline import subject_timeline
from sso.forms import SsoAwareLoginForm
from sso.selectors import sign_in_providers


class WorkspaceAdminSite(CustodiaAdminSite):
    index_template = "admin/workspace_index.html"
    login_template = "admin/sso_login.html"
    password_login_form = SsoAwareLoginForm

    def login(self, request: HttpRequest, extra_context: dict | None = None):
        """Password (+ TOTP) for local accounts, and a "Sign in with" button per IdP."""
        context = {**(extra_context or {}), "sso_providers": list(sign_in_providers())}
        return super().login(request, context)

    def index(self, request: HttpRequest, extra_context: dict | None = None):
        region = request.GET.get("region") or None
        context = {
            **(extra_context or {}),
            "workspace": workspace(who=request.user, region=region),
        }
        return super().index(request, context)

    def get_urls(self):
        return [
            path(
                "subject-timeline/<uuid:subject_id>/",
                self.admin_view(self.subject_timeline_view),
                name="subject-timeline",
            ),
            *super().get_urls(),
        ]

    def subject_timeline_view(self, request: HttpRequest, subject_id):
        try:
            timeline = subject_timeline(
                who=request.user, subject_id=subject_id, actor=Actor.from_request(request)
            )
        except NotFoundError as exc:
            raise Http404("not found") from exc
        context = {
            **self.each_context(request),
            "title": f"Timeline of subject {subject_id}",
            **timeline,
        }
        return TemplateResponse(request, "admin/subject_timeline.html", context)

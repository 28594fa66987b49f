"""The admin site with the privacy officer's workspace as its home page."""

from __future__ import annotations

from django.http import HttpRequest

from access.admin_site import CustodiaAdminSite
from ops.dashboard import workspace


class WorkspaceAdminSite(CustodiaAdminSite):
    index_template = "admin/workspace_index.html"

    def index(self, request: HttpRequest, extra_context: dict | None = None):
        context = {**(extra_context or {}), "workspace": workspace(who=request.user)}
        return super().index(request, context)

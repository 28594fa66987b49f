from django.contrib.admin.apps import AdminConfig


class WorkspaceAdminConfig(AdminConfig):
    """The Django admin with Custodia's site: TOTP for staff when required (access) and the
    privacy officer's workspace as its home page (ops, which may read every app)."""

    default_site = "ops.admin_site.WorkspaceAdminSite"

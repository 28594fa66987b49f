from django.contrib.admin.apps import AdminConfig


class CustodiaAdminConfig(AdminConfig):
    """The Django admin with Custodia's site (TOTP second factor for staff when required)."""

    default_site = "access.admin_site.CustodiaAdminSite"

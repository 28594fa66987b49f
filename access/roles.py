"""Roles are Django groups; their permissions are declared here and applied by `sync_roles`
(run by a migration and by seed_demo, and after upgrades that add models)."""

from __future__ import annotations

from typing import Any

PRIVACY_OFFICER = "Privacy officer"
DPO = "DPO"
SUPPORT_AGENT = "Support agent"
MARKETING_ANALYST = "Marketing analyst"
AUDITOR = "Auditor"
SERVICE_ACCOUNT = "Service account"

ALL_ROLES = (PRIVACY_OFFICER, DPO, SUPPORT_AGENT, MARKETING_ANALYST, AUDITOR, SERVICE_ACCOUNT)


def is_service_account(user: Any) -> bool:
    """An active account in the service-account role and in no other, that is neither staff
    (no admin sign-in) nor superuser: the only kind of account API tokens are issued to."""
    if not user.is_active or user.is_staff or user.is_superuser:
        return False
    return set(user.groups.values_list("name", flat=True)) == {SERVICE_ACCOUNT}


# Permission codenames as "app_label.codename"; "app_label.view_*" expands to every model's
# view permission of that app. Apps listed here may add models later: sync_roles re-expands.
_VIEW_ALL = [
    "profiles.view_*",
    "consent.view_*",
    "stores.view_*",
    "activation.view_*",
    "dsar.view_*",
    "audit.view_*",
]
ROLE_PERMISSIONS: dict[str, list[str]] = {
    DPO: [
        *_VIEW_ALL,
        "access.view_unmasked",
        "access.view_*",
        "access.add_unmaskgrant",
        "access.add_apitoken",
        "access.change_apitoken",
        "access.add_regionscope",
        "access.change_regionscope",
        "profiles.add_*",
        "profiles.change_*",
        "profiles.delete_*",
        "profiles.search_subject",
        "consent.add_*",
        "consent.change_*",
        "stores.add_*",
        "stores.change_*",
        "activation.add_*",
        "activation.change_*",
        "activation.export_audience",
        "dsar.add_*",
        "dsar.change_*",
        "audit.export_auditevent",
        "audit.change_auditalert",
    ],
    PRIVACY_OFFICER: [
        *_VIEW_ALL,
        "access.view_unmasked",
        "access.add_unmaskgrant",
        "profiles.add_*",
        "profiles.change_*",
        "profiles.search_subject",
        "consent.add_*",
        "consent.change_*",
        "stores.add_*",
        "stores.change_*",
        "activation.add_*",
        "activation.change_*",
        "activation.export_audience",
        "dsar.add_*",
        "dsar.change_*",
        "audit.export_auditevent",
        "audit.change_auditalert",
    ],
    SUPPORT_AGENT: [
        "profiles.view_subject",
        "profiles.view_identifier",
        "profiles.view_attribute",
        "profiles.search_subject",
        "consent.view_currentconsent",
        "dsar.view_datasubjectrequest",
        "dsar.add_datasubjectrequest",
    ],
    MARKETING_ANALYST: [
        # Lists of the people a purpose allows, hashed identifiers (no unmask permission),
        # from the purposes' page; not the destinations or their feeds.
        "activation.export_audience",
        "consent.view_purpose",
        "consent.view_currentconsent",
        "consent.view_jurisdiction",
        "consent.view_decision",
    ],
    AUDITOR: [
        *_VIEW_ALL,
        "audit.export_auditevent",
        "access.view_apitoken",
        "access.view_unmaskgrant",
        "access.view_regionscope",
    ],
    SERVICE_ACCOUNT: [
        "profiles.view_subject",
        "profiles.add_subject",
        "profiles.change_subject",
        "profiles.view_identifier",
        "profiles.view_attribute",
        "profiles.view_event",
        "profiles.search_subject",
        "consent.view_*",
        "consent.add_consentrecord",
        "activation.view_destination",
        "dsar.view_datasubjectrequest",
        "dsar.add_datasubjectrequest",
        "dsar.change_datasubjectrequest",
        "audit.view_auditevent",
    ],
}

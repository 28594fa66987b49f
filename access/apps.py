from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccessConfig(AppConfig):
    name = "access"

    def ready(self) -> None:
        from access import schema  # noqa: F401 - registers the OpenAPI auth extension

        # Setup, not business logic: after every migrate, role groups get the permissions of
        # every model that now exists (models added later by upgrades included).
        post_migrate.connect(_sync_roles_after_migrate, sender=self)
        # Cache invalidation, not business logic: a cached API principal is dropped on any
        # change to a token, user, group, permission or region scope (access/principals.py).
        from access.principals import connect_invalidation, principal_generation_bump

        connect_invalidation()
        # A data migration writes through the models of its migration state, whose signals
        # reach none of those receivers: every migrate ends by forgetting every principal.
        post_migrate.connect(
            principal_generation_bump, sender=self, weak=False, dispatch_uid="access.migrated"
        )


def _sync_roles_after_migrate(**kwargs) -> None:
    from access.services import sync_roles

    sync_roles()

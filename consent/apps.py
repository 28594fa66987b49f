from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ConsentConfig(AppConfig):
    name = "consent"

    def ready(self) -> None:
        # Cache invalidation, not business logic: reference data cached per process is
        # reloaded everywhere after any change (consent/refdata.py).
        from consent.refdata import connect_invalidation, refdata_bump

        connect_invalidation()
        # A data migration (e.g. a regime's rules updated) writes through the models of its
        # migration state, which send no signal the receivers hear: every migrate ends by
        # making every process reload.
        post_migrate.connect(refdata_bump, sender=self, weak=False, dispatch_uid="consent.migrated")

from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "consent"

    def ready(self) -> None:
        # Cache invalidation, not business logic: reference data cached per process is
        # reloaded everywhere after any change (consent/refdata.py).
        from consent.refdata import connect_invalidation

        connect_invalidation()

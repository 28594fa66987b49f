from typing import Any

from django.apps import AppConfig


class ActivationConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "activation"
    verbose_name = "Sources and destinations"

    def ready(self) -> None:
        from activation.selectors import destinations_for_data_map
        from consent.art30 import DATA_MAP_EXTENSIONS
        from consent.webhooks import AFTER_SUBJECT_CHANGE

        if _push_soon not in AFTER_SUBJECT_CHANGE:
            AFTER_SUBJECT_CHANGE.append(_push_soon)
        if destinations_for_data_map not in DATA_MAP_EXTENSIONS:
            DATA_MAP_EXTENSIONS.append(destinations_for_data_map)
        from django.db.models.signals import post_delete, post_save, pre_delete, pre_save

        from activation.models import SourceEndpoint

        pre_save.connect(_endpoint_changing, sender=SourceEndpoint, dispatch_uid="source-vpre")
        pre_delete.connect(_endpoint_changing, sender=SourceEndpoint, dispatch_uid="source-vpdel")
        post_save.connect(_endpoint_changed, sender=SourceEndpoint, dispatch_uid="source-version")
        post_delete.connect(_endpoint_changed, sender=SourceEndpoint, dispatch_uid="source-vdel")
        # A data migration writes through the models of its migration state, which send no
        # signal the receivers above hear: every migrate ends by moving every source's version.
        from django.db.models.signals import post_migrate

        post_migrate.connect(_endpoints_migrated, sender=self, dispatch_uid="source-migrated")


def _endpoint_changing(sender: object, instance: object, **kwargs: object) -> None:
    """An endpoint about to be saved or deleted: refused while the cache is unreachable."""
    from activation.services import source_endpoint_changing

    if getattr(instance, "pk", None) is not None:
        source_endpoint_changing(instance.pk)  # type: ignore[attr-defined]


def _endpoint_changed(sender: object, instance: object, **kwargs: object) -> None:
    """Any saved or deleted endpoint: processes holding it read it again on their next call."""
    from activation.services import source_endpoint_changed

    source_endpoint_changed(getattr(instance, "pk", None))


def _endpoints_migrated(using: str, apps: Any = None, **kwargs: object) -> None:
    """After a migrate (or a flush): processes read every source's endpoint again on its next
    call."""
    from django.apps import apps as installed

    from activation.services import source_endpoint_changed

    try:
        model = (apps or installed).get_model("activation", "SourceEndpoint")
    except LookupError:  # migrated to a state before sources existed
        return
    for pk in model.objects.using(using).values_list("pk", flat=True):
        source_endpoint_changed(pk)


def _push_soon() -> None:
    """A subject's consent changed (committed): push destinations' changes within seconds (one
    wake-up at most waits in the broker; with the broker down, beat's next run pushes)."""
    from activation.services import PUSH_TASK
    from core.wake import wake

    wake(PUSH_TASK)

from django.apps import AppConfig


class StoresConfig(AppConfig):
    name = "stores"
    verbose_name = "Connected SQL stores"
    default_auto_field = "django.db.models.BigAutoField"

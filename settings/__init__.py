"""The Custodia Django project package: settings, URLs, the Celery application."""

from settings.celery import app as celery_app

__all__ = ["celery_app"]

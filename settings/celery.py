"""The one Celery application. Configuration comes from Django settings (CELERY_ namespace)."""

from __future__ import annotations

import importlib
import os

from celery import Celery, bootsteps
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.base")

app = Celery("custodia")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _django_logging(**_: object) -> None:
    """Workers and beat log through Django's LOGGING (its filter withholds the text of
    libraries that log personal data), not through handlers of Celery's own."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@app.on_after_configure.connect
def _embedded_broker_polling(sender: Celery, **_: object) -> None:
    """kombu's SQLAlchemy transport hands every transport option to create_engine, so its poll
    interval cannot be set through broker_transport_options: set it on the transport class.
    Done once Celery reads its configuration, not at import: a settings module that imports
    settings.base (bench/benchsettings.py) is still importing when this package loads."""
    from django.conf import settings
    from kombu.transport import sqlalchemy

    sqlalchemy.Transport.polling_interval = settings.CELERY_POLLING_INTERVAL


SCHEDULE_MODULES = [
    "ops.schedule",
    "audit.schedule",
    "profiles.schedule",
    "consent.schedule",
    "activation.schedule",
    "dsar.schedule",
]


@app.on_after_finalize.connect
def _collect_beat_schedule(sender: Celery, **_: object) -> None:
    """Each app declares its periodic tasks in <app>/schedule.py; beat runs their union."""
    schedule: dict = dict(sender.conf.beat_schedule or {})
    for module_name in SCHEDULE_MODULES:
        schedule.update(importlib.import_module(module_name).BEAT_SCHEDULE)
    sender.conf.beat_schedule = schedule


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Records this worker as alive in the database, so /healthz works with any broker."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.tref = None

    def start(self, worker):
        from django.conf import settings

        from ops import services

        interval = settings.CUSTODIA_WORKER_HEARTBEAT_SECONDS
        services.worker_heartbeat_record(hostname=worker.hostname, pid=os.getpid())
        self.tref = worker.timer.call_repeatedly(
            interval,
            services.worker_heartbeat_record,
            kwargs={"hostname": worker.hostname, "pid": os.getpid()},
        )

    def stop(self, worker):
        from ops import services

        if self.tref is not None:
            self.tref.cancel()
            self.tref = None
        services.worker_heartbeat_stop(hostname=worker.hostname)


app.steps["worker"].add(WorkerHeartbeat)

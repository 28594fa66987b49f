from celery.schedules import crontab
from django.conf import settings

BEAT_SCHEDULE = {
    "dsar-sweep": {"task": "dsar.sweep", "schedule": settings.CUSTODIA_DSAR_SWEEP_SECONDS},
    "dsar-deadline-reminders": {
        "task": "dsar.deadline_reminders",
        "schedule": crontab(minute=0, hour=7),
    },
}

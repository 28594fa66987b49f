from celery.schedules import crontab

BEAT_SCHEDULE = {
    "consent-deliver-webhooks": {"task": "consent.deliver_webhooks", "schedule": 60.0},
    "consent-flag-expired": {
        "task": "consent.flag_expired",
        "schedule": crontab(minute=5, hour="*/6"),
    },
    "consent-retention-enforce": {
        "task": "consent.retention_enforce",
        "schedule": crontab(minute=40, hour=3),
    },
}

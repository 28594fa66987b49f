from celery.schedules import crontab

BEAT_SCHEDULE = {
    "audit-verify-chain": {"task": "audit.verify_chain", "schedule": crontab(minute=17)},
    "audit-publish-head": {"task": "audit.publish_head", "schedule": crontab(minute="*/15")},
}

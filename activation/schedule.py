BEAT_SCHEDULE = {
    "activation-inbox-resend-stalled": {
        "task": "activation.inbox_resend_stalled",
        "schedule": 120.0,
    },
    "activation-destinations-push": {"task": "activation.destinations_push", "schedule": 60.0},
}

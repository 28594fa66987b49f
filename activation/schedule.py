BEAT_SCHEDULE = {
    "activation-inbox-resend-stalled": {
        "task": "activation.inbox_resend_stalled",
        "schedule": 120.0,
    },
}

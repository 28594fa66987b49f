BEAT_SCHEDULE = {
    # The backstop of the coalesced wake-up: retries after backoff, leases run out, lost wake-ups.
    "activation-inbox-drain": {"task": "activation.inbox_drain", "schedule": 15.0},
    "activation-destinations-push": {"task": "activation.destinations_push", "schedule": 60.0},
}

BEAT_SCHEDULE = {
    "ops-prune-worker-heartbeats": {"task": "ops.prune_worker_heartbeats", "schedule": 3600.0},
}

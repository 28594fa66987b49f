BEAT_SCHEDULE = {
    "profiles-resume-imports": {"task": "profiles.resume_imports", "schedule": 60.0},
    # Nightly: learn the match weights from the day's data and the officers' decisions.
    "profiles-match-model-estimate": {
        "task": "profiles.match_model_estimate",
        "schedule": 24 * 3600.0,
    },
}

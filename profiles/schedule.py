BEAT_SCHEDULE = {
    "profiles-resume-imports": {"task": "profiles.resume_imports", "schedule": 60.0},
}

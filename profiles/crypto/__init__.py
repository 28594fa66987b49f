"""Field-level encryption: versioned master keys, per-subject data keys, AES-256-GCM fields,
keyed blind indexes. Keys come from the environment and never from SECRET_KEY."""

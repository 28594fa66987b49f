"""Celery tasks of profiles: thin, ids only, idempotent."""

import logging

from celery import shared_task

from audit.actors import Actor
from profiles import imports, services

logger = logging.getLogger(__name__)


@shared_task(
    name="profiles.run_import",
    bind=True,
    acks_late=True,
    max_retries=5,
    autoretry_for=(OSError,),
    retry_backoff=True,
)
def run_import(self, job_id: str) -> None:
    """Import an NDJSON file; resumes at the last committed line after a crash."""
    imports.import_job_run(job_id=job_id)


@shared_task(name="profiles.resume_imports")
def resume_imports() -> int:
    """Beat sweeper: re-enqueue imports whose worker died (lease expired)."""
    return imports.import_jobs_resume_stalled()


@shared_task(name="profiles.rotate_keys", acks_late=True)
def rotate_keys(batch_size: int = 500) -> int:
    """Re-wrap one batch of data keys, then re-enqueue itself until none is left."""
    done = services.rotate_keys_batch(
        batch_size=batch_size, actor=Actor.system("task profiles.rotate_keys")
    )
    if done:
        rotate_keys.delay(batch_size)
    return done


@shared_task(name="profiles.match_model_estimate", acks_late=True)
def match_model_estimate() -> int:
    """Beat: re-estimate the match model from the data and the officers' decisions, then
    re-score the pending reviews. Returns the new model version (the current one, unchanged,
    while there is too little data to estimate from)."""
    try:
        model = services.match_model_estimate(actor=Actor.system("beat"))
    except services.ModelNotEstimable as exc:
        logger.info("match model not re-estimated: %s", exc.message)
        return services.match_model_current()[0]
    services.match_reviews_rescore(actor=Actor.system("match-model"))
    return model.version

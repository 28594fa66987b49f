"""Settings for benchmarks: the hub's settings plus a minimal JSON view as the baseline."""

import os

from settings.base import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
DEBUG = False

# Two servers on two databases may share one Redis cache (bench_scale): keys kept apart.
if os.environ.get("BENCH_CACHE_PREFIX"):
    CACHES["default"]["KEY_PREFIX"] = os.environ["BENCH_CACHE_PREFIX"]  # noqa: F405

# A/B runs of the database backend (e.g. Django's own PostgreSQL backend, whose health check
# sends SELECT 1 per request, against core.db.postgresql): the engine of this run.
if os.environ.get("BENCH_DB_ENGINE"):
    DATABASES["default"]["ENGINE"] = os.environ["BENCH_DB_ENGINE"]  # noqa: F405

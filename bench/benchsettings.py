"""Settings for benchmarks: the hub's settings plus a minimal JSON view as the baseline."""

from settings.base import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
DEBUG = False

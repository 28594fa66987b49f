"""Shared fixtures: users per role, API clients, and real Celery worker processes."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.db.backends.signals import connection_created
from django.test import override_settings

from settings.celery import app as celery_app
from tests.workers import WorkerProcess

_RUN_DIR = Path(tempfile.mkdtemp(prefix="custodia-test-"))


def _allow_test_flush(sender, connection, **kwargs) -> None:
    """PostgreSQL refuses TRUNCATE of the audit tables (audit migration 0003) unless the session
    says otherwise; Django's flush between transactional tests truncates every table."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET custodia.allow_audit_truncate = 'on'")


connection_created.connect(_allow_test_flush)


def _test_broker_url() -> str:
    """Redis/RabbitMQ when the environment names one (CI), else a private SQLite broker file,
    so a running development hub never consumes the tests' messages."""
    if os.environ.get("CELERY_BROKER_URL"):
        return os.environ["CELERY_BROKER_URL"]
    return f"sqla+sqlite:///{_RUN_DIR / 'broker.sqlite3'}"


@pytest.fixture(scope="session", autouse=True)
def _isolated_broker():
    celery_app.conf.broker_url = _test_broker_url()
    celery_app.conf.task_always_eager = False


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing():
    """Production hashes staff passwords with PBKDF2 at a million rounds (about 0.3 s each, by
    design); the suite creates staff users by the hundred and signs in by form, so it hashes
    with one fast hasher. Django's hashers are Django's to test, not ours."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(scope="session")
def worker_log_dir() -> Path:
    path = Path(settings.VAR_DIR) / "test-logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test that ran real workers shows what they logged (their warnings and the
    tail of each log): a CI failure can then be read without the worker's files."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    for worker in getattr(item, "_custodia_workers", ()):
        if worker.log_path.exists():
            report.sections.append((f"worker {worker.hostname}", worker.log_excerpt()))


@pytest.fixture
def start_worker(request, transactional_db, worker_log_dir):
    """Factory for real worker processes; every one started is stopped after the test."""
    started: list[WorkerProcess] = []
    request.node._custodia_workers = started

    def _start(
        *, concurrency: int = 2, wait: bool = True, env: dict[str, str] | None = None
    ) -> WorkerProcess:
        worker = WorkerProcess(_test_broker_url(), worker_log_dir, concurrency=concurrency, env=env)
        started.append(worker)
        return worker.start(wait=wait)

    yield _start
    for worker in started:
        worker.discard()


@pytest.fixture
def worker(start_worker):
    """One real worker process consuming every queue against the test database."""
    return start_worker()


@pytest.fixture
def roles(db):
    """Role groups with their declared permissions (as the migration and seed_demo set them)."""
    from access.services import sync_roles

    sync_roles()


@pytest.fixture
def api():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def regimes(db):
    """Seeded jurisdictions and purposes (a transactional test's flush removes migration data)."""
    from consent.regimes import seed_regimes

    seed_regimes()


@pytest.fixture
def partitioned_cache(settings, tmp_path):
    """The shared cache on a private redis-server reached through a relay the test can cut
    (`cut()`: commands time out and never arrive, then fail at once) and heal (`heal()`: the
    server answers again with its data), as a network partition does (tests.faults)."""
    from tests.faults import Partition, RedisBroker

    server = RedisBroker(tmp_path).start()
    relay = Partition(server.port)
    settings.CUSTODIA_CACHE_SOCKET_TIMEOUT = 0.3
    settings.CUSTODIA_CACHE_FAIL_FAST_SECONDS = 0.2
    settings.CACHES = {"default": {"BACKEND": "core.cache.RedisCache", "LOCATION": relay.url}}
    try:
        yield relay
    finally:
        relay.close()
        server.stop()


@pytest.fixture(autouse=True)
def _no_cached_state_from_other_tests():
    """A test's rollback sends no signal: start each test with no cached API principal and no
    cached consent reference data (access/principals.py, consent/refdata.py)."""
    from django.core.cache import cache

    from access.principals import GENERATION_KEY
    from activation.services import DRAIN_TASK, PUSH_TASK
    from consent.refdata import VERSION_KEY
    from consent.webhooks import DELIVER_TASK
    from core.wake import publish_retry_now, wake_key

    publish_retry_now()  # an earlier test's broker failure does not hold this one's publishes
    # A wake-up flag left by an earlier test (its message never consumed) would hold back the
    # wake-ups of this one for up to core.wake.HOLD_SECONDS.
    flags = [wake_key(task) for task in (DRAIN_TASK, PUSH_TASK, DELIVER_TASK)]
    cache.delete_many([GENERATION_KEY, VERSION_KEY, *flags])

"""Real Celery worker processes for end-to-end tests (never eager mode)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def manage(
    *args: str, env: dict[str, str], timeout: float = 300, check: bool = False
) -> subprocess.CompletedProcess:
    """`python manage.py <args>` in a child process with `env`, its output captured as text."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )


def test_database_url() -> str:
    """The URL of the database the test run uses, so a worker process can reach it."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


class WorkerProcess:
    """A `celery worker` child process consuming every queue against the test database."""

    def __init__(
        self,
        broker_url: str,
        log_dir: Path,
        concurrency: int = 2,
        env: dict[str, str] | None = None,
    ) -> None:
        self.broker_url = broker_url
        self.extra_env = env or {}
        self.hostname = f"test-{uuid.uuid4().hex[:8]}@localhost"
        self.log_path = log_dir / f"{self.hostname.split('@')[0]}.log"
        self.concurrency = concurrency
        self.process: subprocess.Popen | None = None

    def start(self, *, wait: bool = True) -> WorkerProcess:
        env = {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "CELERY_BROKER_URL": self.broker_url,
            "CUSTODIA_VAR_DIR": str(settings.VAR_DIR),
            "CUSTODIA_WORKER_HEARTBEAT_SECONDS": "1",
            **self.extra_env,
        }
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "settings",
                "worker",
                "-Q",
                ",".join(settings.CELERY_WORKER_QUEUES),
                "-c",
                str(self.concurrency),
                "-n",
                self.hostname,
                "-l",
                "info",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        from ops.models import WorkerHeartbeat

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log_path.read_text()[-4000:]}")
            if WorkerHeartbeat.objects.filter(hostname=self.hostname, stopped_at=None).exists():
                return
            time.sleep(0.2)
        raise TimeoutError(f"worker not ready:\n{self.log_path.read_text()[-4000:]}")

    def log_excerpt(self, tail: int = 3000) -> str:
        """The log's warnings and errors, then its last `tail` characters."""
        text = self.log_path.read_text(errors="replace")
        flagged = [line for line in text.splitlines() if "WARNING" in line or "ERROR" in line]
        return "\n".join(flagged[-40:]) + "\n--- last lines ---\n" + text[-tail:]

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL the whole process group (main process and its pool children), no clean-up."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def discard(self) -> None:
        """End the worker at a test's teardown: its test is over, so it is killed (a warm
        shutdown waits out the broker's 2 s poll and the pool's joins, 3 to 6 s per worker,
        for nothing). Its messages are not needed by any later test, which starts its own."""
        self.kill()
        if getattr(self, "_log", None):
            self._log.close()

    def stop(self, timeout: float = 30) -> None:
        """Warm shutdown, as Ctrl-C would do; falls back to SIGKILL."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, "_log", None):
            self._log.close()


def wait_for(predicate, timeout: float = 60, interval: float = 0.2, message: str = "condition"):
    """Poll `predicate` until it returns a truthy value; fail with `message` after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")

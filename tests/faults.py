"""The moving parts of the fault drill (tests/e2e/test_faults.py): a private redis-server as
broker, the web server (gunicorn, as in production), Celery beat, banner clients that retry
like a real banner, and a /healthz poller. Everything listens on 127.0.0.1, every loop has a
deadline, and every process runs in its own process group so it can be killed whole."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from tests.workers import ROOT

REDIS_SERVER = "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def silent_server() -> Iterator[str]:
    """A server on a free port that accepts connections and never answers (a hung Redis or
    broker); yields its redis:// URL."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    finally:
        server.close()
        for conn in held:
            conn.close()


class Partition:
    """A TCP relay to 127.0.0.1:`port` that can be cut as a network partition cuts: `cut()`
    drops every relayed connection with whatever it carried, and holds new ones without an
    answer (commands time out and never arrive); `heal()` relays again. The server behind it
    keeps its data. `url`: its redis:// address."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.url = f"redis://127.0.0.1:{self.listener.getsockname()[1]}/0"
        self.open: list[socket.socket] = []
        self.is_cut = False
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn = self.listener.accept()[0]
            except OSError:
                return
            with self.lock:
                self.open.append(conn)
                if self.is_cut:
                    continue  # held: accepted, never answered
            upstream = socket.create_connection(("127.0.0.1", self.target))
            with self.lock:
                self.open.append(upstream)
            for a, b in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        with self.lock:
            self.is_cut = True
            dropped, self.open = self.open, []
        for sock in dropped:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def heal(self) -> None:
        with self.lock:
            self.is_cut = False
            held, self.open = self.open, []
        for sock in held:  # connections made during the cut are dropped: clients reconnect
            sock.close()

    def close(self) -> None:
        self.listener.close()
        self.cut()


def use_broker(url: str) -> None:
    """Point this process's Celery producer at `url` (what `.delay()` publishes to)."""
    from settings.celery import app

    # Only this app's references are dropped: kombu's pools are shared per broker URL, and the
    # pool of the URL restored afterwards must stay usable.
    # broker_url gives way to CELERY_BROKER_URL from the environment; the write URL does not.
    app.conf["broker_write_url"] = url
    app.conf["broker_read_url"] = url
    app._pool = None
    app.amqp._producer_pool = None
    from core.wake import publish_retry_now

    publish_retry_now()  # another broker: a failure of the last one does not hold publishes


@contextmanager
def broker_unreachable() -> Iterator[None]:
    """Within the block, publishing a task fails as it does when the broker is down."""
    from settings.celery import app

    previous = app.conf.broker_write_url
    use_broker(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    try:
        yield
    finally:
        use_broker(previous)


class Process:
    """A child process in its own session (so killpg reaches its children), logging to a file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen | None = None
        self._log = None

    def start(self) -> Process:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group: no clean-up, as a crash or an OOM kill would."""
        if self.alive():
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM the process group, then SIGKILL what is left of it."""
        if self.process is not None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        if self._log is not None:
            self._log.close()
            self._log = None

    def tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


class RedisBroker:
    """A private redis-server without persistence: killing it loses every queued message, the
    worst a broker can do. Restarted on the same port, as a supervisor would."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.log_dir = log_dir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: Process | None = None

    def start(self, timeout: float = 15) -> RedisBroker:
        argv = [
            REDIS_SERVER,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
            "--dir",
            str(self.log_dir),
        ]
        self.process = Process("redis-broker", argv, dict(os.environ), self.log_dir).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.process.alive():
                raise RuntimeError(f"redis-server exited:\n{self.process.tail()}")
            if _port_open(self.port):
                return self
            time.sleep(0.1)
        raise TimeoutError(f"redis-server not listening:\n{self.process.tail()}")

    def kill(self) -> None:
        self.process.kill()
        self.process.stop()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


def django_env(*, database_url: str, broker_url: str, var_dir: str, **extra: str) -> dict:
    """Environment of a hub process (web, worker, beat) pointed at the test database."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "CUSTODIA_VAR_DIR": var_dir,
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


class WebServer(Process):
    """gunicorn with sync workers, as production runs the hub (docs/operations.md)."""

    def __init__(self, env: dict[str, str], log_dir: Path, workers: int = 2) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "settings.wsgi:application",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--timeout",
            "30",
            "--graceful-timeout",
            "5",
            "--log-level",
            "warning",
        ]
        super().__init__("web", argv, env, log_dir)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"web server exited:\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # it answers (503 while no worker runs yet)
            except OSError:
                time.sleep(0.2)
        raise TimeoutError(f"web server not ready:\n{self.tail()}")


class Beat(Process):
    """Celery beat: sends the DSAR sweeper (and the other periodic tasks) through the broker."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        argv = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "settings",
            "beat",
            "-l",
            "info",
            "-s",
            str(log_dir / "celerybeat-schedule"),
            "--pidfile=",
        ]
        super().__init__("beat", argv, env, log_dir)


def _post_json(url: str, body: dict, timeout: float) -> int:
    data = json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "custodia-drill/1"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        error.read()
        return error.code


@dataclass
class ClientStats:
    acknowledged: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    retries: int = 0
    connection_errors: int = 0
    server_errors: int = 0
    throttled: int = 0
    rejected: list[tuple[int, dict]] = field(default_factory=list)
    server_errors_at: list[float] = field(default_factory=list)
    failures_at: list[float] = field(default_factory=list)  # monotonic time of each retry


class BannerClient(threading.Thread):
    """A banner on a visitor's page, over plain HTTP: each visitor grants then withdraws. A
    write is retried (same body) on a connection error, a timeout (while the first request may
    still run), a 5xx or a 429, as a banner SDK does or a visitor clicking again; it counts as
    written only when the hub answered 2xx."""

    CHOICES = (
        {"analytics": "granted", "marketing_email": "denied"},
        {"analytics": "withdrawn", "personalization": "granted"},
    )

    def __init__(self, number: int, base_url: str, key: str, stop: threading.Event, until: float):
        super().__init__(name=f"banner-{number}", daemon=True)
        self.number = number
        self.url = f"{base_url}/api/v1/consent/public/consents/?key={key}"
        self.stop_event = stop
        self.until = until
        self.stats = ClientStats()

    def _write(self, visitor: str, choices: dict[str, str]) -> bool:
        body = {"visitor_id": visitor, "region": "EU", "choices": choices}
        while time.monotonic() < self.until:
            try:
                status = _post_json(self.url, body, timeout=3)
            except OSError:
                self.stats.connection_errors += 1
                status = None
            if status is not None and 200 <= status < 300:
                self.stats.acknowledged.append((visitor, choices))
                return True
            if status is not None and 400 <= status < 500 and status != 429:
                self.stats.rejected.append((status, body))
                return False
            if status == 429:
                self.stats.throttled += 1
            elif status is not None:
                self.stats.server_errors += 1
                self.stats.server_errors_at.append(time.monotonic())
            self.stats.retries += 1
            self.stats.failures_at.append(time.monotonic())
            time.sleep(0.2 + random.random() * 0.3)
        return False

    def run(self) -> None:
        n = 0
        while not self.stop_event.is_set() and time.monotonic() < self.until:
            n += 1
            visitor = f"drill-{self.number}-{n:05d}"
            for choices in self.CHOICES:
                if not self._write(visitor, choices):
                    return
            time.sleep(0.05)


@dataclass
class HealthSample:
    at: float
    status: int | None
    checks: dict
    seconds: float = 0.0

    def down(self) -> list[str]:
        """What this answer reported not up (or that the hub did not answer at all)."""
        if self.status is None:
            return ["unreachable"]
        return sorted(name for name, check in self.checks.items() if check["status"] != "up")


class HealthPoller(threading.Thread):
    """GET /healthz twice a second, keeping every answer with its time."""

    def __init__(self, base_url: str, stop: threading.Event, until: float) -> None:
        super().__init__(name="healthz", daemon=True)
        self.url = f"{base_url}/healthz"
        self.stop_event = stop
        self.until = until
        self.samples: list[HealthSample] = []

    def poll(self) -> HealthSample:
        started = time.monotonic()
        try:
            with urllib.request.urlopen(self.url, timeout=10) as response:
                sample = HealthSample(started, response.status, json.load(response)["checks"])
        except urllib.error.HTTPError as error:
            try:
                checks = json.loads(error.read())["checks"]
            except (ValueError, KeyError):
                checks = {}
            sample = HealthSample(started, error.code, checks)
        except OSError:
            sample = HealthSample(started, None, {})
        sample.seconds = time.monotonic() - started
        sample.at = time.monotonic()  # what it reports is as of its answer
        self.samples.append(sample)
        return sample

    def run(self) -> None:
        while not self.stop_event.is_set() and time.monotonic() < self.until:
            self.poll()
            time.sleep(0.5)

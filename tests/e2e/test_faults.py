"""Faults under load (issue 13): on PostgreSQL, while eight banner clients write consent over
real HTTP to a gunicorn server and two real workers run erasures, a worker is killed with
SIGKILL and restarted, the broker (a private redis-server without persistence) is killed and
started again, and every other connection to the test database is ended with
pg_terminate_backend. Afterwards every acknowledged consent write is in the ledger exactly
once, every erasure completed exactly once, and /healthz showed the outage and the recovery.

Loopback only and bounded: under a minute of faults, every loop with a deadline, every process
killed by its process group and every thread stopped at the end. The figures of the run go to var/test-logs/."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from audit.actors import Actor
from audit.models import AuditEvent
from consent.models import ConsentProperty, ConsentRecord, CurrentConsent, Purpose
from dsar import services
from dsar.models import DataSubjectRequest, RequestStep
from profiles.models import Subject
from settings.celery import app as celery_app
from tests import workers
from tests.factories import make_subject
from tests.faults import (
    REDIS_SERVER,
    BannerClient,
    Beat,
    HealthPoller,
    RedisBroker,
    WebServer,
    django_env,
    use_broker,
)
from tests.workers import WorkerProcess, wait_for

ON_POSTGRES = django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
pytestmark = [
    pytest.mark.faults,
    pytest.mark.e2e,
    pytest.mark.skipif(
        not ON_POSTGRES,
        reason="the fault drill needs PostgreSQL (pg_terminate_backend): set DATABASE_URL",
    ),
    pytest.mark.skipif(
        shutil.which(REDIS_SERVER) is None, reason=f"the fault drill needs {REDIS_SERVER}"
    ),
]

CLIENTS = 8
WAVES = (12, 12, 8, 8)  # erasure requests opened before each fault
LEASE = 4  # seconds a worker holds a step; the sweeper resumes it after that
DRILL_SECONDS = 150  # hard limit for every client and poller loop


def _terminate_database_connections() -> int:
    """End every other session on the test database (never another database)."""
    name = connection.settings_dict["NAME"]
    assert name.startswith("test_"), name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
        return cursor.fetchone()[0]


class Drill:
    """The processes of the drill; `close()` kills whatever is still running."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.broker = RedisBroker(log_dir)
        self.database_url = workers.test_database_url()
        self.workers: list[WorkerProcess] = []
        self.web: WebServer | None = None
        self.beat: Beat | None = None
        self.events: list[tuple[float, str]] = []
        self.terminated = 0
        self.stops: list[threading.Event] = []  # of the client and poller threads

    def env(self, **extra: str) -> dict[str, str]:
        return django_env(
            database_url=self.database_url,
            broker_url=self.broker.url,
            var_dir=str(django_settings.VAR_DIR),
            CUSTODIA_STEP_LEASE_SECONDS=str(LEASE),
            LOG_LEVEL="WARNING",
            **extra,
        )

    def mark(self, what: str) -> None:
        self.events.append((time.monotonic(), what))

    def first_events(self) -> dict[str, float]:
        """When each kind of event first happened."""
        return {what: at for at, what in reversed(self.events)}

    def start(self) -> None:
        self.broker.start()
        self.web = WebServer(
            self.env(
                # Persistent connections, as production runs (docs/operations.md).
                DB_CONN_MAX_AGE="60",
                CUSTODIA_WORKER_STALE_SECONDS="3",
                # Eight clients from one address must not be throttled: the drill measures
                # faults, not the rate limit.
                CUSTODIA_PUBLIC_CLIENT_RATE="1000000/min",
                CUSTODIA_PUBLIC_KEY_RATE="1000000/min",
            ),
            self.log_dir,
        ).start()
        self.beat = Beat(self.env(CUSTODIA_DSAR_SWEEP_SECONDS="1"), self.log_dir).start()
        for _ in range(2):
            self.start_worker()
        self.web.wait_ready()

    def start_worker(self, *, wait: bool = True) -> WorkerProcess:
        worker = WorkerProcess(
            self.broker.url,
            self.log_dir,
            concurrency=1,
            env={"CUSTODIA_STEP_LEASE_SECONDS": str(LEASE), "LOG_LEVEL": "WARNING"},
        )
        self.workers.append(worker)
        return worker.start(wait=wait)

    def close(self) -> None:
        for stop in self.stops:
            stop.set()
        for worker in self.workers:
            worker.kill()
            worker.stop()
        for process in (self.beat, self.web):
            if process is not None:
                process.stop()
        self.broker.stop()


@pytest.fixture
def drill(transactional_db, regimes, settings, worker_log_dir):
    settings.CUSTODIA_DSAR_APPROVAL_REQUIRED = []  # service-verified erasures start at once
    settings.CUSTODIA_STEP_LEASE_SECONDS = LEASE
    log_dir = worker_log_dir / f"fault-drill-{int(time.time())}"
    log_dir.mkdir(parents=True)
    drill = Drill(log_dir)
    previous_broker = celery_app.conf.broker_write_url
    try:
        use_broker(drill.broker.url)
        drill.start()
        yield drill
    finally:
        drill.close()
        use_broker(previous_broker)


def _open_erasures(subjects: list[Subject]) -> list[DataSubjectRequest]:
    """Erasure requests from a connected CRM, verified by the service; each starts at once."""
    return [
        services.request_create(
            kind="erasure",
            channel="api",
            actor=Actor.system("crm-integration"),
            subject=subject,
            verification="service",
        )[0]
        for subject in subjects
    ]


def _outages(samples, start: float) -> list[dict]:
    """Runs of /healthz answers that were not all up, with what they reported down."""
    runs: list[dict] = []
    for sample in samples:
        down = sample.down()
        if down and runs and "until_s" not in runs[-1]:
            runs[-1]["down"] = sorted({*runs[-1]["down"], *down})
        elif down:
            runs.append({"from_s": round(sample.at - start, 1), "down": down})
        elif runs and "until_s" not in runs[-1]:
            runs[-1]["until_s"] = round(sample.at - start, 1)
    return runs


def _wait_until_a_step_runs(seconds: float) -> None:
    """Give the workers a moment to be inside a step, so the kill interrupts one."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if RequestStep.objects.filter(status=RequestStep.Status.RUNNING).exists():
            return
        time.sleep(0.05)


@pytest.mark.timeout(420)
def test_acknowledged_consent_and_erasures_survive_worker_broker_and_database_faults(drill):
    prop = ConsentProperty.objects.create(name="Drill shop", publishable_key="pk_drill")
    prop.purposes.set(Purpose.objects.all())
    subjects = iter([make_subject(region="EU", events=3) for _ in range(sum(WAVES))])
    waves = [[next(subjects) for _ in range(size)] for size in WAVES]
    probe = HealthPoller(drill.web.url, threading.Event(), 0)
    wait_for(lambda: probe.poll().status == 200, timeout=60, message="a healthy hub first")

    start = time.monotonic()
    until = start + DRILL_SECONDS
    stop = threading.Event()
    poller = HealthPoller(drill.web.url, threading.Event(), until + 90)
    drill.stops += [stop, poller.stop_event]
    clients = [
        BannerClient(n, drill.web.url, prop.publishable_key, stop, until) for n in range(CLIENTS)
    ]
    for thread in [*clients, poller]:
        thread.start()
    requests: list[DataSubjectRequest] = []
    try:
        time.sleep(2)

        # 1. A worker dies with SIGKILL in the middle of erasures, and is started again.
        requests += _open_erasures(waves[0])
        _wait_until_a_step_runs(5)
        drill.workers[0].kill()
        drill.mark("worker killed")
        time.sleep(2)
        drill.start_worker(wait=False)
        drill.mark("worker restarted")

        # 2. The broker dies with every queued message; requests keep coming meanwhile.
        requests += _open_erasures(waves[1])
        time.sleep(0.3)
        drill.broker.kill()
        drill.mark("broker killed")
        requests += _open_erasures(waves[2])
        time.sleep(5)
        drill.broker.start()
        drill.mark("broker restarted")
        time.sleep(3)

        # 3. Every connection to the database is ended under the web server and the workers.
        requests += _open_erasures(waves[3])
        time.sleep(0.3)
        for _ in range(2):
            terminated = _terminate_database_connections()
            drill.mark("database connections terminated")
            drill.terminated += terminated
            time.sleep(2)
        time.sleep(3)
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=30)
    faults_over = time.monotonic()
    pks = [r.pk for r in requests]
    wait_for(
        lambda: (
            not DataSubjectRequest.objects.filter(pk__in=pks)
            .exclude(status=DataSubjectRequest.Status.COMPLETED)
            .exists()
        ),
        timeout=120,
        interval=1,
        message="every erasure to complete",
    )
    erasures_done = time.monotonic()
    live_workers = sum(1 for worker in drill.workers if worker.process.poll() is None)

    def recovered():
        sample = poller.samples[-1] if poller.samples else None
        if sample and not sample.down() and sample.checks["workers"]["alive"] == live_workers:
            return sample
        return None

    healthy = wait_for(recovered, timeout=60, interval=0.5, message="/healthz all up again")
    poller.stop_event.set()
    poller.join(timeout=15)

    # Every consent write acknowledged with a 2xx is in the ledger, exactly once, and the
    # projection holds each visitor's last acknowledged choice.
    for client in clients:
        assert not client.is_alive()
        assert client.stats.rejected == [], client.stats.rejected[:3]
    acknowledged = [write for client in clients for write in client.stats.acknowledged]
    assert len(acknowledged) > 100  # the clients did write under load
    ledger = Counter(
        ConsentRecord.objects.filter(visitor_id__startswith="drill-").values_list(
            "visitor_id", "purpose__slug", "state"
        )
    )
    expected = [
        (visitor, slug, state)
        for visitor, choices in acknowledged
        for slug, state in choices.items()
    ]
    lost = [write for write in expected if ledger[write] == 0]
    twice = [write for write in expected if ledger[write] > 1]
    assert not lost, f"{len(lost)} acknowledged writes lost, e.g. {lost[:3]}"
    assert not twice, f"{len(twice)} writes recorded twice, e.g. {twice[:3]}"
    last: dict[tuple[str, str], str] = {}
    for visitor, choices in acknowledged:
        last.update({(visitor, slug): state for slug, state in choices.items()})
    current = {
        (visitor, slug): state
        for visitor, slug, state in CurrentConsent.objects.filter(
            visitor_id__startswith="drill-"
        ).values_list("visitor_id", "purpose__slug", "state")
    }
    assert {key: current.get(key) for key in last} == last

    # Every erasure completed exactly once.
    erased = Counter(
        AuditEvent.objects.filter(action="profiles.subject.erase").values_list(
            "subject_id", flat=True
        )
    )
    completed = Counter(
        AuditEvent.objects.filter(action="dsar.request.complete").values_list(
            "object_id", flat=True
        )
    )
    assert len(requests) == sum(WAVES)
    for request in requests:
        request.refresh_from_db()
        assert request.status == DataSubjectRequest.Status.COMPLETED
        assert erased[request.subject_id] == 1, request.reference
        assert completed[str(request.pk)] == 1, request.reference
        assert Subject.objects.get(pk=request.subject_id).status == Subject.Status.ERASED
        assert set(request.steps.values_list("status", flat=True)) == {RequestStep.Status.DONE}

    # /healthz reported the outage while it lasted, and everything up at the end.
    events = drill.first_events()
    broker_down = [
        s for s in poller.samples if events["broker killed"] < s.at < events["broker restarted"]
    ]
    assert any("broker" in s.down() for s in broker_down), broker_down
    assert healthy.status == 200

    # A broker outage is invisible to banner clients: their writes never fail because of it.
    server_errors = [at for client in clients for at in client.stats.server_errors_at]
    assert not [
        at for at in server_errors if events["broker killed"] <= at <= events["broker restarted"]
    ]

    figures = _figures(drill, clients, poller, requests, start, faults_over, erasures_done)
    (drill.log_dir / "figures.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))


def _figures(drill, clients, poller, requests, start, faults_over, erasures_done) -> dict:
    """What docs/reliability.md reports for a run."""
    events = drill.first_events()
    failures = sorted(at for client in clients for at in client.stats.failures_at)

    def failures_between(first: str, last: str | None) -> int:
        end = events[last] if last else faults_over
        return sum(1 for at in failures if events[first] <= at < end)

    def first_ok_after(event: str) -> float:
        ok = next(s.at for s in poller.samples if s.at > events[event] and not s.down())
        return round(ok - events[event], 1)

    resumed = RequestStep.objects.filter(request__in=requests, attempts__gt=1)
    wall_start = time.time() - (time.monotonic() - start)
    alive_after_kill = [
        s.checks["workers"].get("alive", 0)
        for s in poller.samples
        if events["worker killed"] < s.at < events["broker killed"] and s.checks
    ]
    return {
        "clients": CLIENTS,
        "writes_acknowledged": sum(len(c.stats.acknowledged) for c in clients),
        "ledger_records_checked": sum(
            len(choices) for c in clients for _, choices in c.stats.acknowledged
        ),
        "retries": len(failures),
        "retries_after_worker_kill": failures_between("worker killed", "broker killed"),
        "retries_during_broker_outage": failures_between("broker killed", "broker restarted"),
        "retries_after_database_termination": failures_between(
            "database connections terminated", None
        ),
        "server_errors": sum(c.stats.server_errors for c in clients),
        "connection_errors": sum(c.stats.connection_errors for c in clients),
        "throttled": sum(c.stats.throttled for c in clients),
        "erasures": len(requests),
        "steps_resumed_after_a_lease": sorted(
            (step.name, step.attempts, round(step.finished_at.timestamp() - wall_start, 1))
            for step in resumed
        ),
        "database_connections_terminated": drill.terminated,
        "healthz_answers": len(poller.samples),
        "healthz_outages": _outages(poller.samples, start),
        "workers_alive_min_after_kill": min(alive_after_kill, default=None),
        "events_s": [(round(at - start, 1), what) for at, what in drill.events],
        "broker_restart_to_healthz_ok_s": first_ok_after("broker restarted"),
        "faults_over_to_erasures_done_s": round(erasures_done - faults_over, 1),
        "drill_s": round(time.monotonic() - start, 1),
    }

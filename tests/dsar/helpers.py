"""Driving a request's pipeline in the test process (the worker tests use a real worker)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from core import webhooks
from dsar import engine
from dsar.models import DataSubjectRequest, RequestStep


def drive(request: DataSubjectRequest, *, limit: int = 20) -> DataSubjectRequest:
    """Run the request's steps in order, as workers would, until it stops moving."""
    for _ in range(limit):
        step = engine.step_next(request.pk)
        if step is None or step.status not in (
            RequestStep.Status.PENDING,
            RequestStep.Status.RUNNING,
        ):
            break
        RequestStep.objects.filter(pk=step.pk).update(lease_until=None)
        if engine.step_run(step_id=step.pk) not in ("done",):
            break
    request.refresh_from_db()
    return request


class ConnectedSystem:
    """A tiny HTTP server playing a CRM that takes erasure/export orders by signed webhook and
    answers with a signed callback (or not, when `callback` is False). It acts once per task
    id, however often the order is delivered."""

    def __init__(self, secret: str, *, callback: bool = True, delay: float = 0.0) -> None:
        self.secret = secret
        self.callback = callback
        self.delay = delay
        self.deliveries: list[dict] = []
        self.effects: dict[str, dict] = {}
        self.bad_signatures = 0
        self.received = threading.Event()
        system = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if not webhooks.verify(
                    system.secret, body, self.headers.get(webhooks.SIGNATURE_HEADER, "")
                ):
                    system.bad_signatures += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                order = json.loads(body)
                system.deliveries.append(order)
                system.received.set()
                if system.delay:
                    import time

                    time.sleep(system.delay)
                system.effects.setdefault(order["task_id"], order)
                self.send_response(202)
                self.end_headers()
                if system.callback:
                    threading.Thread(target=system.confirm, args=(order,), daemon=True).start()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/orders"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def confirm(self, order: dict) -> None:
        webhooks.deliver(
            order["callback_url"],
            {"status": "done", "evidence": f"crm ticket for {order['task_id'][:8]}"},
            secret=self.secret,
        )

    def __enter__(self) -> ConnectedSystem:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

"""Django's PostgreSQL backend with a health check that costs no round trip.

With persistent connections and ``CONN_HEALTH_CHECKS``, Django checks a reused connection
when a request first uses it by sending ``SELECT 1``: one round trip per request, as much as
a whole consent decision. A connection the server ended while it sat idle between requests
(``pg_terminate_backend``, a restart, a failover, an idle timeout) has already been told so:
the server sends a FATAL error and closes the socket, so the socket is readable although the
client sent nothing. This check therefore looks at psycopg's own flags and polls the socket
without waiting; only when something arrived unasked does it fall back to Django's
``SELECT 1``, which reads what arrived (and fails on an ended session). Everything else is
Django's backend unchanged (``ENGINE = "core.db.postgresql"``).
"""

from __future__ import annotations

import select

from django.db.backends.postgresql.base import DatabaseWrapper as PostgresDatabaseWrapper
from psycopg import pq

# A connection left idle or inside an open transaction can run the next statement; one
# waiting for a result (ACTIVE), failed (INERROR) or lost (UNKNOWN) cannot.
_USABLE_STATES = frozenset({pq.TransactionStatus.IDLE, pq.TransactionStatus.INTRANS})


def _socket_has_unread_data(fileno: int) -> bool:
    """True if the server sent something the client has not read (poll with timeout 0)."""
    poller = select.poll()
    poller.register(fileno, select.POLLIN | select.POLLPRI)
    return any(
        mask & (select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP | select.POLLNVAL)
        for _, mask in poller.poll(0)
    )


class DatabaseWrapper(PostgresDatabaseWrapper):
    def is_usable(self) -> bool:
        raw = self.connection
        if raw is None or raw.closed or raw.broken:
            return False
        if raw.info.transaction_status not in _USABLE_STATES:
            return False
        try:
            unread = _socket_has_unread_data(raw.fileno())
        except (OSError, ValueError):  # the socket is already gone
            return False
        # Nothing arrived: the session is as the last statement left it. Something arrived
        # while idle (a FATAL before the server closed, or an asynchronous notice): let a
        # real statement read it and decide.
        return not unread or super().is_usable()

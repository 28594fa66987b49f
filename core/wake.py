"""Wake a worker task after a change without flooding the broker.

A change (a consent write, an accepted payload) asks a task to run "soon". Sending one broker
message per change costs every request a broker round trip and leaves the workers thousands
of messages that find nothing left to do. Instead a cache flag marks that a wake-up message
waits: the first change sets it and sends the message; later changes see the flag and send
nothing; the task clears the flag before it reads anything (`woken`), so a change committed
after that sends a new message. A change that saw the flag was committed before the waiting
task starts, so that task reads it: nothing is missed.

A wake-up that is lost (the broker down when it was sent, a message taken by a killed worker)
holds the flag until it expires (`hold` seconds), and beat's periodic run of the same task
catches up meanwhile.
"""

from __future__ import annotations

import logging
import time

from celery import current_app
from django.core.cache import cache
from kombu.exceptions import OperationalError as BrokerError

logger = logging.getLogger(__name__)

HOLD_SECONDS = 30


def wake_key(task: str) -> str:
    """The cache key of `task`'s flag (read with other keys in one round trip by hot paths)."""
    return f"core:wake:{task}"


# Seconds after a failed publish during which this process does not try the broker again
# (each try against a broker that does not answer waits out CELERY_BROKER_SOCKET_TIMEOUT).
BROKER_FAIL_FAST_SECONDS = 5.0
_broker_failed_until = float("-inf")


def publish(task: str, args: list | tuple = ()) -> None:
    """Send `task` (by its registered name) with `args` (ids, never personal data): the one
    door through which the hub publishes. Raises kombu's OperationalError when the broker is
    unreachable or silent, and at once, without trying it, for `BROKER_FAIL_FAST_SECONDS`
    after such a failure in this process; every caller then leaves the work to a sweeper."""
    global _broker_failed_until
    if time.monotonic() < _broker_failed_until:
        raise BrokerError("the broker failed a moment ago: not tried again yet")
    try:
        current_app.send_task(task, args=list(args))
    except BrokerError:
        _broker_failed_until = time.monotonic() + BROKER_FAIL_FAST_SECONDS
        raise
    except Exception as exc:
        # A transport's own fault, not the broker's answer: kombu's SQLAlchemy transport (the
        # embedded broker) publishing on a channel its connection had closed, when the
        # broker's SQLite file was busy (AttributeError, once in about a thousand webhook calls
        # under load, a 500 after the payload was stored). The message is lost as one to a
        # broker that is down, which every caller already leaves to a sweeper. Logged by type.
        logger.warning("publishing %s failed (%s)", task, type(exc).__name__)
        raise BrokerError(f"publishing failed: {type(exc).__name__}") from exc


def publish_retry_now() -> None:
    """Forget this process's last failed publish: the next one tries the broker at once (for
    a caller that knows the broker is back, such as a test that brought it back)."""
    global _broker_failed_until
    _broker_failed_until = float("-inf")


def wake(task: str, *, hold: int = HOLD_SECONDS) -> bool:
    """Send `task` (by its registered name, without arguments) unless a wake-up of it already
    waits. Call after the change is committed. Returns whether a message was sent."""
    key = wake_key(task)
    if not cache.add(key, 1, timeout=hold):
        return False
    try:
        publish(task)
    except BrokerError:
        cache.delete(key)
        logger.warning("broker unreachable: %s waits for its next periodic run", task)
        return False
    return True


def woken(task: str) -> None:
    """Call first in `task`, before it reads the work: changes from now on wake it again."""
    cache.delete(wake_key(task))

"""Logging filters. Our own code logs ids and reason codes only; some libraries format personal
data into their messages (pysaml2 logs a signed-in user's NameID, usually an e-mail address, at
INFO and whole assertions when a signature fails). Their records keep where they came from and
how severe they were, and lose their text. Exceptions, whoever logs them, keep their type and
frames and lose their text."""

from __future__ import annotations

import logging
import traceback

# Loggers (and their children) whose messages may carry personal data.
WITHHELD = ("saml2", "xmlsec", "jwcrypto", "joserfc")


class ThirdPartyWithheld(logging.Filter):
    """On a handler: a record of a WITHHELD library is logged as its origin only."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.split(".", 1)[0] in WITHHELD:
            exc = record.exc_info[1] if record.exc_info else None
            record.msg = (
                f"message withheld (may hold personal data): {record.module}:{record.lineno}"
                + (f" {type(exc).__name__}" if exc is not None else "")
            )
            record.args = ()
            record.exc_info = None
            record.exc_text = None
            record.stack_info = None
        return True


class ExceptionTextWithheld(logging.Filter):
    """On a handler: an exception is logged as its type and frames, without its text, which may
    quote input (a database error quotes the value it refused, a parser the text it could not
    read). Covers Django's "Internal Server Error" of a page, our `logger.exception` calls and
    a Celery task's failure (its message formats the exception as `%(exc)s`). The API's own
    500s are logged the same way by ops.middleware."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None:
            record.exc_text = (
                "Traceback (most recent call last):\n"
                + "".join(traceback.format_tb(exc.__traceback__))
                + f"{_kind(exc)}: message withheld (may hold personal data)"
            )
            if exc.__cause__ is not None or exc.__context__ is not None:
                record.exc_text += f" (from {_kind(exc.__cause__ or exc.__context__)})"
        celery = record.name.startswith("celery")
        if celery and isinstance(record.args, dict) and "exc" in record.args:
            # Celery's "Task ... raised unexpected: %(exc)s" carries the exception's repr.
            record.args = {**record.args, "exc": _kind(exc) if exc is not None else "withheld"}
        return True


def _kind(exc: BaseException | None) -> str:
    return f"{type(exc).__module__}.{type(exc).__qualname__}"

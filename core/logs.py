"""Logging filters. Our own code logs ids and reason codes only; some libraries format personal
data into their messages (pysaml2 logs a signed-in user's NameID, usually an e-mail address, at
INFO and whole assertions when a signature fails). Their records keep where they came from and
how severe they were, and lose their text."""

from __future__ import annotations

import logging

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

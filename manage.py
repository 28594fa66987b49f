#!/usr/bin/env python
"""Django's command-line utility for Custodia."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.base")
    from django.core.management import execute_from_command_line
    from django.db import InterfaceError, OperationalError

    try:
        execute_from_command_line(sys.argv)
    except (OperationalError, InterfaceError) as exc:
        # The database unreachable (or gone mid-command): one line an operator can act on,
        # not a driver's traceback; --traceback keeps the traceback.
        if "--traceback" in sys.argv:
            raise
        first = (str(exc).strip().splitlines() or [""])[0]
        sys.stderr.write(
            f"custodia: the database is unreachable or failed ({type(exc).__name__}: {first}); "
            "check DATABASE_URL and that the server is up, then run the command again "
            "(--traceback for the details)\n"
        )
        sys.exit(1)


if __name__ == "__main__":
    main()

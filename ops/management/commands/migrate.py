"""Django's `migrate`, refusing to go backwards unless told to.

Custodia's migrations are forward-only (docs/operations.md, Upgrades): unapplying one drops the
tables and columns it created with the data in them (connected stores and their credentials,
sources, archive contents), and a data migration's reverse restores nothing. Going back is a
restore of the backup taken before the upgrade, not `migrate <app> <older>`.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError
from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import connections
from django.db.migrations.exceptions import AmbiguityError
from django.db.migrations.executor import MigrationExecutor

SHOWN = 8  # migrations named in the refusal; the rest are counted


class Command(DjangoMigrate):
    help = (
        DjangoMigrate.help + " Refuses to unapply migrations (forward-only: that drops data) "
        "unless --allow-backwards is given."
    )

    def add_arguments(self, parser: Any) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--allow-backwards",
            action="store_true",
            help="unapply migrations even though that drops the data of their tables and "
            "columns (a database you can throw away)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["allow_backwards"]:
            backwards = _backwards_plan(options)
            if backwards:
                names = [f"{m.app_label}.{m.name}" for m in backwards]
                shown = ", ".join(names[:SHOWN])
                more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
                raise CommandError(
                    f"refused: this would unapply {len(names)} migration(s) ({shown}{more}), "
                    "dropping the tables and columns they created with the data in them. "
                    "Custodia's migrations are forward-only: to go back, restore the database "
                    "backup taken before the upgrade (docs/operations.md, Upgrades). On a "
                    "database you can throw away, pass --allow-backwards."
                )
        super().handle(*args, **options)


def _backwards_plan(options: dict[str, Any]) -> list[Any]:
    """The migrations `migrate <app> <name>` would unapply; empty when it only goes forward or
    when the target is not valid (Django's own command then says what is wrong)."""
    app_label, name = options.get("app_label"), options.get("migration_name")
    if not (app_label and name):
        return []  # no target: every app to its newest migration, forward only
    executor = MigrationExecutor(connections[options["database"]])
    if name == "zero":
        target: tuple[str, str | None] = (app_label, None)
    else:
        try:
            target = (app_label, executor.loader.get_migration_by_prefix(app_label, name).name)
        except (KeyError, AmbiguityError):
            return []
    return [migration for migration, backwards in executor.migration_plan([target]) if backwards]

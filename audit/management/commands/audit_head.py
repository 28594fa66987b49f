from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.services import ChainCut, audit_head_publish


class Command(BaseCommand):
    help = (
        "Record the audit chain head in the database (and in --file or CUSTODIA_AUDIT_HEAD_FILE, "
        "and post it if CUSTODIA_AUDIT_HEAD_URL is set); print it. Refuses (exit 1) if a head "
        "published before is no longer in the chain."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--file", help="also keep the head in this file, outside the database (replaced)"
        )

    def handle(self, *args, file: str | None = None, **options):
        try:
            head = audit_head_publish(head_file=Path(file) if file else None)
        except ChainCut as exc:
            self.stderr.write(f"BROKEN: {exc}")
            raise SystemExit(1) from exc
        except (ValueError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write("0:" + "0" * 64 if head is None else f"{head.sequence}:{head.hash}")

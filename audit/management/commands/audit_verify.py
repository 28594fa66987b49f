from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.selectors import head_file_read, known_heads
from audit.verify import parse_head, verify_chain


class Command(BaseCommand):
    help = (
        "Recompute the audit hash chain and check it against every published head it knows: the "
        "newest in the database, the head file (--head-file or CUSTODIA_AUDIT_HEAD_FILE) and "
        "--head. Print OK, or the first broken link or the cut (exit 1)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--head", help="a published head SEQ:HASH the chain must still contain")
        parser.add_argument(
            "--head-file", help="a file written by `audit_head --file` (must exist)"
        )

    def handle(self, *args, head: str | None = None, head_file: str | None = None, **options):
        try:
            if head_file and head_file_read(Path(head_file)) is None:
                raise CommandError(f"no head file at {head_file}")
            heads = known_heads(head_file=Path(head_file) if head_file else None)
            if head:
                heads.append(parse_head(head, source="the --head option"))
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        report = verify_chain(heads=heads)
        if report.ok:
            self.stdout.write(report.describe())
            return
        self.stderr.write(report.describe())
        raise SystemExit(1)

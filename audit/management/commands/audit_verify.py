from django.core.management.base import BaseCommand, CommandError

from audit.verify import parse_head, verify_chain


class Command(BaseCommand):
    help = "Recompute the audit hash chain; print OK or the first broken link (exit 1 if broken)."

    def add_arguments(self, parser):
        parser.add_argument("--head", help="a published head SEQ:HASH the chain must still contain")

    def handle(self, *args, head: str | None = None, **options):
        try:
            published = parse_head(head) if head else None
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        report = verify_chain(head=published)
        if report.ok:
            self.stdout.write(report.describe())
            return
        self.stderr.write(report.describe())
        raise SystemExit(1)

from django.core.management.base import BaseCommand

from audit.services import audit_head_publish


class Command(BaseCommand):
    help = "Record (and post, if CUSTODIA_AUDIT_HEAD_URL is set) the audit chain head; print it."

    def handle(self, *args, **options):
        head = audit_head_publish()
        self.stdout.write("0:" + "0" * 64 if head is None else f"{head.sequence}:{head.hash}")

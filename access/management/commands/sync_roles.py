from django.core.management.base import BaseCommand

from access.services import sync_roles


class Command(BaseCommand):
    help = "Create the role groups and give them exactly their declared permissions."

    def handle(self, *args, **options):
        for role, count in sync_roles().items():
            self.stdout.write(f"{role}: {count} permissions")

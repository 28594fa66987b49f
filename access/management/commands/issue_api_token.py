"""Issue an API token for a service account from the command line (deployments, CI fuzzing)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from access import roles
from access.models import RegionScope
from access.services import TOKEN_SCOPES, api_token_create, sync_roles
from audit.actors import Actor
from core.errors import DomainError


class Command(BaseCommand):
    help = (
        "Create a token for a service account (the user is created in the Service account role "
        "if missing) and print the secret once: it is not stored and cannot be shown again."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", help="service-account user name")
        parser.add_argument("--name", default="command line", help="what the token is for")
        parser.add_argument(
            "--scopes",
            default=",".join(TOKEN_SCOPES),
            help=f"comma-separated (default: all of {', '.join(TOKEN_SCOPES)})",
        )
        parser.add_argument("--regions", default="", help="comma-separated region codes")
        parser.add_argument("--all-regions", action="store_true", help="every region")

    def handle(self, *args, username: str, name: str, scopes: str, regions: str, **options):
        user_model = get_user_model()
        region_list = [r.strip().upper() for r in regions.split(",") if r.strip()]
        if not username.strip():
            raise CommandError("give the service account's user name")
        if region_list and options["all_regions"]:
            raise CommandError("give --regions or --all-regions, not both")
        with transaction.atomic():
            user = user_model.objects.filter(username=username).first()
            if user is None:
                sync_roles()
                user = user_model.objects.create_user(username=username, is_staff=False)
                user.groups.add(Group.objects.get(name=roles.SERVICE_ACCOUNT))
                RegionScope.objects.create(
                    user=user, all_regions=options["all_regions"], regions=region_list
                )
            try:
                _, raw = api_token_create(
                    user=user,
                    name=name,
                    scopes=[s.strip() for s in scopes.split(",") if s.strip()],
                    regions=region_list,
                    all_regions=options["all_regions"],
                    actor=Actor.system("manage.py issue_api_token"),
                )
            except DomainError as exc:
                raise CommandError(f"{exc.message} {exc.fields}") from exc
        self.stdout.write(raw)

"""Idempotent demo data: every app seeds its part, then the admin login is shown."""

from __future__ import annotations

import importlib
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from access import demo as access_demo

# Dependency order: audit ← access ← profiles ← consent ← dsar.
DEMO_MODULES = [
    "profiles.demo",
    "consent.demo",
    "stores.demo",
    "activation.demo",
    "dsar.demo",
]
ADMIN_USERNAME = "admin"


class Command(BaseCommand):
    help = "Create demo data (idempotent) and print the admin URL and login."

    def add_arguments(self, parser):
        parser.add_argument("--subjects", type=int, default=300, help="demo subjects to create")

    def handle(self, *args, subjects: int, **options):
        if settings.PRODUCTION:
            raise CommandError("seed_demo refuses to run with CUSTODIA_ENV=production")
        password = self._admin_password()
        with transaction.atomic():
            self._ensure_admin(password)
            access_demo.seed(password=password, stdout=self.stdout)
        for module_name in DEMO_MODULES:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name != module_name:
                    raise
                continue
            module.seed(subjects=subjects, stdout=self.stdout)
        url = settings.CUSTODIA_PUBLIC_URL.rstrip("/")
        self.stdout.write(
            self.style.SUCCESS(
                "\n" + "=" * 64 + f"\n  Custodia is ready.\n  Admin:    {url}/admin/\n"
                f"  Login:    {ADMIN_USERNAME} / {password}\n"
                f"  Other demo staff (one per role) share the password above.\n"
                f"  API docs: {url}/api/docs/\n  Health:   {url}/healthz\n" + "=" * 64
            )
        )

    def _admin_password(self) -> str:
        """A random password kept in var/ (mode 0600) so repeated runs print the same login."""
        path = settings.VAR_DIR / "demo-login.txt"
        if path.exists():
            return path.read_text().strip()
        password = secrets.token_urlsafe(12)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(password)
        path.chmod(0o600)
        return password

    def _ensure_admin(self, password: str) -> None:
        user_model = get_user_model()
        user, _ = user_model.objects.get_or_create(
            username=ADMIN_USERNAME, defaults={"email": "admin@custodia.invalid"}
        )
        user.is_staff = True
        user.is_superuser = True
        user.set_password(password)
        user.save()

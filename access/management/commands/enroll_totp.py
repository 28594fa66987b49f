"""Enrol a staff user's TOTP authenticator: prints the otpauth URI and a terminal QR code."""

import io

import qrcode
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.actors import Actor
from audit.services import audit_record


class Command(BaseCommand):
    help = "Create (or replace with --reset) the TOTP device of a staff user and show its QR code."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--reset", action="store_true")

    def handle(self, *args, username: str, reset: bool, **options):
        user = get_user_model().objects.filter(username=username, is_staff=True).first()
        if user is None:
            raise CommandError(f"no staff user named {username!r}")
        devices = TOTPDevice.objects.devices_for_user(user)
        if devices.exists() and not reset:
            raise CommandError("this user already has an authenticator; use --reset to replace it")
        devices.delete()
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
        audit_record(
            actor=Actor.system("enroll_totp"),
            action="access.totp.enroll",
            object_type="auth.user",
            object_id=user.pk,
        )
        qr = qrcode.QRCode(border=1)
        qr.add_data(device.config_url)
        buffer = io.StringIO()
        qr.print_ascii(out=buffer)
        self.stdout.write(buffer.getvalue())
        self.stdout.write(
            f"otpauth URI (scan or paste into an authenticator app):\n{device.config_url}"
        )

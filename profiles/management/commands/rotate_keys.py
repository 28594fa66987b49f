"""Key rotation: re-wrap every subject data key under the current master key, online."""

import argparse

from django.core.management.base import BaseCommand, CommandError

from audit.actors import Actor
from profiles import services
from profiles.crypto.keyring import master_keyring

ACTOR = "manage.py rotate_keys"


def _batch_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


class Command(BaseCommand):
    help = (
        "Re-wrap data keys under the current master key (CUSTODIA_CURRENT_KEY_VERSION, default the "
        "highest in CUSTODIA_KEYS), in resumable batches; or check that a version can be retired. "
        "Each batch is audited."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=_batch_size, default=500)
        parser.add_argument(
            "--async",
            dest="run_async",
            action="store_true",
            help="queue the rotation on Celery workers instead of running here",
        )
        parser.add_argument(
            "--reencode-matching",
            action="store_true",
            help="recompute every active subject's keyed match encodings from its decrypted "
            "attributes (after a change of CUSTODIA_BLIND_INDEX_KEY)",
        )
        parser.add_argument(
            "--retire",
            type=int,
            metavar="VERSION",
            help="refuse unless no data depends on VERSION any more",
        )

    def handle(self, *args, batch_size: int, run_async: bool, retire: int | None, **options):
        keyring = master_keyring()
        actor = Actor.system(ACTOR)
        if options.get("reencode_matching"):
            done, last = 0, None
            while last := services.match_profiles_reencode(
                after=last, batch_size=batch_size, actor=actor
            ):
                done += batch_size
                self.stdout.write(f"re-encoded about {done} subjects so far")
            self.stdout.write("done: match encodings recomputed under the current blind-index key")
            return
        if retire is not None:
            if retire == keyring.current:
                raise CommandError(f"version {retire} is the current master key; rotate first")
            remaining = services.keys_depending_on(retire)
            if remaining:
                raise CommandError(
                    f"{remaining} data keys still depend on master key version {retire}; "
                    "run rotate_keys first"
                )
            if retire not in keyring.keys:
                self.stdout.write(
                    f"no data depends on master key version {retire}, and it is not in "
                    f"CUSTODIA_KEYS (versions {', '.join(map(str, sorted(keyring.keys)))})"
                )
                return
            self.stdout.write(
                f"no data depends on master key version {retire}: remove it from CUSTODIA_KEYS"
            )
            return
        if run_async:
            from profiles.tasks import rotate_keys

            rotate_keys.delay(batch_size)
            self.stdout.write(f"rotation to master key version {keyring.current} queued")
            return
        total = 0
        while done := services.rotate_keys_batch(batch_size=batch_size, actor=actor):
            total += done
            self.stdout.write(f"re-wrapped {total} data keys so far")
        self.stdout.write(
            f"done: {total} data keys re-wrapped under master key version {keyring.current}"
        )

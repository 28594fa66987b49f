"""Encrypted save+load of profile attributes, as a ratio to the same model in plaintext.

Usage: uv run python bench/bench_crypto.py [--rows 2000] [--postgres]
"""

from __future__ import annotations

import argparse

from common import POSTGRES_URL, best_of, machine, setup_django, write_section


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    teardown = setup_django(POSTGRES_URL if args.postgres else None)
    try:
        run(args.rows, "PostgreSQL" if args.postgres else "SQLite")
    finally:
        teardown()


def run(rows: int, vendor: str) -> None:
    import uuid

    from django.db import connection, models, transaction
    from django.utils import timezone

    from audit.actors import Actor
    from profiles.models import Attribute, Subject
    from profiles.services import subject_create

    class PlainAttribute(models.Model):
        """The same columns as profiles.Attribute, value in clear: the baseline."""

        id = models.UUIDField(primary_key=True, default=uuid.uuid4)
        subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="+")
        key = models.SlugField(max_length=64)
        value = models.TextField()
        category = models.CharField(max_length=12)
        match_index = models.CharField(max_length=64, blank=True)
        collected_at = models.DateTimeField()

        class Meta:
            app_label = "profiles"
            db_table = "bench_plain_attribute"

    with connection.schema_editor() as editor:
        editor.create_model(PlainAttribute)
    subject = subject_create(region="EU", actor=Actor.system("bench"))
    values = [f"value number {i} — Marianne Dupont, 12 rue de la Paix" for i in range(rows)]

    def save_load(model: type[models.Model]) -> None:
        with transaction.atomic():
            for i, value in enumerate(values):
                model.objects.create(
                    subject=subject,
                    key=f"k{i}",
                    value=value,
                    category="descriptive",
                    collected_at=timezone.now(),
                )
        fresh = Subject.objects.get(pk=subject.pk)
        loaded = list(model.objects.filter(subject=fresh))
        for row in loaded:
            row.subject = fresh
            assert row.value
        model.objects.filter(subject=subject).delete()

    save_load(Attribute)  # warm-up: key unwrap, caches
    save_load(PlainAttribute)
    encrypted = best_of(lambda: save_load(Attribute))
    plain = best_of(lambda: save_load(PlainAttribute))
    ratio = encrypted / plain
    print(
        f"[{vendor}] {rows} rows save+load: encrypted {encrypted:.3f}s, plaintext {plain:.3f}s, "
        f"ratio {ratio:.2f}x"
    )
    write_section(
        f"crypto-{vendor.lower()}",
        f"""
## Field encryption overhead ({vendor})

{rows} attributes saved one by one in a transaction, then loaded and every value read: the
encrypted `profiles.Attribute` against a plaintext model with the same columns, same run, median
of 5 ({machine()}).

| | seconds | ratio to plaintext |
|---|---|---|
| plaintext model | {plain:.3f} | 1.00 |
| encrypted (AES-256-GCM, per-subject key) | {encrypted:.3f} | **{ratio:.2f}x** |
""",
    )


if __name__ == "__main__":
    main()

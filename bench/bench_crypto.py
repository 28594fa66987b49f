"""Encrypted save+load of profile attributes, as a ratio to the same model in plaintext.

Usage: uv run python bench/bench_crypto.py [--rows 2000] [--rounds 21] [--postgres [URL]]

The baseline has the same columns, indexes, constraints and ordering as `profiles.Attribute`,
so the ratio is the cost of encryption alone. Encrypted and plaintext rounds alternate in one
run and each side reports its median: a noisy neighbour slows both sides alike.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time

from common import POSTGRES_URL, machine, setup_django, write_section


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=POSTGRES_URL,
        default=None,
        metavar="URL",
        help=f"run on PostgreSQL (default {POSTGRES_URL}; the bench uses test_<name>)",
    )
    args = parser.parse_args()
    teardown = setup_django(args.postgres)
    try:
        run(args.rows, "PostgreSQL" if args.postgres else "SQLite", args.rounds)
    finally:
        teardown()


def run(rows: int, vendor: str, rounds: int) -> None:
    import uuid

    from django.db import connection, models, transaction
    from django.utils import timezone

    from audit.actors import Actor
    from profiles.models import Attribute, Subject, System
    from profiles.services import subject_create

    class PlainAttribute(models.Model):
        """profiles.Attribute with its value in clear: same columns, indexes, constraint and
        ordering, so the two differ by encryption only (checked by `same_schema` below)."""

        id = models.UUIDField(primary_key=True, default=uuid.uuid4)
        subject = models.ForeignKey(
            Subject, on_delete=models.CASCADE, related_name="+", db_index=False
        )
        key = models.SlugField(max_length=64, db_index=False)
        value = models.TextField()
        category = models.CharField(max_length=12)
        source = models.ForeignKey(
            System, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
        )
        collected_at = models.DateTimeField()

        class Meta:
            app_label = "profiles"
            db_table = "bench_plain_attribute"
            ordering = ["key"]
            indexes = [models.Index(fields=["key"], name="bench_plain_key")]
            constraints = [
                models.UniqueConstraint(fields=["subject", "key"], name="bench_plain_unique")
            ]

    same_schema(Attribute, PlainAttribute)
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

    def timed(model: type[models.Model]) -> tuple[float, float]:
        """Wall-clock and this process's CPU seconds of one round (garbage collected first, so
        one side does not pay for the other's garbage)."""
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        save_load(model)
        return time.perf_counter() - wall, time.process_time() - cpu

    load = os.getloadavg()[0]
    save_load(Attribute)  # warm-up: key unwrap, caches
    save_load(PlainAttribute)
    enc_wall, plain_wall, enc_cpu, plain_cpu, ratios = [], [], [], [], []
    for i in range(rounds):
        # Alternate which side goes first, so neither always runs on a warmer cache.
        if i % 2:
            enc, plain_round = timed(Attribute), timed(PlainAttribute)
        else:
            plain_round, enc = timed(PlainAttribute), timed(Attribute)
        enc_wall.append(enc[0])
        plain_wall.append(plain_round[0])
        enc_cpu.append(enc[1])
        plain_cpu.append(plain_round[1])
        ratios.append(enc[0] / plain_round[0])
    encrypted = statistics.median(enc_wall)
    plain = statistics.median(plain_wall)
    ratio = encrypted / plain
    pair_ratio = statistics.median(ratios)
    cpu_ratio = statistics.median(enc_cpu) / statistics.median(plain_cpu)
    print(
        f"[{vendor}] {rows} rows save+load: encrypted {encrypted:.3f}s, plaintext {plain:.3f}s, "
        f"ratio of medians {ratio:.2f}x, median of paired ratios {pair_ratio:.2f}x, "
        f"client CPU ratio {cpu_ratio:.2f}x (rounds: {', '.join(f'{r:.2f}' for r in ratios)}); "
        f"load average {load:.1f}"
    )
    write_section(
        f"crypto-{vendor.lower()}",
        f"""
## Field encryption overhead ({vendor})

{rows} attributes saved one by one in a transaction, then loaded and every value read: the
encrypted `profiles.Attribute` against a plaintext model with the same columns, indexes,
constraint and ordering. {rounds} encrypted and {rounds} plaintext rounds, interleaved in one
run; medians ({machine()}; load average {load:.1f} when the run started).

| | seconds (median) | ratio to plaintext |
|---|---|---|
| plaintext model | {plain:.3f} | 1.00 |
| encrypted (AES-256-GCM, per-subject key) | {encrypted:.3f} | **{ratio:.2f}x** |

Median of the {rounds} paired per-round ratios: {pair_ratio:.2f}x (spread
{min(ratios):.2f}x to {max(ratios):.2f}x: the machine is shared). Ratio of the benchmark
process's CPU time (medians; excludes the database server's work on PostgreSQL):
{cpu_ratio:.2f}x.
""",
    )


def same_schema(encrypted: type, plain: type) -> None:
    """Refuse to run when the baseline drifted from the encrypted model (a column, an index or
    a constraint added to or dropped from one side only would skew the ratio)."""

    def shape(model: type) -> tuple[object, ...]:
        meta = model._meta  # type: ignore[attr-defined]
        fields = {
            (f.attname, f.db_index, f.unique, f.null, getattr(f, "max_length", None))
            for f in meta.concrete_fields
        }
        indexes = {tuple(i.fields) for i in meta.indexes}
        constraints = {tuple(c.fields) for c in meta.constraints}
        return fields, indexes, constraints, tuple(meta.ordering)

    if shape(encrypted) != shape(plain):
        raise SystemExit(f"the baseline differs from {encrypted.__name__}: fix PlainAttribute")


if __name__ == "__main__":
    main()

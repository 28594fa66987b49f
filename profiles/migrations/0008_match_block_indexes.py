"""Match blocks: the members of a key read from one (key, subject) index alone; the key's own
index, its pattern-ops twin (nothing searches keys by prefix) and the subject index (the unique
(subject, key) constraint serves it) dropped, so each blocking key written costs two index
entries instead of four, besides the primary key.

The blocking keys gained triple rules (profiles.matching.encoding.TRIPLE_RULES): subjects
written before this version have pair keys only until `manage.py rotate_keys
--reencode-matching` recomputes their encodings (docs/operations.md)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("profiles", "0007_attribute_match_index_dropped"),
    ]

    operations = [
        migrations.AddIndex(  # first: members stay indexed while the old indexes go
            model_name="matchblock",
            index=models.Index(fields=["key", "subject"], name="match_block_members"),
        ),
        migrations.AlterField(
            model_name="matchblock",
            name="key",
            field=models.CharField(max_length=32),
        ),
        migrations.AlterField(
            model_name="matchblock",
            name="subject",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="match_blocks",
                to="profiles.subject",
            ),
        ),
    ]

"""Fewer indexes on the rows every import writes: the pattern-ops twins of subject region and
status and of attribute key (nothing searches them by prefix) and the attribute's subject
index (the unique (subject, key) index serves it) dropped; match blocks keep no foreign-key
constraint (derived rows: see MatchBlock). The equality indexes are created first, so reads
stay indexed while the old ones go."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("profiles", "0008_match_block_indexes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="attribute",
            index=models.Index(fields=["key"], name="attribute_key"),
        ),
        migrations.AddIndex(
            model_name="subject",
            index=models.Index(fields=["region"], name="subject_region"),
        ),
        migrations.AddIndex(
            model_name="subject",
            index=models.Index(fields=["status"], name="subject_status"),
        ),
        migrations.AlterField(
            model_name="attribute",
            name="key",
            field=models.SlugField(db_index=False, max_length=64),
        ),
        migrations.AlterField(
            model_name="attribute",
            name="subject",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="attributes",
                to="profiles.subject",
            ),
        ),
        migrations.AlterField(
            model_name="matchblock",
            name="subject",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="match_blocks",
                to="profiles.subject",
            ),
        ),
        migrations.AlterField(
            model_name="subject",
            name="region",
            field=models.CharField(help_text="e.g. EU, GB, US-CA, BR, CA", max_length=16),
        ),
        migrations.AlterField(
            model_name="subject",
            name="status",
            field=models.CharField(
                choices=[
                    ("active", "Active"),
                    ("merged", "Merged"),
                    ("erased", "Erased"),
                    ("restricted", "Restricted (erased except data kept by law)"),
                ],
                default="active",
                max_length=10,
            ),
        ),
    ]

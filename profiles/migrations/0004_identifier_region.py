"""Identities become unique per region: Identifier carries its subject's region (filled from
the subject here), and imports keep the scope of whoever created them."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def fill_identifier_regions(apps, schema_editor):
    Identifier = apps.get_model("profiles", "Identifier")
    Subject = apps.get_model("profiles", "Subject")
    Identifier.objects.update(
        region=Subquery(Subject.objects.filter(pk=OuterRef("subject_id")).values("region")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [("profiles", "0003_suppressedidentity_verbose_name")]

    operations = [
        migrations.AddField(
            model_name="identifier",
            name="region",
            field=models.CharField(
                default="",
                help_text="the subject's region, kept equal to it (merges, region changes): an "
                "identity is unique per region, so a subject in one region never collides with, "
                "and is never matched to, a subject of another region",
                max_length=16,
            ),
            preserve_default=False,
        ),
        migrations.RunPython(fill_identifier_regions, migrations.RunPython.noop),
        migrations.RemoveConstraint(model_name="identifier", name="identifier_unique"),
        migrations.AddConstraint(
            model_name="identifier",
            constraint=models.UniqueConstraint(
                fields=("kind", "value_index", "region"), name="identifier_unique_per_region"
            ),
        ),
        # Imports queued before this migration were accepted under the old rules: every region.
        migrations.AddField(
            model_name="importjob",
            name="regions",
            field=models.JSONField(
                blank=True,
                null=True,
                help_text="the creator's region scope, applied to every line (null = every region)",
            ),
        ),
        migrations.AlterField(
            model_name="importjob",
            name="regions",
            field=models.JSONField(
                blank=True,
                default=list,
                null=True,
                help_text="the creator's region scope, applied to every line (null = every region)",
            ),
        ),
    ]

from django.db import migrations, models
from django.db.models import Max


def legacy_changes_one_batch(apps, schema_editor):
    """Changes written before batches: one batch per destination (as one answer before)."""
    AudienceChange = apps.get_model("activation", "AudienceChange")
    ends = AudienceChange.objects.values("destination_id").annotate(end=Max("id"))
    for row in ends:
        AudienceChange.objects.filter(
            destination_id=row["destination_id"], batch_end__isnull=True
        ).update(batch_end=row["end"])


class Migration(migrations.Migration):
    dependencies = [
        ("activation", "0007_inbox_source_index_dropped"),
    ]

    operations = [
        migrations.AddField(
            model_name="audiencechange",
            name="batch_end",
            field=models.BigIntegerField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(legacy_changes_one_batch, migrations.RunPython.noop),
    ]

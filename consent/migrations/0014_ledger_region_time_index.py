# The ledger's (region, recorded_at) index: an officer of some regions lists their newest
# records and counts them from it (bench/bench_admin_lists.py). Built CONCURRENTLY on
# PostgreSQL, so banner writes go on while a large ledger is indexed; a plain index elsewhere.

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_forwards(
            self, app_label, schema_editor, from_state, to_state
        )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_backwards(
            self, app_label, schema_editor, from_state, to_state
        )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("consent", "0013_ledger_redundant_indexes"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="consentrecord",
            index=models.Index(
                fields=["region", "recorded_at"], name="consent_record_region_time"
            ),
        ),
    ]

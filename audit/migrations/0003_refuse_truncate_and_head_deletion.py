"""PostgreSQL: TRUNCATE of the audit log or of its published heads is refused by a
statement-level trigger, and published heads cannot be deleted row by row either (the row
trigger of 0002 already refuses UPDATE/DELETE of events). A head proves how long the chain was;
deleting it would let a cut go unnoticed.

Test databases only: a session that sets `custodia.allow_audit_truncate = 'on'` may truncate,
because Django's test flush empties every table with TRUNCATE. Production never sets it."""

from django.db import migrations

TRIGGERS = """
CREATE OR REPLACE FUNCTION audit_refuse_truncate() RETURNS trigger AS $$
BEGIN
    IF coalesce(current_setting('custodia.allow_audit_truncate', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% is append-only: TRUNCATE refused', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_auditevent;
CREATE TRIGGER audit_event_no_truncate
    BEFORE TRUNCATE ON audit_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate();
DROP TRIGGER IF EXISTS audit_head_no_truncate ON audit_publishedhead;
CREATE TRIGGER audit_head_no_truncate
    BEFORE TRUNCATE ON audit_publishedhead
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate();

CREATE OR REPLACE FUNCTION audit_head_keep() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_publishedhead is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS audit_head_keep ON audit_publishedhead;
CREATE TRIGGER audit_head_keep
    BEFORE DELETE ON audit_publishedhead
    FOR EACH ROW EXECUTE FUNCTION audit_head_keep();
"""

DROP = """
DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_auditevent;
DROP TRIGGER IF EXISTS audit_head_no_truncate ON audit_publishedhead;
DROP TRIGGER IF EXISTS audit_head_keep ON audit_publishedhead;
DROP FUNCTION IF EXISTS audit_refuse_truncate();
DROP FUNCTION IF EXISTS audit_head_keep();
"""


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGERS, params=None)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_trigger")]
    operations = [migrations.RunPython(create_triggers, drop_triggers)]

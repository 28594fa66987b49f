from django.db import migrations


def seed(apps, schema_editor):
    from consent.regimes import JURISDICTIONS, PURPOSES

    Jurisdiction = apps.get_model("consent", "Jurisdiction")
    Purpose = apps.get_model("consent", "Purpose")
    known = {f.name for f in Jurisdiction._meta.get_fields()}
    for values in JURISDICTIONS:  # fields added later are seeded by their own migration
        values = {k: v for k, v in values.items() if k in known}
        Jurisdiction.objects.update_or_create(code=values["code"], defaults=values)
    for values in PURPOSES:
        Purpose.objects.update_or_create(slug=values["slug"], defaults=values)


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]

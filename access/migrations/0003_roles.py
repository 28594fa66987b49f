from django.contrib.auth.management import create_permissions
from django.db import migrations


def create_roles(apps, schema_editor):
    from access.services import sync_roles

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_roles(permission_model=apps.get_model("auth", "Permission"),
               group_model=apps.get_model("auth", "Group"))


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0002_unmask_grant"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("profiles", "0001_initial"),
        ("audit", "0002_append_only_trigger"),
    ]
    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]

"""The Auditors group: view permission on the audit models, and nothing else."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from audit.groups import AUDITORS, ensure_auditors


def create_group(apps, schema_editor):
    # Permissions are otherwise created after all migrations (post_migrate): make audit's exist now.
    config = apps.get_app_config("audit")
    config.models_module = True
    create_permissions(config, apps=apps, verbosity=0)
    ensure_auditors(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=AUDITORS).delete()


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(create_group, remove_group)]

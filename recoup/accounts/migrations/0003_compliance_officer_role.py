"""The compliance officer (合规专员) role: keeps compliance profiles and the lexicon (issue 5)."""

from django.db import migrations, models


def add_role(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    Role.objects.update_or_create(
        code="compliance_officer", defaults={"name": "合规专员", "name_en": "Compliance officer"}
    )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_seed_roles")]
    operations = [
        migrations.RunPython(add_role, migrations.RunPython.noop),
    ]

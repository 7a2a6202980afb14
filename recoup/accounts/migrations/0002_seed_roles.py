"""Seed the roles of SPEC §1 as data (data migration, separate from the schema)."""

from django.db import migrations

ROLES = [
    ("collector", "电话催收员", "Phone collector"),
    ("field_collector", "外访催收员", "Field collector"),
    ("team_leader", "催收组长", "Team leader"),
    ("supervisor", "催收主管", "Supervisor"),
    ("admin_assistant", "协助行政", "Admin assistant (bank liaison)"),
    ("quality_inspector", "质检员", "Quality inspector"),
    ("risk_officer", "风控", "Risk officer"),
    ("branch_manager", "分公司经理", "Branch manager"),
    ("hq", "总公司", "Headquarters"),
    ("client_user", "委托方", "Client (bank) user"),
    ("system_admin", "系统管理员", "System administrator"),
]


def seed_roles(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for code, name, name_en in ROLES:
        Role.objects.update_or_create(code=code, defaults={"name": name, "name_en": name_en})


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(seed_roles, migrations.RunPython.noop)]

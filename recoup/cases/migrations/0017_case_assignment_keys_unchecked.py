"""A case's assignee, team and previous assignee keep no database check (ADR 0008, addendum
of 2026-11-24).

An allocation commit changes all three on every case it moves, and PostgreSQL checks a
changed deferred key row by row at commit: 1M cases, 3M checks, 8 of the commit's 34 s
(bench/allocate.py: commit 34.0–35.5 s with the checks, 26.4–26.7 s without). The values
come from active users and teams the run validated; users and teams are never deleted
(PROTECT, applied by Django); ``manage.py contact_daily`` reports any case naming one that
does not exist.

PostgreSQL drops the three constraints in place; SQLite rebuilds the table once (Django's
own three operations would rebuild it three times).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

FIELDS = ("assignee", "team", "previous_assignee")


def _checked(model, name):
    """The field as it was before this migration: the same, with its database check."""
    new = model._meta.get_field(name)
    _, _, args, kwargs = new.deconstruct()
    kwargs["db_constraint"] = True
    old = new.__class__(*args, **kwargs)
    old.set_attributes_from_name(name)
    old.model = model
    old.remote_field.model = new.remote_field.model
    old.remote_field.field_name = new.remote_field.field_name
    return old, new


def forwards(apps, schema_editor):
    model = apps.get_model("cases", "Case")  # as it is after this migration
    if schema_editor.connection.vendor == "sqlite":
        schema_editor._remake_table(model)
        return
    for name in FIELDS:
        old, new = _checked(model, name)
        schema_editor.alter_field(model, old, new, strict=True)


def backwards(apps, schema_editor):
    model = apps.get_model("cases", "Case")
    pairs = [_checked(model, name) for name in FIELDS]
    if schema_editor.connection.vendor == "sqlite":
        schema_editor._remake_table(model, alter_fields=[(new, old) for old, new in pairs])
        return
    for old, new in pairs:
        schema_editor.alter_field(model, new, old, strict=True)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_role_choices_compliance_officer"),
        ("cases", "0016_contact_point_uid_unique_per_debtor"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="case",
                    name="assignee",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="assigned_cases",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="催收员",
                    ),
                ),
                migrations.AlterField(
                    model_name="case",
                    name="previous_assignee",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="上一催收员",
                    ),
                ),
                migrations.AlterField(
                    model_name="case",
                    name="team",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="cases",
                        to="accounts.team",
                    ),
                ),
            ],
        ),
        # After the state change: ``apps`` gives the model as it is now (the reverse, too).
        migrations.RunPython(forwards, backwards, elidable=False),
    ]

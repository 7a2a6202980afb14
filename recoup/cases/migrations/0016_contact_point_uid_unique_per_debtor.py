"""A contact point's uid is unique per debtor, in one index with the debtor.

The uid is a public reference (forms, the dialer API) and is always looked up with the case's
debtor. It had a table-wide unique index of its own, next to the debtor's index: two entries
per contact point, and an import writes about 5.5 contact points a case. One unique
(debtor, uid) index now serves both the debtor's contact points and the uid look-up.
Measured on the 5.46M contact points of the 1M-row bench file, inserted into empty copies:
SQLite 12.2–13.3 s → 9.7–9.9 s, PostgreSQL (COPY) 43.4–45.9 s → 35.3–40.4 s.

SQLite cannot drop a column's UNIQUE: the table is rebuilt, once (Django's own three
operations would rebuild it three times). PostgreSQL alters it in place.
"""

import uuid

import django.db.models.deletion
from django.db import migrations, models

CONSTRAINT = models.UniqueConstraint(fields=("debtor", "uid"), name="contact_debtor_uid")


def _fields(model):
    """The old (uid unique, debtor indexed) and the new definitions of the two fields."""
    old_uid = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    old_debtor = models.ForeignKey(
        "cases.Debtor",
        on_delete=django.db.models.deletion.CASCADE,
        related_name="+",
        db_constraint=False,
    )
    for field, name in ((old_uid, "uid"), (old_debtor, "debtor")):
        field.set_attributes_from_name(name)
        field.model = model
    old_debtor.remote_field.model = model._meta.get_field("debtor").remote_field.model
    return (
        (old_uid, model._meta.get_field("uid")),
        (old_debtor, model._meta.get_field("debtor")),
    )


def forwards(apps, schema_editor):
    model = apps.get_model("cases", "ContactPoint")  # as it is after this migration
    if schema_editor.connection.vendor == "sqlite":
        schema_editor._remake_table(model)
        return
    schema_editor.add_constraint(model, CONSTRAINT)
    for old, new in _fields(model):
        schema_editor.alter_field(model, old, new, strict=True)


def backwards(apps, schema_editor):
    model = apps.get_model("cases", "ContactPoint")
    if schema_editor.connection.vendor == "sqlite":
        # One rebuild with the old fields and without the constraint (this historical
        # model class is the migration's own).
        model._meta.constraints = [c for c in model._meta.constraints if c.name != CONSTRAINT.name]
        schema_editor._remake_table(model, alter_fields=[(new, old) for old, new in _fields(model)])
        return
    schema_editor.remove_constraint(model, CONSTRAINT)
    for old, new in _fields(model):
        schema_editor.alter_field(model, new, old, strict=True)


class Migration(migrations.Migration):
    dependencies = [("cases", "0015_case_account_bidx_plain_index")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="contactpoint",
                    name="debtor",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="contact_points",
                        to="cases.debtor",
                    ),
                ),
                migrations.AlterField(
                    model_name="contactpoint",
                    name="uid",
                    field=models.UUIDField(default=uuid.uuid4, editable=False),
                ),
                migrations.AddConstraint(model_name="contactpoint", constraint=CONSTRAINT),
            ],
        ),
        # After the state change: ``apps`` gives the model as it is now (the reverse, too).
        migrations.RunPython(forwards, backwards, elidable=False),
    ]

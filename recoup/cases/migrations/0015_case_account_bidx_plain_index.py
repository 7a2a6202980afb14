"""The case's account blind index keeps one plain B-tree, under a name of its own.

``db_index=True`` on a ``CharField`` gave PostgreSQL a second index on the column, with
``varchar_pattern_ops`` for ``LIKE 'abc%'``. A blind index is only ever compared for
equality (repayment files matched by account), so that index was never used; yet every new
case and every allocation commit (which rewrites each case it moves, no HOT update) wrote an
entry into it: one of the table's 13 indexes. SQLite had only the plain one.

The plain index is kept as it is and renamed (PostgreSQL), or rebuilt under the new name
(SQLite has no ALTER INDEX … RENAME), so no table is rewritten.
"""

from django.db import migrations, models

OLD = "cases_case_account_bidx_172e7b1d"  # Django's name for the db_index=True index
NEW = "case_account_bidx"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{OLD}_like"')
        schema_editor.execute(f'ALTER INDEX IF EXISTS "{OLD}" RENAME TO "{NEW}"')
    else:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{OLD}"')
        schema_editor.execute(f'CREATE INDEX "{NEW}" ON "cases_case" ("account_bidx")')


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'ALTER INDEX IF EXISTS "{NEW}" RENAME TO "{OLD}"')
        schema_editor.execute(
            f'CREATE INDEX "{OLD}_like" ON "cases_case" ("account_bidx" varchar_pattern_ops)'
        )
    else:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{NEW}"')
        schema_editor.execute(f'CREATE INDEX "{OLD}" ON "cases_case" ("account_bidx")')


class Migration(migrations.Migration):
    dependencies = [("cases", "0014_contact_point_debtor_unchecked")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="case",
                    name="account_bidx",
                    field=models.CharField(max_length=32),
                ),
                migrations.AddIndex(
                    model_name="case",
                    index=models.Index(fields=["account_bidx"], name=NEW),
                ),
            ],
            database_operations=[migrations.RunPython(forwards, backwards, elidable=False)],
        )
    ]

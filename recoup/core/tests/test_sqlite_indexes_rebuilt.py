"""core.db.sqlite_indexes_rebuilt: an index dropped for a bulk insert and built again."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from recoup.core.db import sqlite_indexes_rebuilt

pytestmark = pytest.mark.django_db


def _indexes() -> dict[str, str]:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'bulk_t'"
            )
        else:
            cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'bulk_t'")
        return dict(cursor.fetchall())


@pytest.fixture
def table():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bulk_t (a integer, b varchar(32))")
        cursor.execute('CREATE INDEX "bulk_t_b" ON "bulk_t" ("a", "b")')
        cursor.execute('CREATE INDEX "bulk_t_a" ON "bulk_t" ("a")')
    before = _indexes()
    assert set(before) == {"bulk_t_b", "bulk_t_a"}
    return before


def test_the_index_is_gone_during_the_block_and_the_same_after(table):
    with transaction.atomic(), sqlite_indexes_rebuilt("bulk_t", ["bulk_t_b"], when=True):
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO bulk_t VALUES (%s, %s)", [(i, f"{i:x}") for i in range(100)]
            )
        during = _indexes()
    if connection.vendor == "sqlite":
        assert set(during) == {"bulk_t_a"}
    else:
        assert during == table  # PostgreSQL: never dropped (it would lock readers out)
    assert _indexes() == table


def test_a_failure_in_the_block_leaves_the_index_in_place(table):
    with (
        pytest.raises(RuntimeError, match="disk full"),
        transaction.atomic(),
        sqlite_indexes_rebuilt("bulk_t", ["bulk_t_b"], when=True),
    ):
        raise RuntimeError("disk full")
    assert _indexes() == table


def test_nothing_is_dropped_when_not_asked(table):
    with transaction.atomic(), sqlite_indexes_rebuilt("bulk_t", ["bulk_t_b"], when=False):
        assert _indexes() == table


@pytest.mark.django_db(transaction=True)
def test_it_needs_the_callers_transaction():
    if connection.vendor != "sqlite":
        pytest.skip("a no-op on PostgreSQL")
    with (
        pytest.raises(RuntimeError, match="transaction"),
        sqlite_indexes_rebuilt("bulk_t", ["bulk_t_b"], when=True),
    ):
        pass

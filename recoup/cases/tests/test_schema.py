"""The case table's indexes: each one is paid for by every imported case and by every case an
allocation commit moves (PostgreSQL rewrites the row and adds an entry to every index)."""

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def _indexes_on(column: str) -> dict[str, str]:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                "AND tbl_name = 'cases_case' AND sql IS NOT NULL"
            )
        else:
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'cases_case'"
            )
        return {name: sql for name, sql in cursor.fetchall() if column in sql}


def test_the_account_blind_index_has_one_plain_index_and_no_like_index():
    # A blind index is only compared for equality (repayment files matched by account): a
    # PostgreSQL varchar_pattern_ops twin would be written for every case and never read.
    indexes = _indexes_on("account_bidx")
    assert list(indexes) == ["case_account_bidx"]
    assert "pattern_ops" not in indexes["case_account_bidx"]

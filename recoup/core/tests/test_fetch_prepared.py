"""``core.db.fetch_prepared``: PostgreSQL's prepared statements in one pipeline, for the
gate's hot read (bench/gate.py)."""

from __future__ import annotations

import pytest
from django.db import DataError, connection, transaction
from django.test.utils import CaptureQueriesContext

from recoup.core.db import fetch_prepared

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only"),
]


def prepared() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return {row[0] for row in cursor.fetchall()}


def test_each_statement_returns_its_own_rows_in_order():
    rows = fetch_prepared(
        [
            ("SELECT %s::int + 1", [1]),
            ("SELECT generate_series(1, %s)", [3]),
            ("SELECT 'x' WHERE %s", [False]),
        ]
    )
    assert rows == [[(2,)], [(1,), (2,), (3,)], []]


def test_the_statements_are_prepared_once_and_reused():
    sql = "SELECT %s::int * 2 AS doubled_for_this_test"
    assert fetch_prepared([(sql, [4])]) == [[(8,)]]
    assert fetch_prepared([(sql, [5])]) == [[(10,)]]
    found = [s for s in prepared() if "doubled_for_this_test" in s]
    assert len(found) == 1, found


def test_they_are_seen_by_djangos_query_capture():
    with CaptureQueriesContext(connection) as captured:
        fetch_prepared([("SELECT %s::int", [7]), ("SELECT %s::text", ["a"])])
    sqls = [q["sql"] for q in captured.captured_queries]
    assert len(sqls) == 2
    assert "7" in sqls[0]


def test_an_error_aborts_the_transaction_and_leaves_the_connection_usable():
    with pytest.raises(DataError, match="division by zero"), transaction.atomic():
        fetch_prepared([("SELECT 1 / %s", [0]), ("SELECT %s::int", [1])])
    assert fetch_prepared([("SELECT %s::int", [3])]) == [[(3,)]]

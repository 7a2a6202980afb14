"""Writing many rows fast: PostgreSQL COPY, SQLite executemany — one interface.

The ORM's ``bulk_create`` costs ~20–30× the physical floor per row (PERF.md), so bulk loads
hand plain tuples to the database. Values must already be in database form: str, int,
Decimal, bytes, bool, None, date/datetime (aware, UTC) and uuid.UUID.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection


def insert_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert ``rows`` into ``table`` (inside the caller's transaction, if any)."""
    count = 0
    quoted_cols = ", ".join(connection.ops.quote_name(c) for c in columns)
    quoted_table = connection.ops.quote_name(table)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            raw = cursor.cursor  # psycopg 3 cursor under Django's wrapper
            with raw.copy(f"COPY {quoted_table} ({quoted_cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
        return count
    placeholders = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {quoted_table} ({quoted_cols}) VALUES ({placeholders})"  # noqa: S608 (names quoted)
    batch: list[Sequence[Any]] = []
    with connection.cursor() as cursor:
        for row in rows:
            batch.append(row)
            if len(batch) >= 5000:
                cursor.executemany(sql, batch)
                count += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
    return count

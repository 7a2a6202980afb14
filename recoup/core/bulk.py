"""Writing many rows fast: PostgreSQL COPY, SQLite executemany — one interface.

The ORM's ``bulk_create`` costs ~20–30× the physical floor per row (PERF.md), so bulk loads
hand plain tuples to the database. Values must already be in database form: str, int,
Decimal, bytes, bool, None, date/datetime (aware, UTC) and uuid.UUID.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

import polars as pl
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


def insert_frame(table: str, frame: pl.DataFrame) -> int:
    """Insert a polars frame (columns named as the table's) in one pass: PostgreSQL reads it as
    CSV through COPY (no Python object per value); SQLite gets its rows by executemany.
    Strings are quoted, so an empty string stays empty and only a missing value is NULL."""
    if frame.is_empty():
        return 0
    if connection.vendor == "postgresql":
        quoted_cols = ", ".join(connection.ops.quote_name(c) for c in frame.columns)
        quoted_table = connection.ops.quote_name(table)
        data = frame.write_csv(include_header=False, quote_style="non_numeric").encode()
        with connection.cursor() as cursor:
            raw = cursor.cursor
            with raw.copy(f"COPY {quoted_table} ({quoted_cols}) FROM STDIN (FORMAT csv)") as copy:
                for start in range(0, len(data), 1 << 20):
                    copy.write(data[start : start + (1 << 20)])
        return frame.height
    return insert_rows(table, frame.columns, frame.iter_rows())


def read_frame(sql: str, params: Sequence[Any], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Run a SELECT and return its rows as a polars frame with ``schema`` (columns in order).

    PostgreSQL streams the result as CSV through ``COPY (…) TO STDOUT``; SQLite's rows go
    straight into polars. Either way no per-row Python object outlives the call."""
    if connection.vendor == "postgresql":
        buf = io.BytesIO()
        with connection.cursor() as cursor:
            raw = cursor.cursor
            with raw.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)", params) as copy:
                for block in copy:
                    buf.write(block)
        if not buf.getbuffer().nbytes:
            return pl.DataFrame(schema=schema)
        buf.seek(0)
        return pl.read_csv(
            buf, has_header=False, new_columns=list(schema), schema_overrides=schema
        ).cast(schema)  # type: ignore[arg-type]
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        rows = cursor.fetchall()
    return pl.DataFrame(rows, schema=schema, orient="row")


def cents_as_text(cents: pl.Series) -> pl.Series:
    """Integer cents as the database's decimal text ("-12.05"), for ``insert_frame``: exact,
    no float and no Python object per value. Missing stays missing."""
    frame = cents.rename("c").to_frame()
    a = pl.col("c").abs()
    return frame.select(
        pl.concat_str(
            pl.when(pl.col("c") < 0).then(pl.lit("-")).otherwise(pl.lit("")),
            (a // 100).cast(pl.String),
            pl.lit("."),
            (a % 100).cast(pl.String).str.zfill(2),
        )
    ).to_series()

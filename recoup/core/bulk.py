"""Writing many rows fast: PostgreSQL COPY, SQLite executemany — one interface.

The ORM's ``bulk_create`` costs ~20–30× the physical floor per row (PERF.md), so bulk loads
hand plain tuples to the database. Values must already be in database form: str, int,
Decimal, bytes, bool, None, date/datetime (aware, UTC) and uuid.UUID.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import polars as pl
from django.db import DatabaseError, connection


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
    return _insert_frame_sqlite(table, frame)


# SQLite pays per value bound from Python (PERF.md: executemany, 1M rows ≈ 10 s), and a large
# frame often repeats a few values in most of its columns (a run id, a reason, a team). Those
# columns go once to a small table of their combinations; the rows carry the other columns and
# a combination number, and one INSERT … SELECT joins them back (bench/allocate.py: the lines of
# a 1M-case run, 16.4 → 7.3 s; bench/RESULTS.md).
ENCODE_MIN_ROWS = 20_000
ENCODE_MAX_DISTINCT = 64  # a column with at most this many values is sent as combinations
ENCODE_MAX_COMBINATIONS = 4096


def _insert_frame_sqlite(table: str, frame: pl.DataFrame) -> int:
    plain = frame.height < ENCODE_MIN_ROWS
    repeated = [] if plain else [c for c in frame.columns if _distinct_at_most(frame[c])]
    combinations = frame.select(repeated).unique(maintain_order=True) if repeated else None
    if combinations is None or combinations.height > ENCODE_MAX_COMBINATIONS:
        return insert_rows(table, frame.columns, frame.iter_rows())
    varying = [c for c in frame.columns if c not in repeated]
    rows = frame.join(
        combinations.with_row_index("_combination"),
        on=repeated,
        how="left",
        nulls_equal=True,
        maintain_order="left",
    )
    return _insert_encoded_sqlite(
        table,
        varying,
        repeated,
        rows.select(*varying, "_combination").iter_rows(),
        list(combinations.iter_rows()),
    )


def insert_encoded(
    table: str,
    varying: Sequence[str],
    repeated: Sequence[str],
    rows: Iterable[Sequence[Any]],
    combinations: Sequence[Sequence[Any]],
) -> int:
    """Insert rows that repeat a few combinations of values in some columns: each row gives
    its ``varying`` values and, last, the index of its ``repeated`` values in
    ``combinations``. SQLite receives each combination once (see ``ENCODE_MIN_ROWS``);
    PostgreSQL's COPY gets the rows whole."""
    if connection.vendor == "postgresql":
        return insert_rows(
            table, [*varying, *repeated], ((*r[:-1], *combinations[r[-1]]) for r in rows)
        )
    return _insert_encoded_sqlite(table, varying, repeated, rows, combinations)


def _insert_encoded_sqlite(
    table: str,
    varying: Sequence[str],
    repeated: Sequence[str],
    rows: Iterable[Sequence[Any]],
    combinations: Sequence[Sequence[Any]],
) -> int:
    suffix = uuid.uuid4().hex
    combos_table, rows_table = f"_bulk_combinations_{suffix}", f"_bulk_rows_{suffix}"
    combo_columns = [f"c{i}" for i in range(len(repeated))]
    row_columns = [*(f"v{i}" for i in range(len(varying))), "_combination"]
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        # Untyped columns: the values keep their type until the INSERT applies the target's.
        cursor.execute(
            f"CREATE TEMP TABLE {combos_table} "
            f"(_combination INTEGER PRIMARY KEY, {', '.join(combo_columns)})"
        )
        cursor.execute(f"CREATE TEMP TABLE {rows_table} ({', '.join(row_columns)})")
        try:
            insert_rows(
                combos_table,
                ["_combination", *combo_columns],
                ((i, *c) for i, c in enumerate(combinations)),
            )
            count = insert_rows(rows_table, row_columns, rows)
            source = {c: f"r.v{i}" for i, c in enumerate(varying)}
            source.update({c: f"k.c{i}" for i, c in enumerate(repeated)})
            columns = list(source)
            cursor.execute(
                f"INSERT INTO {q(table)} ({', '.join(q(c) for c in columns)}) "  # noqa: S608 (names quoted or generated)
                f"SELECT {', '.join(source[c] for c in columns)} FROM {rows_table} r "
                f"JOIN {combos_table} k ON k._combination = r._combination ORDER BY r.rowid"
            )
        finally:
            cursor.execute(f"DROP TABLE {rows_table}")
            cursor.execute(f"DROP TABLE {combos_table}")
    return count


def _distinct_at_most(column: pl.Series) -> bool:
    # A sample first: most columns of a large frame are not repetitive, and counting all
    # distinct values of a million strings costs more than the check is worth.
    if column.head(10_000).n_unique() > ENCODE_MAX_DISTINCT:
        return False
    return column.n_unique() <= ENCODE_MAX_DISTINCT


def read_frame(sql: str, params: Sequence[Any], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Run a SELECT and return its rows as a polars frame with ``schema`` (columns in order).

    PostgreSQL streams the result as CSV through ``COPY (…) TO STDOUT``; SQLite returns a
    frame of integers and strings one text per column (``_read_columns_sqlite``) and any
    other frame as rows. Either way no per-row Python object outlives the call."""
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
    if all(_columnar(dtype) for dtype in schema.values()):
        frame = _read_columns_sqlite(sql, params, schema)
        if frame is not None:
            return frame
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        rows = cursor.fetchall()
    return pl.DataFrame(rows, schema=schema, orient="row")


# SQLite hands Python one object per value read (1M rows × 8 columns: ~2.5 s of a 3.7 s read),
# so a frame of integers and strings is read a column at a time instead: one aggregate query
# makes each column a single text (group_concat), which polars splits and converts without a
# Python object per value (bench/allocate.py's candidates: 3.7 → 1.9 s; bench/RESULTS.md).
# Integers go as decimal text; strings as hex of their UTF-8, so no value can hold the
# separator, and "N" (never hex) marks NULL, which stays apart from "".


def _columnar(dtype: pl.DataType) -> bool:
    return dtype.is_integer() or dtype == pl.String()


def _read_columns_sqlite(
    sql: str, params: Sequence[Any], schema: dict[str, pl.DataType]
) -> pl.DataFrame | None:
    """``sql``'s rows as a frame, read by column; None when a value does not fit the schema
    (e.g. text in an integer column), for the caller to read it row by row instead."""
    names = [f"_c{i}" for i in range(len(schema))]
    parts = [
        f"group_concat(CASE WHEN {n} IS NULL THEN 'N' ELSE hex({n}) END, ',')"
        if dtype == pl.String()
        else f"group_concat(coalesce({n}, ''), ',')"
        for n, dtype in zip(names, schema.values(), strict=True)
    ]
    # The CTE is not flattened into an aggregate (SQLite's rules), so the rows reach the
    # aggregates in the order ``sql`` gives them, and each row reaches all of them at once.
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH _q({', '.join(names)}) AS ({sql}) "  # noqa: S608 (the caller's SQL, parameters bound)
                f"SELECT count(*), {', '.join(parts)} FROM _q",
                list(params),
            )
            count, *texts = cursor.fetchone()
    except DatabaseError:
        # A column's text over SQLite's length limit (1 GB: tens of millions of rows), or SQL
        # this wrapping does not take: the row read runs it as given (and raises its errors).
        return None
    if not count:
        return pl.DataFrame(schema=schema)
    columns: list[pl.Series] = []
    try:
        for (name, dtype), text in zip(schema.items(), texts, strict=True):
            values = pl.Series(name, [text], pl.String()).str.split(",").explode()
            if dtype == pl.String():
                values = (
                    values.to_frame()
                    .select(
                        pl.when(pl.col(name) == "N")
                        .then(None)
                        .otherwise(pl.col(name).str.decode("hex"))
                        .cast(pl.String())
                        .alias(name)
                    )
                    .to_series()
                )
            else:
                values = values.replace("", None).cast(dtype)
            if values.len() != count:
                return None
            columns.append(values)
    except pl.exceptions.PolarsError:
        return None
    return pl.DataFrame(columns)


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

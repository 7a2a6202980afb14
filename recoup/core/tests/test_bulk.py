"""insert_frame writes exactly the frame it is given, whichever path it takes."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import polars as pl
import pytest
from django.db import connection

from recoup.core import bulk

pytestmark = pytest.mark.django_db


@pytest.fixture
def table() -> str:
    serial = "bigserial" if connection.vendor == "postgresql" else "integer"
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE bulk_test (id {serial} PRIMARY KEY, run bigint NOT NULL, "
            "case_id bigint NOT NULL, reason varchar(40) NOT NULL, note varchar(40) NULL, "
            "team bigint NULL, balance decimal(14, 2) NOT NULL, label varchar(40) NULL)"
        )
    return "bulk_test"


def _frame(rows: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "run": [7] * rows,  # one value
            "case_id": list(range(1, rows + 1)),  # every value different
            "reason": ["balanced", "capacity", ""][:3] * (rows // 3) + ["balanced"] * (rows % 3),
            "note": [None, "", "备注"] * (rows // 3) + [None] * (rows % 3),  # NULL ≠ ''
            "team": [None if i % 5 == 0 else i % 5 for i in range(rows)],
            "balance": [f"{i // 100}.{i % 100:02d}" for i in range(rows)],
            "label": [None] * rows,  # only NULLs
        },
        schema={
            "run": pl.Int64(),
            "case_id": pl.Int64(),
            "reason": pl.String(),
            "note": pl.String(),
            "team": pl.Int64(),
            "balance": pl.String(),
            "label": pl.String(),
        },
    )


def _read_back() -> list[tuple[object, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, run, case_id, reason, note, team, balance, label FROM bulk_test ORDER BY id"
        )
        return cursor.fetchall()


def _expected(frame: pl.DataFrame) -> list[tuple[object, ...]]:
    return [
        (run, case_id, reason, note, team, Decimal(balance), label)
        for run, case_id, reason, note, team, balance, label in frame.iter_rows()
    ]


@pytest.mark.parametrize("rows", [10, bulk.ENCODE_MIN_ROWS + 7])
def test_every_row_and_value_arrives_in_order(
    table: str, rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = _frame(rows)
    written: list[str] = []
    insert_rows = bulk.insert_rows
    monkeypatch.setattr(
        bulk, "insert_rows", lambda t, c, r: written.append(t) or insert_rows(t, c, r)
    )

    assert bulk.insert_frame(table, frame) == rows

    if connection.vendor == "sqlite":  # a large frame goes by its repeated combinations
        encoded = rows >= bulk.ENCODE_MIN_ROWS
        assert any(t.startswith("_bulk_rows_") for t in written) is encoded

    stored = _read_back()
    assert [r[0] for r in stored] == sorted(r[0] for r in stored)  # ids follow frame order
    assert [(*r[1:6], Decimal(str(r[6])), r[7]) for r in stored] == _expected(frame)


def test_too_many_combinations_still_writes_everything(
    table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "ENCODE_MAX_COMBINATIONS", 2)
    frame = _frame(bulk.ENCODE_MIN_ROWS)

    bulk.insert_frame(table, frame)

    stored = _read_back()
    assert [(*r[1:6], Decimal(str(r[6])), r[7]) for r in stored] == _expected(frame)


def test_a_failed_insert_leaves_no_helper_tables(table: str) -> None:
    frame = _frame(bulk.ENCODE_MIN_ROWS).with_columns(case_id=pl.lit(None, pl.Int64()))

    with pytest.raises(Exception, match=r"(?i)null|constraint"):
        bulk.insert_frame(table, frame)

    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT name FROM sqlite_temp_master WHERE type = 'table'")
            assert cursor.fetchall() == []


def test_insert_encoded_expands_each_rows_combination(table: str) -> None:
    combinations = [(7, "balanced", None), (7, "", ""), (8, "capacity", "备注")]
    rows = [(i, f"{i}.05", i % 3) for i in range(1, 301)]

    assert (
        bulk.insert_encoded(
            table, ["case_id", "balance"], ["run", "reason", "note"], iter(rows), combinations
        )
        == 300
    )

    stored = _read_back()
    assert [(r[1], r[2], r[3], r[4], Decimal(str(r[6]))) for r in stored] == [
        (*combinations[k][:1], case_id, *combinations[k][1:], Decimal(balance))
        for case_id, balance, k in rows
    ]


# --- read_frame ---------------------------------------------------------------------------

READ_SCHEMA = {"id": pl.Int64(), "team": pl.Int64(), "note": pl.String(), "label": pl.String()}
AWKWARD = [None, "", "N", ",", "a,b", "备注", 'say "hi"', "\x1f\n\t", "4E", "  "]


def _fill(table: str, rows: int) -> None:
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO bulk_test (run, case_id, reason, note, team, balance, label) "
            "VALUES (1, %s, 'r', %s, %s, 0, %s)",
            [
                (
                    i,
                    AWKWARD[i % len(AWKWARD)],
                    None if i % 3 == 0 else -(2**40) + i,
                    AWKWARD[(i * 7) % len(AWKWARD)],
                )
                for i in range(rows)
            ],
        )


def _by_rows(sql: str, params: list[object]) -> list[tuple[object, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


SELECT = "SELECT case_id, team, note, label FROM bulk_test WHERE run = %s ORDER BY case_id DESC"


@pytest.mark.parametrize("rows", [0, 1, 2_500])
def test_read_frame_gives_every_value_in_the_query_order(table: str, rows: int) -> None:
    _fill(table, rows)

    frame = bulk.read_frame(SELECT, [1], READ_SCHEMA)

    assert frame.schema == READ_SCHEMA
    assert frame.rows() == _by_rows(SELECT, [1])  # NULL stays apart from "", order kept
    assert frame.height == rows


def test_read_frame_reads_sqlite_by_column(table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL reads through COPY")
    _fill(table, 50)
    monkeypatch.setattr(bulk.pl, "DataFrame", _no_rows(bulk.pl.DataFrame))

    assert bulk.read_frame(SELECT, [1], READ_SCHEMA).rows() == _by_rows(SELECT, [1])


def _no_rows(frame_type: type[pl.DataFrame]) -> object:
    def make(data: object = None, *args: object, orient: str | None = None, **kwargs: object):
        assert orient != "row", "read row by row"
        return frame_type(data, *args, **kwargs)

    return make


def test_read_frame_reads_sqlite_rows_when_a_value_is_not_what_the_schema_says(
    table: str,
) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL reads through COPY")
    _fill(table, 5)
    sql = "SELECT case_id, CAST(case_id AS REAL) FROM bulk_test ORDER BY case_id"  # 1.0, 2.0 …
    schema = {"id": pl.Int64(), "same": pl.Int64()}

    frame = bulk.read_frame(sql, [], schema)

    assert frame.rows() == [(i, i) for i in range(5)]
    assert frame.equals(pl.DataFrame(_by_rows(sql, []), schema=schema, orient="row"))


def test_read_frame_reads_rows_when_a_column_is_longer_than_sqlite_allows(table: str) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL reads through COPY")
    _fill(table, 500)
    raw = connection.connection
    limit = raw.getlimit(sqlite3.SQLITE_LIMIT_LENGTH)
    raw.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 1_000)  # each column's text is longer
    try:
        frame = bulk.read_frame(SELECT, [1], READ_SCHEMA)
    finally:
        raw.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, limit)

    assert frame.rows() == _by_rows(SELECT, [1])

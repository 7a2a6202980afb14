"""Database housekeeping shared by both engines."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from typing import Any

from django.db import connection


def execute(sql: str, params: list[Any]) -> int:
    """Run one statement on the default connection; the number of rows it touched."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount or 0)


def refresh_planner_statistics() -> None:
    """Refresh the query planner's statistics after bulk loads (imports, demo data).

    SQLite has no autovacuum: without ANALYZE its planner prefers the single-column
    organisation index even for a blind-index look-up (bench/case_list.py: a phone search
    took 838 ms at 200k cases before ANALYZE and 124 ms after). PostgreSQL's autovacuum
    catches up eventually; analysing right after a bulk load avoids slow plans meanwhile.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("ANALYZE")
            cursor.execute("PRAGMA optimize")
        elif connection.vendor == "postgresql":
            cursor.execute("ANALYZE")


def analyze_tables(*tables: str) -> None:
    """Fresh statistics for tables a bulk load just filled, before set-based SQL reads them.

    Without them both planners treat a freshly staged million rows as a handful and pick
    nested loops that are quadratic in the batch size (bench/import_cases.py measured minutes
    for 20k rows). SQLite samples (analysis_limit) so this stays well under a second.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA analysis_limit=1000")
        for table in tables:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA analysis_limit=0")


# SQLite's default page cache is 2 MB; a bulk load that maintains indexes over millions of
# rows spends its time re-reading pages it just evicted (PERF.md: 20.4 s → 16.3 s per 1M rows
# with 256 MB). PostgreSQL's cache is the server's (shared_buffers), not per connection.
BULK_SQLITE_CACHE_KIB = 256 * 1024
BULK_PG_WORK_MEM_MB = 256


@contextlib.contextmanager
def bulk_session() -> Iterator[None]:
    """Tune this connection for a bulk load and restore it afterwards: SQLite gets a large
    page cache; PostgreSQL a larger ``work_mem`` for this session only, so the hash joins
    and sorts of the set-based statements over millions of staged rows stay in memory
    instead of spilling to disk (the server default is 4 MB)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SET work_mem = '{BULK_PG_WORK_MEM_MB}MB'")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET work_mem")
        return
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (previous_cache,) = cursor.fetchone()
        cursor.execute(f"PRAGMA cache_size = -{BULK_SQLITE_CACHE_KIB}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(previous_cache)}")


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a hot loop builds many small tuples (they
    hold no cycles; PERF.md: a 1M-row list builds in 5.6 s instead of 12 s)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def dangling_keys(table: str, column: str, target: str, *, limit: int = 100) -> list[int]:
    """Rows of ``table`` whose ``column`` names no row of ``target`` (their ids, at most
    ``limit``): the check a foreign key without a database constraint does not make."""
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT s.id FROM {q(table)} s LEFT JOIN {q(target)} t ON t.id = s.{q(column)} "  # noqa: S608 (names quoted)
            f"WHERE s.{q(column)} IS NOT NULL AND t.id IS NULL ORDER BY s.id LIMIT %s",
            [limit],
        )
        return [int(row[0]) for row in cursor.fetchall()]

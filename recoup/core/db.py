"""Database housekeeping shared by both engines."""

from __future__ import annotations

from django.db import connection


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

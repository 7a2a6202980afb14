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

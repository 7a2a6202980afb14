"""``RECOUP_DATABASE_URL`` → Django's ``DATABASES`` entry."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from recoup.core.dburl import PG_PREPARE_THRESHOLD, PG_SESSION_OPTIONS, parse_database_url

BASE = Path("/srv/recoup")


def test_postgres_sessions_run_without_jit_unless_the_url_says_otherwise():
    db = parse_database_url("postgres://u:p%40ss@db:5433/recoup?sslmode=require", base_dir=BASE)
    assert db["NAME"] == "recoup"
    assert db["PASSWORD"] == "p@ss"
    assert db["PORT"] == "5433"
    assert db["OPTIONS"] == {
        "sslmode": "require",
        "options": PG_SESSION_OPTIONS,
        "prepare_threshold": PG_PREPARE_THRESHOLD,
    }
    assert "jit=off" in PG_SESSION_OPTIONS
    own = parse_database_url("postgres://db/recoup?options=-c%20work_mem%3D64MB", base_dir=BASE)
    assert own["OPTIONS"]["options"] == "-c work_mem=64MB"


def test_statements_are_prepared_only_when_asked_unless_the_url_turns_it_off():
    default = parse_database_url("postgres://db/recoup", base_dir=BASE)["OPTIONS"]
    assert default["prepare_threshold"] == PG_PREPARE_THRESHOLD  # never on psycopg's own
    off = parse_database_url("postgres://db/recoup?prepare_threshold=", base_dir=BASE)
    assert off["OPTIONS"]["prepare_threshold"] is None  # a transaction pooler in front
    five = parse_database_url("postgres://db/recoup?prepare_threshold=5", base_dir=BASE)
    assert five["OPTIONS"]["prepare_threshold"] == 5
    with pytest.raises(ImproperlyConfigured, match="prepare_threshold"):
        parse_database_url("postgres://db/recoup?prepare_threshold=often", base_dir=BASE)


def test_sqlite_paths_are_relative_to_the_project_or_absolute(tmp_path):
    relative = parse_database_url("sqlite:///var/r.sqlite3", base_dir=tmp_path)
    assert relative["NAME"] == str(tmp_path / "var" / "r.sqlite3")
    absolute = parse_database_url(f"sqlite:///{tmp_path}/abs/r.sqlite3", base_dir=BASE)
    assert absolute["NAME"] == str(tmp_path / "abs" / "r.sqlite3")


def test_a_url_without_a_database_is_refused():
    with pytest.raises(ImproperlyConfigured, match="database name"):
        parse_database_url("postgres://db:5432/", base_dir=BASE)


def test_sqlite_cuts_a_grown_log_back_when_it_starts_over(tmp_path):
    import sqlite3

    from recoup.core.dburl import SQLITE_INIT, SQLITE_WAL_KEEP_BYTES

    path = tmp_path / "wal.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(SQLITE_INIT)
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE t (body BLOB)")
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO t VALUES (zeroblob(100000))", [()] * 1000)  # ≈ 100 MB
    conn.execute("COMMIT")
    wal = tmp_path / "wal.sqlite3-wal"
    assert wal.stat().st_size > SQLITE_WAL_KEEP_BYTES
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")  # copied back; the log may start over
    conn.execute("INSERT INTO t VALUES (x'00')")  # the next write starts it over, cut back
    assert wal.stat().st_size <= SQLITE_WAL_KEEP_BYTES
    assert conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 1001

"""SQLite's log is checkpointed by a background thread, not inside a request's commit."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from recoup.core import sqlite_wal

ROOT = Path(__file__).resolve().parents[3]


def write_rows(path: Path, rows: int) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")  # only our checkpoints copy the log
    conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body TEXT)")
    for start in range(0, rows, 100):
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO t (body) VALUES (?)", [("x" * 1000,) for _ in range(start, start + 100)]
        )
        conn.execute("COMMIT")
    return conn


def test_a_checkpoint_copies_the_log_into_the_database(tmp_path):
    path = tmp_path / "a.sqlite3"
    writer = write_rows(path, 1000)
    assert path.stat().st_size < 100_000  # the rows are still only in the log
    busy, frames, copied = sqlite_wal.checkpoint(sqlite3.connect(path))
    assert busy == 0
    assert frames > 0
    assert copied == frames
    assert path.stat().st_size > 1_000_000
    assert writer.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 1000


def test_the_thread_checkpoints_while_the_writer_goes_on(tmp_path):
    path = tmp_path / "b.sqlite3"
    writer = write_rows(path, 200)
    stop = sqlite_wal.start(str(path), 0.05)
    assert stop is not None
    try:
        assert sqlite_wal.start(str(path), 0.05) is None  # one thread per process and file
        names = [t.name for t in threading.enumerate()]
        assert "sqlite-checkpoint" in names
        deadline = time.monotonic() + 30  # generous: a wait, not a timing assertion
        while path.stat().st_size < 150_000 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert path.stat().st_size >= 150_000
        more = write_rows(path, 300)  # writers are never blocked by it
        assert more.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 500
    finally:
        stop.set()
    writer.close()


def test_memory_databases_have_no_log():
    assert not sqlite_wal.is_file_database(":memory:")
    assert not sqlite_wal.is_file_database("file:memorydb_default?mode=memory&cache=shared")
    assert not sqlite_wal.is_file_database("")
    assert sqlite_wal.is_file_database("/srv/recoup/var/recoup.sqlite3")


PROBE = """
import threading, django
django.setup()
from django.db import connection
with connection.cursor() as c:
    c.execute("PRAGMA wal_autocheckpoint")
    print(c.fetchone()[0], "sqlite-checkpoint" in [t.name for t in threading.enumerate()])
"""


BULK_PROBE = """
import django
django.setup()
from django.db import connection
from recoup.core.db import bulk_session

def setting():
    with connection.cursor() as c:
        c.execute("PRAGMA wal_autocheckpoint")
        return c.fetchone()[0]

before = setting()
with bulk_session():
    during = setting()
print(before, during, setting())
"""


def probe(tmp_path: Path, seconds: str, code: str = PROBE) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECOUP_")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        RECOUP_DEBUG="1",
        RECOUP_DATABASE_URL=f"sqlite:///{tmp_path}/probe.sqlite3",
        RECOUP_SQLITE_CHECKPOINT_SECONDS=seconds,
    )
    return subprocess.run(  # noqa: S603 - this interpreter, our own probe
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_process_opening_a_sqlite_file_leaves_checkpoints_to_the_thread(tmp_path):
    result = probe(tmp_path, "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(sqlite_wal.BACKSTOP_PAGES), "True"]


def test_zero_leaves_checkpoints_to_sqlite(tmp_path):
    result = probe(tmp_path, "0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1000", "False"]


def test_a_bad_interval_is_named(tmp_path):
    result = probe(tmp_path, "soon")
    assert result.returncode != 0
    assert "RECOUP_SQLITE_CHECKPOINT_SECONDS" in result.stderr


def test_a_bulk_load_leaves_every_checkpoint_to_the_thread_and_restores_the_backstop(tmp_path):
    result = probe(tmp_path, "1", BULK_PROBE)
    assert result.returncode == 0, result.stderr
    backstop = str(sqlite_wal.BACKSTOP_PAGES)
    assert result.stdout.split() == [backstop, "0", backstop]


def test_without_the_thread_a_bulk_load_keeps_sqlites_own_checkpoints(tmp_path):
    result = probe(tmp_path, "0", BULK_PROBE)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1000", "1000", "1000"]

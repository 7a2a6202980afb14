"""SQLite's write-ahead log, checkpointed off the request path.

In WAL mode SQLite copies the log back into the database file (a *checkpoint*) inside
whichever commit pushes the log past ``wal_autocheckpoint`` pages (1,000 by default). That
commit then writes megabytes and syncs the file: on this machine one commit in about a
hundred took 5–10 ms instead of 0.2 ms, and it was the compliance gate's whole p99
(bench/gate.py: p99 7.3 ms with SQLite's own checkpoints, 1.3 ms without).

So each process that opens a SQLite file starts one daemon thread that runs a PASSIVE
checkpoint every ``RECOUP_SQLITE_CHECKPOINT_SECONDS`` (default 1 s) on its own connection. A
passive checkpoint never waits for and never blocks readers or writers; commits keep
appending to the log meanwhile. The request connections keep an automatic checkpoint as a
backstop, at ``BACKSTOP_PAGES``, for when the thread falls behind (a burst of bulk writes).
A bulk load (``recoup.core.db.bulk_session``) turns even that backstop off for its own
connection: its commits write hundreds of megabytes of log, and a checkpoint inside such a
commit copies all of it again before the commit returns (a 200k-row import's switch-over:
COMMIT 3.1 s with the checkpoint, 0.7 s without); the thread copies it on the other core.
Several processes on one file each run a thread; SQLite lets one checkpoint run at a time and
the others return at once. ``0`` turns the thread off (SQLite's own checkpoints then).
In-memory databases (the tests) have no log.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from typing import Any

from django.conf import settings

log = logging.getLogger(__name__)

# The request connections' automatic checkpoint when the thread runs: ≈ 40 MB of log.
BACKSTOP_PAGES = 10_000

_started: set[tuple[int, str]] = set()  # (process id, database file): threads running
_lock = threading.Lock()


def interval_seconds() -> float:
    return float(getattr(settings, "RECOUP_SQLITE_CHECKPOINT_SECONDS", 1.0))


def is_file_database(name: object) -> bool:
    text = str(name or "")
    return bool(text) and text != ":memory:" and "mode=memory" not in text


def checkpoint(conn: sqlite3.Connection) -> tuple[int, int, int]:
    """One passive checkpoint: (busy, frames in the log, frames copied to the database)."""
    row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(row[0]), int(row[1]), int(row[2])


def _run(path: str, seconds: float, stop: threading.Event) -> None:
    conn: sqlite3.Connection | None = None
    while not stop.wait(seconds):
        try:
            if conn is None:
                # No busy wait: a checkpoint that cannot run now runs at the next tick.
                conn = sqlite3.connect(path, timeout=0, isolation_level=None)
            checkpoint(conn)
        except sqlite3.Error as exc:  # the file moved or is locked for a restore: retry later
            log.debug("SQLite checkpoint of %s skipped: %s", path, exc)
            if conn is not None:
                conn.close()
                conn = None
    if conn is not None:
        conn.close()


def running(path: str) -> bool:
    """Whether this process runs a checkpoint thread for ``path``."""
    with _lock:
        return (os.getpid(), os.path.abspath(path)) in _started


def start(path: str, seconds: float) -> threading.Event | None:
    """Start this process's checkpoint thread for ``path`` (once); its stop event, or None
    when one already runs."""
    key = (os.getpid(), os.path.abspath(path))
    with _lock:
        if key in _started:
            return None
        _started.add(key)
    stop = threading.Event()
    thread = threading.Thread(
        target=_run, args=(key[1], seconds, stop), name="sqlite-checkpoint", daemon=True
    )
    thread.start()
    return stop


def on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    """``connection_created``: a SQLite file connection leaves checkpoints to the thread."""
    if connection.vendor != "sqlite":
        return
    seconds = interval_seconds()
    name = connection.settings_dict.get("NAME")
    if seconds <= 0 or not is_file_database(name):
        return
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
    start(str(name), seconds)

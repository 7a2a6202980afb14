"""A second process stages every other batch of a large file (ADR 0008, addendum 2026-11-23).

Staging is CPU work in Python (normalise, seal, format rows) and database writes; one process
uses one core. For a large file the import starts a helper process (``spawn``): it opens the
same stored file and both processes walk its batches in order; each batch is staged by the
process that reaches it first (a shared counter: batch ``i`` is taken when no batch at or
after ``i`` has been), through that process's own database connection. Nothing is pickled
but counters and errors; each process writes its own staging rows, so the switch-over that
follows is unchanged and still runs once, in this process, in one transaction.

Threads would not help: the sealing loop holds the GIL and a writer thread's many short
``sqlite3_step`` calls then wait for it (measured: slower than one thread).

Safety:
- the helper runs only when the import is not inside a transaction (the task body, never a
  request or a test's wrapped transaction: a second connection could not see its rows) and
  the database is a real file or server, not SQLite's in-memory test database;
- if this process fails or is stopped, the helper is killed and reaped before the caller
  clears the staging rows, so no staging row is written after the clear;
- if this process is killed outright (SIGKILL), Linux kills the helper too
  (``PR_SET_PDEATHSIG``), and the helper checks that its parent is still alive before each
  batch's transaction;
- a helper's failure is raised here: a file that cannot be read as a ``ReadError`` with the
  same code and parameters, anything else as ``HelperFailed`` with the helper's traceback.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing
import os
from collections.abc import Callable
from dataclasses import astuple
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from recoup.intake import stage_helper
from recoup.intake.pipeline import BATCH_ROWS, Counters, stage_table
from recoup.intake.readers import ReadError, ReadLimits, open_table

logger = logging.getLogger(__name__)

# Batches are smaller when two processes share a file: the one that finishes first waits for
# the other's last batch, and 25,000 rows halve that wait (200k rows, SQLite: staging
# 22.7 s with 50,000-row batches, 19.7 s with 25,000, 20.8 s with 12,500; bench/RESULTS.md).
SHARED_BATCH_ROWS = BATCH_ROWS // 2


class HelperFailed(Exception):
    """The helper process failed for a reason other than an unreadable file."""


# Below this a helper's start (a new interpreter, Django set up: ≈ 1–2 s) costs more than
# it saves.
MIN_ROWS = 2 * BATCH_ROWS


def processes_for(estimated_rows: int) -> int:
    """How many processes stage a file of about ``estimated_rows`` rows (1 or 2)."""
    if settings.RECOUP_IMPORT_PROCESSES < 2 or estimated_rows < MIN_ROWS:
        return 1
    if connection.in_atomic_block:
        return 1
    if connection.vendor == "postgresql":
        return 2
    if connection.vendor == "sqlite" and not connection.is_in_memory_db():  # type: ignore[attr-defined]
        return 2
    return 1


def stage_in_two(
    job: Any,
    *,
    path: Path,
    limits: ReadLimits,
    progress: Callable[[Counters], None],
) -> Counters:
    """Stage ``path`` together with a helper process; the counters of both."""
    batch_rows = SHARED_BATCH_ROWS
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe(duplex=False)
    next_free = ctx.Value("q", 0)
    helper = ctx.Process(
        target=stage_helper.main,
        args=(
            theirs,
            job.pk,
            str(path),
            dataclasses.asdict(limits),
            dict(connection.settings_dict),
            os.getpid(),
            batch_rows,
            next_free,
        ),
        name=f"recoup-import-{job.pk}-helper",
        daemon=True,
    )
    helper.start()
    theirs.close()
    state = _HelperState()

    def report(own: Counters) -> None:
        state.drain(ours)
        progress(_sum(own, state.counters))

    try:
        with open_table(
            path, encoding=job.encoding or None, sheet=job.sheet or None, limits=limits
        ) as table:
            own = stage_table(job, table, report, claim=claimer(next_free), batch_rows=batch_rows)
        while not state.done:
            if not state.closed and ours.poll(0.5):
                state.drain(ours)
                progress(_sum(own, state.counters))
            elif state.closed or not helper.is_alive():
                state.drain(ours)
                if not state.done:
                    helper.join(timeout=30)
                    raise HelperFailed(
                        f"the helper process ended without finishing (exit code {helper.exitcode})"
                    )
        helper.join()
    except BaseException:
        _stop(helper)
        raise
    finally:
        ours.close()
    logger.info(
        "import job %s: staged %s rows here and %s in the helper process",
        job.pk,
        own.read,
        state.counters.read,
    )
    return _sum(own, state.counters)


class _HelperState:
    def __init__(self) -> None:
        self.counters = Counters()
        self.done = False
        self.closed = False  # the helper's end of the pipe is closed: nothing more will come

    def drain(self, conn: Connection) -> None:
        while not self.done and not self.closed and conn.poll():
            try:
                kind, *payload = conn.recv()
            except EOFError:
                self.closed = True
                return
            if kind in ("batch", "done"):
                self.counters = Counters(*payload[0])
                self.done = kind == "done"
            elif kind == "read_error":
                code, params = payload
                raise ReadError(code, **params)
            else:
                raise HelperFailed(payload[0])


def claimer(next_free: Any) -> Callable[[int], bool]:
    """Batch ``index`` is this process's when no process has taken it or a later one.

    Both processes see every index in order, so each batch is taken exactly once: the first
    process to pass an index finds nothing taken at or after it and takes it.
    """

    def claim(index: int) -> bool:
        with next_free.get_lock():
            if next_free.value <= index:
                next_free.value = index + 1
                return True
            return False

    return claim


def _sum(a: Counters, b: Counters) -> Counters:
    return Counters(*(x + y for x, y in zip(astuple(a), astuple(b), strict=True)))


def _stop(helper: Any) -> None:
    """Kill the helper and wait for it: after this it writes nothing more."""
    with contextlib.suppress(Exception):
        if helper.is_alive():
            helper.kill()
        helper.join(timeout=30)

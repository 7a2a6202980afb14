"""The body of the import's staging helper process (recoup.intake.parallel).

A spawned process imports its target's module before anything else, so this module imports
only the standard library at the top: Django is set up in ``main`` (on the parent's database,
whose settings the parent passes), and the intake's modules are imported after that.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import traceback
from dataclasses import astuple
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Ask Linux to kill this process when its parent dies; exit now if it already has."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the line above
        os._exit(1)


def setup(database: dict[str, Any]) -> None:
    """Django, on the parent's database (a test's database too, whose name differs)."""
    import django
    from django.conf import settings

    settings.DATABASES = {"default": database}
    django.setup()


def main(
    conn: Connection,
    job_id: int,
    path: str,
    limits: dict[str, int],
    database: dict[str, Any],
    parent_pid: int,
    batch_rows: int,
    next_free: Any,
) -> None:
    """Stage the batches this process reaches first; report counters, then "done" or why not.

    Messages on ``conn``: ``("batch", counters)`` after each batch, ``("done", counters)`` at
    the end, ``("read_error", code, params)`` for a file that cannot be read, ``("error",
    text)`` for anything else.
    """
    die_with_parent(parent_pid)
    try:
        setup(database)
        from recoup.core.db import bulk_session
        from recoup.intake.models import ImportJob
        from recoup.intake.parallel import claimer
        from recoup.intake.pipeline import Counters, stage_table
        from recoup.intake.readers import ReadError, ReadLimits, open_table
    except BaseException as exc:
        _send_error(conn, exc)
        return
    try:
        job = ImportJob.objects.get(pk=job_id)

        def before_write() -> None:
            if os.getppid() != parent_pid:  # orphaned: write nothing more
                os._exit(1)

        def report(counters: Counters) -> None:
            conn.send(("batch", astuple(counters)))

        with (
            bulk_session(),
            open_table(
                Path(path),
                encoding=job.encoding or None,
                sheet=job.sheet or None,
                limits=ReadLimits(**limits),
            ) as table,
        ):
            counters = stage_table(
                job,
                table,
                report,
                claim=claimer(next_free),
                batch_rows=batch_rows,
                before_write=before_write,
            )
        conn.send(("done", astuple(counters)))
    except ReadError as exc:
        with contextlib.suppress(Exception):
            conn.send(("read_error", exc.code, exc.params))
    except BaseException as exc:
        _send_error(conn, exc)
    finally:
        with contextlib.suppress(Exception):
            conn.close()


def _send_error(conn: Connection, exc: BaseException) -> None:
    text = "".join(traceback.format_exception(exc))
    with contextlib.suppress(Exception):
        conn.send(("error", f"{exc.__class__.__name__} in the import's helper process:\n{text}"))

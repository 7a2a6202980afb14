"""One run at a time of a bench script that shares files or a database with its other runs."""

from __future__ import annotations

import fcntl
import sys
from pathlib import Path
from typing import IO


def single_run_lock(bench_dir: Path, script: str) -> IO[str]:
    """Hold ``<bench_dir>/<script>.lock`` until the process ends, or exit when another run of
    ``script`` holds it (two runs at once corrupted a shared SQLite bench database)."""
    bench_dir.mkdir(parents=True, exist_ok=True)
    path = bench_dir / f"{script}.lock"
    handle = path.open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.exit(f"another bench/{script}.py run holds {path}")
    return handle

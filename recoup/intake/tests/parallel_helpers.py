"""Stand-ins for the staging helper's body, for test_parallel: a spawned process finds them
by module and name. Each sets Django up first, then breaks the helper the way a test needs."""

from __future__ import annotations

import os
from typing import Any

from recoup.intake import stage_helper


def _database(args: tuple[Any, ...]) -> dict[str, Any]:
    return args[4]


def fails_after_one_batch(*args: Any) -> None:
    stage_helper.setup(_database(args))
    from recoup.intake import pipeline

    real = pipeline._seal_rows
    calls: list[int] = []

    def once(*a: Any, **kw: Any) -> Any:
        if calls:
            raise OSError("disk full (in the helper)")
        calls.append(1)
        return real(*a, **kw)

    pipeline._seal_rows = once
    stage_helper.main(*args)


def cannot_read(*args: Any) -> None:
    stage_helper.setup(_database(args))
    from recoup.intake import pipeline
    from recoup.intake.readers import ReadError

    def refuse(*a: Any, **kw: Any) -> Any:
        raise ReadError("too_many_rows", limit=10)

    pipeline._seal_rows = refuse
    stage_helper.main(*args)


def vanishes(*args: Any) -> None:
    """Dies mid-import without a word (killed by the kernel's OOM killer, say)."""
    stage_helper.setup(_database(args))
    from recoup.intake import pipeline

    def die(*a: Any, **kw: Any) -> Any:
        os._exit(3)

    pipeline._seal_rows = die
    stage_helper.main(*args)

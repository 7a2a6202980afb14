"""Time-ordered UUIDs (RFC 9562 version 7) for rows created in bulk.

A random (version 4) UUID lands anywhere in its unique index, so loading a million rows
touches index pages at random; a version 7 UUID starts with the time in milliseconds and,
here, a counter, so a bulk load appends at the right edge of the index (on PostgreSQL and
SQLite alike). Layout (RFC 9562 §5.7, with the counter method of §6.2):

    48 bits unix time ms | version 7 | 12 bits counter | variant 10, then 2 zero bits |
    60 bits counter

The counter of each generator starts at a random 56-bit value, so generators started in the
same millisecond (another process, another batch) do not meet; the string is assembled
from a fixed prefix and one formatted number because this runs once per stored record.
"""

from __future__ import annotations

import random
import time

_SYSTEM_RANDOM = random.SystemRandom()
_COUNTER_LIMIT = 1 << 72


class OrderedUids:
    """Generates time-ordered UUIDs as (32 hex digits, canonical hyphenated form)."""

    def __init__(self) -> None:
        self._start(time.time_ns() // 1_000_000)

    def _start(self, ms: int) -> None:
        self._ms = ms
        t = f"{ms:012x}"
        self._prefix = f"{t[:8]}-{t[8:]}-7"
        self._counter = _SYSTEM_RANDOM.getrandbits(56)

    def next(self) -> tuple[str, str]:
        self._counter = counter = self._counter + 1
        if counter >= _COUNTER_LIMIT:  # never in practice; kept correct anyway
            self._start(max(self._ms + 1, time.time_ns() // 1_000_000))
            counter = self._counter
        c = f"{counter:018x}"
        canonical = self._prefix + c[:3] + "-8" + c[3:6] + "-" + c[6:]
        return canonical.replace("-", ""), canonical

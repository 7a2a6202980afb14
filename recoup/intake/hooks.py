"""What other apps do when an import has applied its rows (e.g. the money app posts payments).

An app above ``intake`` registers a function from its ``AppConfig.ready`` (the same in every
process). The intake calls each inside the transaction that applies a repayment file, so the
rows and what was made of them commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from recoup.intake.models import ImportJob

RepaymentsApplied = Callable[["ImportJob"], int]
_HANDLERS: list[RepaymentsApplied] = []


def register_repayments_applied(handler: RepaymentsApplied) -> None:
    if handler not in _HANDLERS:
        _HANDLERS.append(handler)


def posting_registered() -> bool:
    """Whether an app turns repayment rows into payments (then they are only staged)."""
    return bool(_HANDLERS)


def repayments_applied(job: ImportJob) -> int:
    """Run the handlers; returns what the last one reports (the rows it posted)."""
    done = 0
    for handler in _HANDLERS:
        done = handler(job)
    return done

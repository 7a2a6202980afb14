"""The seeded calendar (2020-2026) for every workdays test (see tests.fixtures)."""

from __future__ import annotations

import pytest

from tests.fixtures import ensure_calendar_seeded


@pytest.fixture(autouse=True)
def calendar_seeded(db: None) -> None:
    ensure_calendar_seeded()

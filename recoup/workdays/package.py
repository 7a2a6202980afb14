"""Reading a year out of the ``chinese-calendar`` package, the calendar's seed data.

The package ships the State Council's schedules up to its release year and raises
``NotImplementedError`` for any later date. That is why it only *seeds* the database
(``CalendarDay``); deadlines never call it.

The migration ``0002_seed_2020_2026`` keeps its own copy of ``HOLIDAY_NAMES`` and of the
loop below, because migrations must not import app code (docs/migrations.md).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import NamedTuple

import chinese_calendar

from recoup.workdays.models import MAKEUP_WORKDAY_NAME

# The package names holidays in English; the calendar shows their Chinese names.
HOLIDAY_NAMES: dict[str, str] = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利纪念日",
}


class PackageDay(NamedTuple):
    date: date
    is_workday: bool
    name: str


class YearNotInPackage(Exception):
    """chinese-calendar has no schedule for this year (it raised NotImplementedError)."""

    def __init__(self, year: int) -> None:
        super().__init__(f"chinese-calendar has no data for {year}")
        self.year = year


def package_days(year: int) -> list[PackageDay]:
    """Every day of ``year`` as chinese-calendar knows it; raises ``YearNotInPackage``."""
    days: list[PackageDay] = []
    day = date(year, 1, 1)
    try:
        while day.year == year:
            is_workday = chinese_calendar.is_workday(day)
            _on_holiday, holiday = chinese_calendar.get_holiday_detail(day)
            if is_workday:
                # A named working day is a weekend worked in exchange for a bridge day.
                name = MAKEUP_WORKDAY_NAME if day.weekday() >= 5 else ""
            else:
                name = HOLIDAY_NAMES.get(holiday, holiday) if holiday else ""
            days.append(PackageDay(day, is_workday, name))
            day += timedelta(days=1)
    except NotImplementedError as exc:
        raise YearNotInPackage(year) from exc
    return days

"""Reads for the calendar screens: the years that have data and a year as month grids.

The calendar is installation-wide (China's), so nothing here is scoped to an organisation;
the views check that the user is agency staff (``permissions.can_view_calendar``).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from django.db.models import QuerySet

from recoup.workdays.models import CalendarDay, CalendarYear, weekend_rule


@dataclass(frozen=True)
class DayCell:
    date: date
    is_workday: bool
    name: str
    kind: str  # workday | weekend | holiday | makeup
    stored: bool  # False: no data for this date, the weekend rule answered
    source: str  # the CalendarDay source, "" when not stored


@dataclass(frozen=True)
class MonthGrid:
    month: int
    weeks: list[list[DayCell | None]]  # Monday first; None pads days of other months


@dataclass(frozen=True)
class YearGrid:
    year: int
    calendar_year: CalendarYear | None
    months: list[MonthGrid]
    workdays: int
    holidays: int  # days off that are not plain weekends
    makeup_days: int
    missing_days: int  # dates without data (answered by the weekend rule)

    @property
    def estimated(self) -> bool:
        return self.calendar_year is None or not self.calendar_year.complete


def calendar_years() -> QuerySet[CalendarYear]:
    return CalendarYear.objects.select_related("updated_by").order_by("year")


def calendar_year_get(year: int) -> CalendarYear | None:
    return CalendarYear.objects.select_related("updated_by").filter(year=year).first()


def calendar_day_get(day: date) -> CalendarDay | None:
    return CalendarDay.objects.select_related("updated_by").filter(date=day).first()


def day_cell(day: date, row: CalendarDay | None) -> DayCell:
    """How one date shows on the calendar, from its row or the weekend rule."""
    weekend = day.weekday() >= 5
    if row is None:
        is_workday, name, source = weekend_rule(day), "", ""
    else:
        is_workday, name, source = row.is_workday, row.name, row.source
    if is_workday:
        kind = "makeup" if weekend else "workday"
    else:
        kind = "weekend" if weekend and not name else "holiday"
    return DayCell(day, is_workday, name, kind, row is not None, source)


def year_grid(year: int) -> YearGrid:
    """The year as 12 Monday-first month grids (two queries: the year row and its days)."""
    calendar_year = calendar_year_get(year)
    rows = {
        row.date: row
        for row in CalendarDay.objects.filter(
            date__gte=date(year, 1, 1), date__lte=date(year, 12, 31)
        )
    }
    months: list[MonthGrid] = []
    counts = {"workday": 0, "weekend": 0, "holiday": 0, "makeup": 0}
    missing = 0
    for month in range(1, 13):
        grid: list[list[DayCell | None]] = []
        for week in calendar.Calendar(firstweekday=0).monthdatescalendar(year, month):
            line: list[DayCell | None] = []
            for day in week:
                if day.month != month:
                    line.append(None)
                    continue
                cell = day_cell(day, rows.get(day))
                counts[cell.kind] += 1
                missing += not cell.stored
                line.append(cell)
            grid.append(line)
        months.append(MonthGrid(month, grid))
    return YearGrid(
        year=year,
        calendar_year=calendar_year,
        months=months,
        workdays=counts["workday"] + counts["makeup"],
        holidays=counts["holiday"],
        makeup_days=counts["makeup"],
        missing_days=missing,
    )

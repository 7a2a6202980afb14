"""Deadlines in Chinese working days: the API other apps call.

SLAs such as "allocate within 1 working day of import" or "first full round within 3 working
days after the allocation day" are counted over China's working days, which are holidays and
make-up working days (调休) published by the State Council, not plain weekends. The calendar is
data (``CalendarDay``), so this module loads the dates it needs with ONE query and then
answers everything in pure Python::

    cal = WorkCalendar.load(date(2025, 9, 1), date(2025, 12, 31))
    cal.add_working_days(date(2025, 9, 30), 1)  # date(2025, 10, 9): National Day in between
    cal.working_days_between(date(2025, 9, 30), date(2025, 10, 9))  # 1

    due = deadline(start=imported_at, working_days=1)  # end of the 1st working day after
    due.due, due.estimated, due.warning

Fallback: a year with no data, or with only some days entered (``CalendarYear.complete`` is
False), is never an error. Its missing days follow the weekend rule (Monday to Friday are
working days), the year is listed in ``WorkCalendar.estimated_years`` with a zh-hans message
in ``warnings``, and a ``Deadline`` that crosses it is ``estimated`` with a ``warning`` the
screens show. Importing the year's file (``services.year_import``) makes it exact.

There is deliberately no cache at module or process level: Recoup runs as several processes
and an administrator's correction must count everywhere at once. Load a ``WorkCalendar`` per
request or job (for a batch, one calendar covering the batch's whole range) and pass it on.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from recoup.workdays.models import CalendarDay, weekend_rule

# deadline() loads this many calendar days per requested working day, plus a margin that
# covers the longest run of days off (Spring Festival with its weekends, about 10 days).
_DAYS_PER_WORKING_DAY = 2
_MARGIN_DAYS = 40
_MAX_SPAN_DAYS = 3660  # ten years: beyond that the caller has a bug, not a deadline


class DateOutsideCalendar(ValueError):
    """A date, or the answer, falls outside the range the calendar was loaded for."""


@dataclass(frozen=True)
class Deadline:
    due: datetime  # aware; the last instant (23:59:59.999999) of the target working day, local
    day: date  # the target working day itself
    estimated: bool  # a year on the way has no (complete) data: weekends-only was assumed
    warning: str  # zh-hans (translated) explanation when estimated, else ""


def estimated_warning(years: Iterable[int]) -> str:
    """The message shown wherever a date was computed with the weekends-only fallback."""
    listed = _("、").join(str(y) for y in sorted(years))
    if not listed:
        return ""
    return _(
        "%(years)s 年的法定节假日安排尚未（完整）录入，按周一至周五上班估算，期限可能不准确。"
        "请系统管理员导入该年的工作日历。"
    ) % {"years": listed}


class WorkCalendar:
    """Working days over ``[start, end]``, answered without further queries.

    Build it with ``load()``; the constructor takes plain data so tests and batch jobs can
    build one directly. ``days`` maps the dates that have data to "is a working day";
    ``exact_years`` are the years whose data is complete.
    """

    def __init__(
        self, *, start: date, end: date, days: Mapping[date, bool], exact_years: Iterable[int]
    ) -> None:
        if end < start:
            raise ValueError("end must not be before start")
        self.start, self.end = start, end
        self._days = dict(days)
        exact = set(exact_years)
        self.estimated_years: set[int] = {
            y for y in range(start.year, end.year + 1) if y not in exact
        }
        # Sorted working days of the range: add/count become binary searches.
        self._workdays: list[date] = [
            day
            for day in (start + timedelta(days=i) for i in range((end - start).days + 1))
            if self._days.get(day, weekend_rule(day))
        ]

    @classmethod
    def load(cls, start: date, end: date) -> WorkCalendar:
        """The calendar for ``[start, end]`` in one query (the days joined to their year)."""
        rows = CalendarDay.objects.filter(date__gte=start, date__lte=end).values_list(
            "date", "is_workday", "calendar_year__complete"
        )
        days: dict[date, bool] = {}
        exact_years: set[int] = set()
        for day, is_workday, complete in rows:
            days[day] = is_workday
            if complete:
                exact_years.add(day.year)
        return cls(start=start, end=end, days=days, exact_years=exact_years)

    @property
    def warnings(self) -> list[str]:
        """One message per year answered by the weekends-only fallback (zh-hans)."""
        return [estimated_warning([y]) for y in sorted(self.estimated_years)]

    def _check(self, day: date) -> None:
        if not self.start <= day <= self.end:
            raise DateOutsideCalendar(
                f"{day} is outside the loaded calendar {self.start}..{self.end}"
            )

    def is_estimated(self, day: date) -> bool:
        """True when ``day``'s year is answered (at least partly) by the weekend rule."""
        return day.year in self.estimated_years

    def is_workday(self, day: date) -> bool:
        self._check(day)
        stored = self._days.get(day)
        return weekend_rule(day) if stored is None else stored

    def add_working_days(self, day: date, n: int) -> date:
        """The ``n``-th working day strictly after ``day``; for ``n == 0`` ``day`` itself if it
        is a working day, else the next one."""
        if n < 0:
            raise ValueError("n must not be negative")
        self._check(day)
        index = bisect_left(self._workdays, day) if n == 0 else bisect_right(self._workdays, day)
        index += max(n - 1, 0)
        if index >= len(self._workdays):
            raise DateOutsideCalendar(
                f"{n} working days after {day} fall beyond the loaded calendar end {self.end}"
            )
        return self._workdays[index]

    def working_days_between(self, a: date, b: date) -> int:
        """Working days in ``(a, b]``: after ``a``, up to and including ``b``.

        So ``working_days_between(d, add_working_days(d, n)) == n`` for ``n >= 1``; negative
        when ``b`` is before ``a``.
        """
        self._check(a)
        self._check(b)
        if b < a:
            return -self.working_days_between(b, a)
        return bisect_right(self._workdays, b) - bisect_right(self._workdays, a)

    def deadline(self, *, start: datetime, working_days: int) -> Deadline:
        """The end of the ``working_days``-th working day after ``start``'s local date.

        ``working_days=1`` from an import at any time on 2025-09-30 is due 2025-10-09
        23:59:59.999999 (Asia/Shanghai). ``working_days=0`` is the end of the start day when
        it is a working day, else of the next working day.
        """
        local = local_date(start)
        day = self.add_working_days(local, working_days)
        crossed = {y for y in range(local.year, day.year + 1) if y in self.estimated_years}
        due = datetime.combine(day, time.max, tzinfo=timezone.get_default_timezone())
        return Deadline(
            due=due, day=day, estimated=bool(crossed), warning=estimated_warning(crossed)
        )


def local_date(moment: datetime) -> date:
    """The date of an aware datetime in the installation's time zone (settings.TIME_ZONE)."""
    if timezone.is_naive(moment):
        raise ValueError("deadlines need an aware datetime")
    return timezone.localtime(moment, timezone.get_default_timezone()).date()


def deadline(*, start: datetime, working_days: int) -> Deadline:
    """One deadline, loading just enough of the calendar (usually one query).

    SLA meanings: "within 1 working day of import" is ``deadline(start=imported_at,
    working_days=1)``; "first full round within 3 working days after the allocation day (that
    day excluded)" is ``deadline(start=allocated_at, working_days=3)``. For many deadlines,
    load one ``WorkCalendar`` and call its ``deadline`` method instead.
    """
    if working_days < 0:
        raise ValueError("working_days must not be negative")
    first = local_date(start)
    span = _DAYS_PER_WORKING_DAY * working_days + _MARGIN_DAYS
    while True:
        calendar = WorkCalendar.load(first, first + timedelta(days=span))
        try:
            return calendar.deadline(start=start, working_days=working_days)
        except DateOutsideCalendar:
            if span >= _MAX_SPAN_DAYS:
                raise
            span = min(span * 2, _MAX_SPAN_DAYS)

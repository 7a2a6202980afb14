"""The Chinese working-day calendar, stored as data.

Collection SLAs are counted in Chinese working days: public holidays are days off and the
State Council moves weekend days around them (调休), so a Saturday can be a working day. The
``chinese-calendar`` package knows the published years only and raises for later ones, while
each new year's schedule appears in late autumn. Keeping the calendar in the database lets an
administrator import or correct a year the day it is published, without a release.

``CalendarYear`` answers "does this year have data?" with one row per year; ``CalendarDay``
holds one row per date. A date without a row (or a year that is not ``complete``) falls back
to weekends-only, and the deadline API says so (see ``recoup.workdays.calendar``).

The calendar is China's, shared by the whole installation: it has no organisation.
"""

from __future__ import annotations

import calendar
from datetime import date

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from recoup.core.models import TimeStampedModel

# The name stored for a weekend day that is worked to make up for a holiday bridge.
MAKEUP_WORKDAY_NAME = "调休上班"


class Source(models.TextChoices):
    SEEDED = "seeded", _("内置数据")  # from the chinese-calendar package (migration or command)
    IMPORTED = "imported", _("文件导入")  # from an administrator's CSV/XLSX of the year
    EDITED = "edited", _("手工修改")  # one day changed on the calendar screen


def days_in_year(year: int) -> int:
    return 366 if calendar.isleap(year) else 365


class CalendarYear(TimeStampedModel):
    """Whether a year's schedule is known: ``complete`` means every day has a ``CalendarDay``.

    A year with only a few edited days (say the National Day of next year, entered before the
    full schedule is out) exists but is not complete: its other days are estimated.
    """

    year = models.PositiveSmallIntegerField(_("年份"), unique=True)
    source = models.CharField(_("来源"), max_length=10, choices=Source.choices)
    complete = models.BooleanField(_("完整"), default=False)
    note = models.CharField(_("说明"), max_length=200, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["year"]

    def __str__(self) -> str:
        return f"{self.year} ({self.get_source_display()})"


class CalendarDay(TimeStampedModel):
    """One date: a working day or not, and why (the holiday's name, or 调休上班).

    Plain weekends are stored too (``name`` empty), so a complete year needs no rule at all.
    """

    calendar_year = models.ForeignKey(CalendarYear, on_delete=models.CASCADE, related_name="days")
    date = models.DateField(_("日期"), unique=True)
    is_workday = models.BooleanField(_("工作日"))
    name = models.CharField(_("名称"), max_length=50, blank=True)
    source = models.CharField(_("来源"), max_length=10, choices=Source.choices)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["date"]

    def __str__(self) -> str:
        kind = _("上班") if self.is_workday else _("休息")
        return f"{self.date.isoformat()} {kind} {self.name}".rstrip()

    @property
    def is_weekend(self) -> bool:
        return self.date.weekday() >= 5

    @property
    def is_makeup_workday(self) -> bool:
        """A Saturday or Sunday that is worked (调休上班)."""
        return self.is_workday and self.is_weekend

    @property
    def is_holiday(self) -> bool:
        """A day off that is not an ordinary weekend: a weekday off, or a named day off."""
        return not self.is_workday and (not self.is_weekend or bool(self.name))


def weekend_rule(day: date) -> bool:
    """The fallback when a date has no data: Monday to Friday are working days."""
    return day.weekday() < 5

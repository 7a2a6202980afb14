"""Seed the working-day calendar for 2020-2026 from chinese-calendar (data migration).

Every day of each year is stored, with the holiday's Chinese name, or 调休上班 for a weekend
day that is worked. A year the package does not know is skipped (the weekend fallback and its
warning cover it until an administrator imports it). Later years come from
``manage.py workdays_seed`` or an import. This copies ``recoup.workdays.package`` on purpose:
migrations never import app code (docs/migrations.md).
"""

from datetime import date, timedelta

import chinese_calendar
from django.db import migrations

YEARS = range(2020, 2027)
MAKEUP_WORKDAY_NAME = "调休上班"
HOLIDAY_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利纪念日",
}


def year_days(year):
    days = []
    day = date(year, 1, 1)
    while day.year == year:
        is_workday = chinese_calendar.is_workday(day)
        _on_holiday, holiday = chinese_calendar.get_holiday_detail(day)
        if is_workday:
            name = MAKEUP_WORKDAY_NAME if day.weekday() >= 5 else ""
        else:
            name = HOLIDAY_NAMES.get(holiday, holiday) if holiday else ""
        days.append((day, is_workday, name))
        day += timedelta(days=1)
    return days


def seed(apps, schema_editor):
    CalendarYear = apps.get_model("workdays", "CalendarYear")
    CalendarDay = apps.get_model("workdays", "CalendarDay")
    for year in YEARS:
        try:
            days = year_days(year)
        except NotImplementedError:
            continue
        calendar_year, _ = CalendarYear.objects.get_or_create(
            year=year, defaults={"source": "seeded", "complete": True}
        )
        present = set(
            CalendarDay.objects.filter(calendar_year=calendar_year).values_list("date", flat=True)
        )
        CalendarDay.objects.bulk_create(
            [
                CalendarDay(
                    calendar_year=calendar_year,
                    date=day,
                    is_workday=is_workday,
                    name=name,
                    source="seeded",
                )
                for day, is_workday, name in days
                if day not in present
            ],
            batch_size=500,
        )
        if not calendar_year.complete:
            calendar_year.complete = True
            calendar_year.save(update_fields=["complete"])


def unseed(apps, schema_editor):
    CalendarYear = apps.get_model("workdays", "CalendarYear")
    CalendarDay = apps.get_model("workdays", "CalendarDay")
    CalendarDay.objects.filter(calendar_year__year__in=YEARS, source="seeded").delete()
    CalendarYear.objects.filter(year__in=YEARS, days__isnull=True).delete()
    # A seeded year that keeps some hand-edited days is no longer complete.
    CalendarYear.objects.filter(year__in=YEARS, source="seeded").update(complete=False)


class Migration(migrations.Migration):
    dependencies = [("workdays", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]

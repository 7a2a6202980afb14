"""The deadline API: Chinese working days from the seeded data, and the weekend fallback."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from recoup.workdays.calendar import DateOutsideCalendar, WorkCalendar, deadline
from recoup.workdays.models import CalendarDay, CalendarYear

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def end_of(day: date) -> datetime:
    return datetime.combine(day, time.max, tzinfo=SHANGHAI)


@pytest.fixture
def autumn_2025() -> WorkCalendar:
    return WorkCalendar.load(date(2025, 9, 1), date(2025, 12, 31))


def test_the_migration_seeds_2020_to_2026_with_names():
    assert list(CalendarYear.objects.values_list("year", "complete", "source")) == [
        (y, True, "seeded") for y in range(2020, 2027)
    ]
    assert CalendarDay.objects.filter(date__year=2024).count() == 366
    assert CalendarDay.objects.get(date=date(2025, 10, 1)).name == "国庆节"
    assert CalendarDay.objects.get(date=date(2025, 10, 6)).name == "中秋节"
    makeup = CalendarDay.objects.get(date=date(2025, 9, 28))
    assert (makeup.is_workday, makeup.name, makeup.is_makeup_workday) == (True, "调休上班", True)
    plain_weekend = CalendarDay.objects.get(date=date(2025, 9, 27))
    assert (plain_weekend.is_workday, plain_weekend.name) == (False, "")
    assert not plain_weekend.is_holiday


def test_national_day_2025_is_skipped_and_its_makeup_days_count(autumn_2025):
    cal = autumn_2025
    assert [cal.is_workday(date(2025, 10, d)) for d in range(1, 9)] == [False] * 8
    assert cal.is_workday(date(2025, 9, 28))  # Sunday, 调休上班
    assert cal.is_workday(date(2025, 10, 11))  # Saturday, 调休上班
    assert not cal.is_workday(date(2025, 9, 27))  # an ordinary Saturday
    assert cal.add_working_days(date(2025, 9, 30), 1) == date(2025, 10, 9)
    assert cal.add_working_days(date(2025, 9, 26), 1) == date(2025, 9, 28)
    assert cal.add_working_days(date(2025, 9, 26), 3) == date(2025, 9, 30)
    assert cal.add_working_days(date(2025, 10, 9), 2) == date(2025, 10, 11)
    assert cal.add_working_days(date(2025, 10, 1), 0) == date(2025, 10, 9)
    assert cal.add_working_days(date(2025, 9, 30), 0) == date(2025, 9, 30)
    assert cal.working_days_between(date(2025, 9, 30), date(2025, 10, 9)) == 1
    assert cal.working_days_between(date(2025, 9, 26), date(2025, 10, 12)) == 6
    assert cal.working_days_between(date(2025, 10, 9), date(2025, 9, 30)) == -1
    assert cal.estimated_years == set()
    assert cal.warnings == []


def test_spring_festival_2026():
    cal = WorkCalendar.load(date(2026, 2, 1), date(2026, 3, 31))
    assert [cal.is_workday(date(2026, 2, d)) for d in range(15, 24)] == [False] * 9
    assert cal.is_workday(date(2026, 2, 14))  # Saturday before, 调休上班
    assert cal.is_workday(date(2026, 2, 28))  # Saturday after, 调休上班
    assert cal.add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert cal.add_working_days(date(2026, 2, 14), 1) == date(2026, 2, 24)
    assert cal.add_working_days(date(2026, 2, 13), 3) == date(2026, 2, 25)


def test_a_calendar_loads_with_one_query(django_assert_num_queries):
    with django_assert_num_queries(1):
        cal = WorkCalendar.load(date(2025, 1, 1), date(2027, 12, 31))
    with django_assert_num_queries(0):
        assert cal.add_working_days(date(2025, 9, 30), 1) == date(2025, 10, 9)
        assert cal.estimated_years == {2027}


def test_dates_outside_the_loaded_range_are_refused(autumn_2025):
    with pytest.raises(DateOutsideCalendar):
        autumn_2025.is_workday(date(2026, 1, 5))
    with pytest.raises(DateOutsideCalendar):
        autumn_2025.add_working_days(date(2025, 12, 30), 5)
    with pytest.raises(ValueError, match="negative"):
        autumn_2025.add_working_days(date(2025, 10, 9), -1)


def test_the_import_sla_is_the_end_of_the_first_working_day_after_the_import_date():
    imported_at = datetime(2025, 9, 30, 18, 30, tzinfo=SHANGHAI)
    due = deadline(start=imported_at, working_days=1)
    assert due.due == end_of(date(2025, 10, 9))
    assert due.due.tzinfo is not None
    assert (due.day, due.estimated, due.warning) == (date(2025, 10, 9), False, "")


def test_the_first_round_sla_counts_three_working_days_after_the_allocation_day():
    allocated_at = datetime(2025, 9, 26, 9, 0, tzinfo=SHANGHAI)  # Friday
    assert deadline(start=allocated_at, working_days=3).due == end_of(date(2025, 9, 30))


def test_the_start_date_is_taken_in_china_time_not_utc():
    # 17:00 UTC on 29 Sep is 01:00 on 30 Sep in Shanghai.
    due = deadline(start=datetime(2025, 9, 29, 17, 0, tzinfo=UTC), working_days=1)
    assert due.day == date(2025, 10, 9)
    with pytest.raises(ValueError, match="aware"):
        deadline(start=datetime(2025, 9, 29, 17, 0), working_days=1)  # noqa: DTZ001


def test_a_year_without_data_falls_back_to_weekends_with_a_warning():
    cal = WorkCalendar.load(date(2026, 12, 1), date(2027, 12, 31))
    assert cal.estimated_years == {2027}
    assert len(cal.warnings) == 1
    assert "2027" in cal.warnings[0]
    assert cal.add_working_days(date(2027, 9, 30), 1) == date(2027, 10, 1)  # a Friday
    assert not cal.is_workday(date(2027, 10, 2))
    assert not cal.is_estimated(date(2026, 12, 31))

    due = deadline(start=datetime(2027, 1, 1, 10, tzinfo=SHANGHAI), working_days=1)
    assert due.day == date(2027, 1, 4)  # Friday 1 Jan -> Monday 4 Jan
    assert due.estimated
    assert "2027" in due.warning


def test_a_deadline_is_estimated_only_when_it_crosses_a_year_without_data():
    inside_2026 = deadline(start=datetime(2026, 12, 28, 10, tzinfo=SHANGHAI), working_days=1)
    assert (inside_2026.day, inside_2026.estimated) == (date(2026, 12, 29), False)
    into_2027 = deadline(start=datetime(2026, 12, 31, 10, tzinfo=SHANGHAI), working_days=1)
    assert (into_2027.day, into_2027.estimated) == (date(2027, 1, 1), True)


def test_a_long_deadline_loads_more_of_the_calendar():
    due = deadline(start=datetime(2025, 1, 2, 10, tzinfo=SHANGHAI), working_days=245)
    cal = WorkCalendar.load(date(2025, 1, 1), date(2026, 12, 31))
    assert due.day == cal.add_working_days(date(2025, 1, 2), 245)
    assert cal.working_days_between(date(2025, 1, 2), due.day) == 245


def test_a_constructed_calendar_needs_no_database():
    cal = WorkCalendar(
        start=date(2030, 1, 1),
        end=date(2030, 1, 31),
        days={date(2030, 1, 1): False, date(2030, 1, 5): True},
        exact_years=[],
    )
    assert cal.add_working_days(date(2029 + 1, 1, 1), 0) == date(2030, 1, 2)
    assert cal.add_working_days(date(2030, 1, 4), 1) == date(2030, 1, 5)  # a worked Saturday
    assert cal.estimated_years == {2030}

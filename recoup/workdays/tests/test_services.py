"""Editing a day, importing a year and seeding from chinese-calendar: rules and audit."""

from __future__ import annotations

import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from openpyxl import Workbook

from recoup.audit.models import AuditEvent
from recoup.core.exceptions import PermissionDenied, RecoupError
from recoup.workdays import services
from recoup.workdays.calendar import WorkCalendar, deadline
from recoup.workdays.models import CalendarDay, CalendarYear

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")

FILE_2027 = """date,is_workday,name
2027-01-01,0,元旦
2027-02-05,休息,春节
2027-02-08,否,春节
2027-02-20,上班,
2027-10-01,holiday,国庆节
2027-10-09,1,调休上班
"""


def csv_file(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode("utf-8"))


def import_2027(actor, text: str = FILE_2027, name: str = "2027.csv"):
    return services.year_import(year=2027, file=csv_file(text), file_name=name, actor=actor)


def snapshot(year: int) -> list[tuple[date, bool, str, str]]:
    return list(
        CalendarDay.objects.filter(date__year=year).values_list(
            "date", "is_workday", "name", "source"
        )
    )


def test_importing_2027_makes_the_year_exact_and_is_audited(world):
    before = deadline(start=datetime(2026, 12, 31, 10, tzinfo=SHANGHAI), working_days=1)
    assert (before.day, before.estimated) == (date(2027, 1, 1), True)

    result = import_2027(world.hal)

    assert (result.rows, result.created) == (6, 365)
    year = CalendarYear.objects.get(year=2027)
    assert (year.source, year.complete, year.updated_by) == ("imported", True, world.hal)
    assert CalendarDay.objects.filter(date__year=2027).count() == 365
    saturday = CalendarDay.objects.get(date=date(2027, 2, 20))
    assert (saturday.is_workday, saturday.name) == (True, "调休上班")  # name defaulted
    unlisted = CalendarDay.objects.get(date=date(2027, 3, 1))
    assert (unlisted.is_workday, unlisted.source) == (True, "imported")
    after = deadline(start=datetime(2026, 12, 31, 10, tzinfo=SHANGHAI), working_days=1)
    assert (after.day, after.estimated, after.warning) == (date(2027, 1, 4), False, "")
    cal = WorkCalendar.load(date(2027, 10, 1), date(2027, 10, 31))
    assert cal.add_working_days(date(2027, 10, 8), 1) == date(2027, 10, 9)  # Saturday worked
    event = AuditEvent.objects.get(action="workdays.year.imported")
    assert event.actor == world.hal
    assert event.organisation_id == world.org.pk
    assert event.data["year"] == 2027
    assert event.data["rows"] == 6
    assert event.data["file_name"] == "2027.csv"
    assert len(event.data["sha256"]) == 64


def test_an_xlsx_with_chinese_headers_and_real_dates_imports(world):
    book = Workbook()
    sheet = book.active
    sheet.append(["日期", "是否工作日", "名称"])
    sheet.append([date(2027, 1, 1), "否", "元旦"])
    sheet.append([date(2027, 1, 2), 0, ""])
    sheet.append(["2027/2/20", 1, None])
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)

    result = services.year_import(year=2027, file=buffer, file_name="2027.xlsx", actor=world.sam)

    assert result.rows == 3
    assert not CalendarDay.objects.get(date=date(2027, 1, 1)).is_workday
    assert CalendarDay.objects.get(date=date(2027, 2, 20)).name == "调休上班"


def test_an_import_overrides_listed_days_and_keeps_the_others(world):
    services.day_set(day=date(2025, 3, 3), is_workday=False, name="停电", actor=world.hal)
    text = "date,is_workday,name\n2025-10-10,0,补休\n"
    result = services.year_import(
        year=2025, file=csv_file(text), file_name="fix.csv", actor=world.hal
    )
    assert (result.rows, result.created, result.changed) == (1, 0, 1)
    assert CalendarDay.objects.get(date=date(2025, 10, 10)).source == "imported"
    kept = CalendarDay.objects.get(date=date(2025, 3, 3))
    assert (kept.is_workday, kept.name, kept.source) == (False, "停电", "edited")
    assert CalendarDay.objects.get(date=date(2025, 10, 1)).source == "seeded"
    event = AuditEvent.objects.get(action="workdays.year.imported")
    assert event.data["changes"][0]["date"] == "2025-10-10"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("date,is_workday\n2027-01-01,0\n2027-02-30,1\n", ["第 3 行", "2027-02-30", "无法识别"]),
        ("date,is_workday\n2026-12-31,0\n", ["第 2 行", "不在 2027 年内"]),
        ("date,is_workday\n2027-01-01,0\n2027-01-01,1\n", ["第 3 行", "与第 2 行重复"]),
        ("date,is_workday\n2027-01-01,maybe\n", ["第 2 行", "maybe"]),
        ("", ["文件为空"]),
        ("date,is_workday,name\n", ["没有数据行"]),
        ("日子,上班否\n2027-01-01,0\n", ["缺少列", "date", "is_workday"]),
        ("date,is_workday\n2027-01-01,0,extra\n", ["列数不一致"]),
        ("date,is_workday\n" + "2027-01-01,0\n" * 200_000, ["文件过大"]),
    ],
    ids=[
        "bad-date",
        "outside-year",
        "duplicate",
        "unknown-flag",
        "empty",
        "header-only",
        "no-columns",
        "ragged",
        "too-large",
    ],
)
def test_a_bad_file_is_refused_naming_the_row_and_changes_nothing(world, content, expected):
    with pytest.raises(RecoupError) as caught:
        import_2027(world.hal, content)
    for fragment in expected:
        assert fragment in caught.value.message
    assert not CalendarYear.objects.filter(year=2027).exists()
    assert not CalendarDay.objects.filter(date__year=2027).exists()
    assert not AuditEvent.objects.filter(action__startswith="workdays.").exists()


def test_a_bad_file_for_a_year_with_data_leaves_it_untouched(world):
    before = snapshot(2025)
    text = "date,is_workday\n2025-10-09,0\n2025-10-10,x\n2025-10-11,0\n"
    with pytest.raises(RecoupError, match="第 3 行"):
        services.year_import(year=2025, file=csv_file(text), file_name="x.csv", actor=world.hal)
    assert snapshot(2025) == before


def test_all_row_problems_are_reported_at_once(world):
    text = "date,is_workday\nfoo,0\n2027-01-02,?\n2028-01-01,0\n"
    with pytest.raises(RecoupError) as caught:
        import_2027(world.hal, text)
    message = caught.value.message
    assert "第 2 行" in message
    assert "第 3 行" in message
    assert "第 4 行" in message


def test_only_system_admins_and_hq_change_the_calendar(world):
    for person in (world.ada, world.sue, world.rick, world.max, world.cli):
        with pytest.raises(PermissionDenied):
            services.day_set(day=date(2025, 10, 9), is_workday=False, name="", actor=person)
        with pytest.raises(PermissionDenied):
            import_2027(person)
    assert CalendarDay.objects.get(date=date(2025, 10, 9)).is_workday


def test_editing_a_day_changes_deadlines_at_once_and_is_audited(world):
    row = services.day_set(
        day=date(2025, 10, 9), is_workday=False, name="台风停工", actor=world.sam
    )
    assert (row.is_workday, row.name, row.source, row.updated_by) == (
        False,
        "台风停工",
        "edited",
        world.sam,
    )
    due = deadline(start=datetime(2025, 9, 30, 12, tzinfo=SHANGHAI), working_days=1)
    assert due.day == date(2025, 10, 10)
    event = AuditEvent.objects.get(action="workdays.day.edited")
    assert event.actor == world.sam
    assert event.object_id == "2025-10-09"
    assert event.data["before"] == {"is_workday": True, "name": "", "source": "seeded"}
    assert event.data["after"] == {"is_workday": False, "name": "台风停工", "source": "edited"}
    # Saving the same values again records nothing.
    services.day_set(day=date(2025, 10, 9), is_workday=False, name="台风停工", actor=world.hal)
    assert AuditEvent.objects.filter(action="workdays.day.edited").count() == 1


def test_editing_a_day_of_a_year_without_data_keeps_the_year_estimated(world):
    services.day_set(day=date(2027, 10, 1), is_workday=False, name="国庆节", actor=world.hal)
    year = CalendarYear.objects.get(year=2027)
    assert (year.source, year.complete) == ("edited", False)
    cal = WorkCalendar.load(date(2027, 9, 1), date(2027, 10, 31))
    assert not cal.is_workday(date(2027, 10, 1))
    assert cal.add_working_days(date(2027, 9, 30), 1) == date(2027, 10, 4)
    assert cal.estimated_years == {2027}


def test_a_name_longer_than_fifty_characters_is_refused(world):
    with pytest.raises(RecoupError):
        services.day_set(day=date(2025, 10, 9), is_workday=False, name="长" * 51, actor=world.hal)


def test_the_seed_command_is_idempotent_and_keeps_edited_days(world):
    services.day_set(day=date(2025, 10, 9), is_workday=False, name="台风停工", actor=world.hal)
    CalendarDay.objects.filter(date__year=2024, date__month=2).delete()
    CalendarDay.objects.filter(date=date(2024, 5, 6)).update(is_workday=False)
    out = io.StringIO()

    call_command("workdays_seed", "--years", "2024", "2025", "2027", stdout=out)

    text = out.getvalue()
    assert "2024: 29 days added, 1 updated, 0 imported/edited days kept." in text
    assert "2025: 0 days added, 0 updated, 1 imported/edited days kept." in text
    assert "2027: skipped" in text
    edited = CalendarDay.objects.get(date=date(2025, 10, 9))
    assert (edited.is_workday, edited.name, edited.source) == (False, "台风停工", "edited")
    assert CalendarDay.objects.filter(date__year=2024).count() == 366
    assert CalendarDay.objects.get(date=date(2024, 5, 6)).is_workday
    assert not CalendarYear.objects.filter(year=2027).exists()
    seeded_events = AuditEvent.objects.filter(action="workdays.year.seeded").count()
    assert seeded_events == 1  # 2024 only: 2025 had nothing to change

    again = io.StringIO()
    call_command("workdays_seed", "--years", "2024", "2025", stdout=again)

    assert "2024: 0 days added, 0 updated" in again.getvalue()
    assert AuditEvent.objects.filter(action="workdays.year.seeded").count() == seeded_events


def test_the_seed_refuses_a_year_the_package_does_not_know(world):
    with pytest.raises(RecoupError) as caught:
        services.year_seed(year=2027, actor=world.sam)
    assert caught.value.code == "year_not_in_package"
    assert "2027" in caught.value.message

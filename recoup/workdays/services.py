"""Writes on the working-day calendar: edit one day, import a year, seed from the package.

Changing the calendar moves every SLA deadline of every agency on the installation, so only
system administrators and HQ may do it (``permissions.CALENDAR_EDITORS``), each change is
audited in the same transaction, and the seed never overwrites what a person imported or
edited: when the package and the State Council disagree, the person who read the notice wins.
The audit event goes to the actor's organisation chain (the agency whose administrator made
the change); seeding by the system writes to the installation chain.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from typing import IO, TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from recoup.audit.services import audit_record
from recoup.core.clock import now
from recoup.core.exceptions import PermissionDenied, RecoupError
from recoup.workdays.importfile import MAX_FILE_BYTES, MAX_NAME_LENGTH, read_year_file
from recoup.workdays.models import (
    MAKEUP_WORKDAY_NAME,
    CalendarDay,
    CalendarYear,
    Source,
    days_in_year,
    weekend_rule,
)
from recoup.workdays.package import YearNotInPackage, package_days
from recoup.workdays.permissions import can_edit_calendar

if TYPE_CHECKING:
    from recoup.accounts.models import User

# Years the screens and files may touch: beyond these, a typo is likelier than a plan.
FIRST_YEAR = 2000
LAST_YEAR = 2100
_DAY_FIELDS = ["is_workday", "name", "source", "updated_by", "updated_at"]


@dataclass(frozen=True)
class ImportResult:
    year: int
    rows: int  # days listed in the file
    created: int  # days that had no data before
    changed: int  # existing days whose working status or name the file changed
    workdays: int  # working days in the year after the import


@dataclass(frozen=True)
class SeedResult:
    year: int
    created: int  # days that had no data before
    updated: int  # seeded days whose data the package changed
    kept: int  # imported or edited days left as a person set them


def _require_editor(actor: User) -> None:
    if not can_edit_calendar(actor):
        raise PermissionDenied(_("只有系统管理员和总公司可以修改工作日历。"))


def check_year(year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise RecoupError(
            _("年份须在 %(first)s 至 %(last)s 之间。") % {"first": FIRST_YEAR, "last": LAST_YEAR}
        )


def _year_dates(year: int) -> list[date]:
    first = date(year, 1, 1)
    return [first + timedelta(days=i) for i in range(days_in_year(year))]


def _snapshot(row: CalendarDay) -> dict[str, Any]:
    return {"is_workday": row.is_workday, "name": row.name, "source": row.source}


@transaction.atomic
def day_set(*, day: date, is_workday: bool, name: str, actor: User) -> CalendarDay:
    """Set one date to a working day or a day off, with its name (e.g. 国庆节, 调休上班).

    A date of a year without data creates that year as incomplete (source ``edited``): the
    edited day is exact, the rest of the year stays estimated until it is imported or seeded.
    Saving the same values again changes nothing and records nothing.
    """
    _require_editor(actor)
    check_year(day.year)
    name = name.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise RecoupError(_("名称不能超过 %(max)s 个字。") % {"max": MAX_NAME_LENGTH})
    calendar_year, _created = CalendarYear.objects.get_or_create(
        year=day.year, defaults={"source": Source.EDITED, "updated_by": actor}
    )
    row = CalendarDay.objects.filter(date=day).first()
    before = None if row is None else _snapshot(row)
    if row is None:
        row = CalendarDay(
            calendar_year=calendar_year,
            date=day,
            is_workday=is_workday,
            name=name,
            source=Source.EDITED,
            updated_by=actor,
        )
        try:
            row.full_clean()
        except ValidationError as exc:
            raise RecoupError("; ".join(exc.messages)) from exc
        row.save()
        if CalendarDay.objects.filter(calendar_year=calendar_year).count() == days_in_year(
            day.year
        ):
            calendar_year.complete = True
            calendar_year.save(update_fields=["complete"])
    else:
        if row.is_workday == is_workday and row.name == name:
            return row
        row.is_workday, row.name, row.source, row.updated_by = (
            is_workday,
            name,
            Source.EDITED,
            actor,
        )
        row.save(update_fields=["is_workday", "name", "source", "updated_by"])
    audit_record(
        action="workdays.day.edited",
        actor=actor,
        organisation=actor.organisation_id,
        object_type="calendar_day",
        object_id=day.isoformat(),
        data={"date": day, "before": before, "after": _snapshot(row)},
    )
    return row


@transaction.atomic
def year_import(*, year: int, file: IO[bytes], file_name: str, actor: User) -> ImportResult:
    """Load a year's schedule from a CSV or XLSX (columns date, is_workday, name).

    Listed days override whatever is stored, whatever its source. Days the file does not
    list keep their stored data, and days without data default to the weekend rule, so a
    file of only the holidays and make-up days makes a complete year. The file is checked
    in full first; any problem raises ``RecoupError`` naming the rows and changes nothing.
    """
    _require_editor(actor)
    check_year(year)
    if hasattr(file, "seek"):
        file.seek(0)
    data = file.read(MAX_FILE_BYTES + 1)  # enough to refuse an oversized file
    listed = {item.date: item for item in read_year_file(year=year, data=data, file_name=file_name)}
    calendar_year, _created = CalendarYear.objects.get_or_create(
        year=year, defaults={"source": Source.IMPORTED, "updated_by": actor}
    )
    existing = {
        row.date: row
        for row in CalendarDay.objects.filter(
            date__gte=date(year, 1, 1), date__lte=date(year, 12, 31)
        )
    }
    stamp = now()
    to_create: list[CalendarDay] = []
    to_update: list[CalendarDay] = []
    changes: list[dict[str, Any]] = []
    workdays = 0
    for day in _year_dates(year):
        item = listed.get(day)
        row = existing.get(day)
        if item is not None:
            is_workday = item.is_workday
            name = item.name or (MAKEUP_WORKDAY_NAME if is_workday and day.weekday() >= 5 else "")
            if row is None:
                to_create.append(
                    CalendarDay(
                        calendar_year=calendar_year,
                        date=day,
                        is_workday=is_workday,
                        name=name,
                        source=Source.IMPORTED,
                        updated_by=actor,
                    )
                )
            else:
                if (row.is_workday, row.name) != (is_workday, name):
                    changes.append(
                        {"date": day, "before": _snapshot(row), "after": [is_workday, name]}
                    )
                row.is_workday, row.name, row.source = is_workday, name, Source.IMPORTED
                row.updated_by, row.updated_at = actor, stamp
                to_update.append(row)
        elif row is None:
            is_workday = weekend_rule(day)
            to_create.append(
                CalendarDay(
                    calendar_year=calendar_year,
                    date=day,
                    is_workday=is_workday,
                    name="",
                    source=Source.IMPORTED,
                    updated_by=actor,
                )
            )
        else:
            is_workday = row.is_workday
        workdays += is_workday
    CalendarDay.objects.bulk_create(to_create)
    CalendarDay.objects.bulk_update(to_update, _DAY_FIELDS)
    calendar_year.source = Source.IMPORTED
    calendar_year.complete = True
    calendar_year.note = _("导入文件：%(name)s") % {"name": file_name[:150]}
    calendar_year.updated_by = actor
    calendar_year.save(update_fields=["source", "complete", "note", "updated_by"])
    result = ImportResult(
        year=year,
        rows=len(listed),
        created=len(to_create),
        changed=len(changes),
        workdays=workdays,
    )
    audit_record(
        action="workdays.year.imported",
        actor=actor,
        organisation=actor.organisation_id,
        object_type="calendar_year",
        object_id=year,
        data={
            "year": year,
            "file_name": file_name,
            "sha256": hashlib.sha256(data).hexdigest(),
            "rows": result.rows,
            "created": result.created,
            "workdays": result.workdays,
            "changes": changes,
        },
    )
    return result


@transaction.atomic
def year_seed(*, year: int, actor: User | None) -> SeedResult:
    """(Re)load a year from chinese-calendar, leaving imported and edited days alone.

    Running it twice changes nothing the second time (and records nothing). A year the
    package does not know raises ``RecoupError`` (code ``year_not_in_package``).
    ``actor`` is None for the system (the management command).
    """
    if actor is not None:
        _require_editor(actor)
    check_year(year)
    try:
        days = package_days(year)
    except YearNotInPackage as exc:
        raise RecoupError(
            _("chinese-calendar 没有 %(year)s 年的放假安排，已跳过；请导入该年的日历文件。")
            % {"year": year},
            code="year_not_in_package",
        ) from exc
    calendar_year, year_created = CalendarYear.objects.get_or_create(
        year=year, defaults={"source": Source.SEEDED, "complete": True}
    )
    existing = {row.date: row for row in CalendarDay.objects.filter(calendar_year=calendar_year)}
    stamp = now()
    to_create: list[CalendarDay] = []
    to_update: list[CalendarDay] = []
    kept = 0
    for item in days:
        row = existing.get(item.date)
        if row is None:
            to_create.append(
                CalendarDay(
                    calendar_year=calendar_year,
                    date=item.date,
                    is_workday=item.is_workday,
                    name=item.name,
                    source=Source.SEEDED,
                    updated_by=actor,
                )
            )
        elif row.source != Source.SEEDED:
            kept += 1
        elif (row.is_workday, row.name) != (item.is_workday, item.name):
            row.is_workday, row.name = item.is_workday, item.name
            row.updated_by, row.updated_at = actor, stamp
            to_update.append(row)
    CalendarDay.objects.bulk_create(to_create)
    CalendarDay.objects.bulk_update(to_update, _DAY_FIELDS)
    year_fields: list[str] = []
    if not calendar_year.complete:
        calendar_year.complete = True
        year_fields.append("complete")
    if calendar_year.source == Source.EDITED:
        # A year that had only hand-edited days is now the package's, with those days kept.
        calendar_year.source = Source.SEEDED
        year_fields.append("source")
    if year_fields:
        calendar_year.save(update_fields=year_fields)
    result = SeedResult(year=year, created=len(to_create), updated=len(to_update), kept=kept)
    if year_created or year_fields or to_create or to_update:
        audit_record(
            action="workdays.year.seeded",
            actor=actor,
            organisation=actor.organisation_id if actor else None,
            object_type="calendar_year",
            object_id=year,
            data={
                "year": year,
                "created": result.created,
                "updated": [d.date for d in to_update],
                "kept": result.kept,
            },
        )
    return result

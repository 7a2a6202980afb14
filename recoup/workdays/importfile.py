"""Reading an administrator's file of one year's schedule (CSV or XLSX) into checked rows.

The file lists the days that differ from an ordinary week, or every day of the year::

    date,is_workday,name
    2027-01-01,0,元旦
    2027-02-06,1,调休上班

Headers may be English or Chinese (``日期``, ``是否工作日``/``上班``, ``名称``/``说明``).
``is_workday`` accepts 1/0, 是/否, 上班/休息, true/false, workday/holiday (and a few
synonyms, see ``WORKDAY_VALUES``). Everything is checked before anything is written: any
problem refuses the whole file with messages that name the row as Excel or WPS shows it
(the header is row 1, so the first data row is row 2).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass
from typing import Any, Final

import polars as pl
import python_calamine
from django.utils.translation import gettext as _

from recoup.core.exceptions import RecoupError

MAX_FILE_BYTES: Final = 2 << 20  # a year is at most 366 rows: anything bigger is not this file
MAX_NAME_LENGTH: Final = 50  # CalendarDay.name
MAX_PROBLEMS_SHOWN: Final = 10

HEADER_ALIASES: Final[dict[str, str]] = {
    "date": "date",
    "日期": "date",
    "is_workday": "is_workday",
    "workday": "is_workday",
    "是否工作日": "is_workday",
    "工作日": "is_workday",
    "是否上班": "is_workday",
    "上班": "is_workday",
    "name": "name",
    "名称": "name",
    "节日": "name",
    "说明": "name",
    "备注": "name",
}

WORKDAY_VALUES: Final[dict[str, bool]] = {
    "1": True,
    "0": False,
    "是": True,
    "否": False,
    "上班": True,
    "休息": False,
    "班": True,
    "休": False,
    "工作日": True,
    "节假日": False,
    "休息日": False,
    "true": True,
    "false": False,
    "yes": True,
    "no": False,
    "workday": True,
    "holiday": False,
}

_DATE_PATTERNS: Final = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)


@dataclass(frozen=True)
class ImportedDay:
    row: int
    date: dt.date
    is_workday: bool
    name: str


def _cell_text(value: Any) -> str:
    """A cell as text: XLSX numbers 1.0 become "1", dates ISO, None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def _read_rows(data: bytes, file_name: str) -> list[list[str]]:
    """The file as rows of text, the header first; blank rows kept so numbering matches."""
    is_xlsx = data[:4] == b"PK\x03\x04" or file_name.lower().endswith((".xlsx", ".xlsm"))
    if is_xlsx:
        try:
            workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
            raw = workbook.get_sheet_by_index(0).to_python(skip_empty_area=False)
        except Exception as exc:  # calamine raises several unrelated types for a bad workbook
            raise RecoupError(_("无法读取该 XLSX 文件，请确认文件未损坏且未加密。")) from exc
        return [[_cell_text(v) for v in r] for r in raw]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")  # WPS and Excel on Chinese Windows save GBK CSVs
        except UnicodeDecodeError as exc:
            raise RecoupError(_("无法识别文件编码，请另存为 UTF-8 编码的 CSV。")) from exc
    try:
        frame = pl.read_csv(
            io.StringIO(text), has_header=False, infer_schema=False, truncate_ragged_lines=False
        )
    except pl.exceptions.NoDataError:
        return []
    except pl.exceptions.PolarsError as exc:
        raise RecoupError(_("无法读取该 CSV 文件：各行的列数不一致或格式错误。")) from exc
    return [[_cell_text(v) for v in r] for r in frame.iter_rows()]


def parse_date(text: str) -> dt.date | None:
    for pattern in _DATE_PATTERNS:
        if match := pattern.match(text):
            try:
                return dt.date(*(int(g) for g in match.groups()))
            except ValueError:
                return None
    return None


def read_year_file(*, year: int, data: bytes, file_name: str) -> list[ImportedDay]:
    """Check the whole file and return its rows; raises ``RecoupError`` naming the bad rows."""
    if len(data) > MAX_FILE_BYTES:
        raise RecoupError(_("文件过大：一年的日历文件不应超过 2 MB。"))
    rows = _read_rows(data, file_name)
    while rows and not any(rows[-1]):
        rows.pop()
    if not rows or not any(rows[0]):
        raise RecoupError(_("文件为空：第 1 行应为表头 date, is_workday, name。"))
    columns: dict[str, int] = {}
    for index, header in enumerate(rows[0]):
        key = HEADER_ALIASES.get(header.strip().lower())
        if key and key not in columns:
            columns[key] = index
    missing = [c for c in ("date", "is_workday") if c not in columns]
    if missing:
        raise RecoupError(
            _("第 1 行（表头）缺少列：%(columns)s。") % {"columns": _("、").join(missing)}
        )
    problems: list[str] = []
    days: list[ImportedDay] = []
    seen: dict[dt.date, int] = {}

    def cell(values: list[str], key: str) -> str:
        index = columns.get(key)
        return values[index].strip() if index is not None and index < len(values) else ""

    for number, values in enumerate(rows[1:], start=2):
        if not any(values):
            continue
        raw_date, raw_flag, name = (
            cell(values, "date"),
            cell(values, "is_workday"),
            cell(values, "name"),
        )
        day = parse_date(raw_date)
        row_problems: list[str] = []
        if day is None:
            row_problems.append(
                _("日期“%(value)s”无法识别（请写成 2027-01-01）") % {"value": raw_date}
            )
        elif day.year != year:
            row_problems.append(
                _("日期 %(date)s 不在 %(year)s 年内") % {"date": day.isoformat(), "year": year}
            )
        elif day in seen:
            row_problems.append(
                _("日期 %(date)s 与第 %(first)s 行重复")
                % {"date": day.isoformat(), "first": seen[day]}
            )
        else:
            seen[day] = number
        flag = WORKDAY_VALUES.get(raw_flag.lower())
        if flag is None:
            row_problems.append(
                _(
                    "is_workday 的值“%(value)s”无法识别"
                    "（可填 1/0、是/否、上班/休息、true/false、workday/holiday）"
                )
                % {"value": raw_flag}
            )
        if len(name) > MAX_NAME_LENGTH:
            row_problems.append(_("名称超过 %(max)s 个字") % {"max": MAX_NAME_LENGTH})
        if row_problems:
            problems.append(
                _("第 %(row)s 行：%(problems)s")
                % {"row": number, "problems": _("；").join(row_problems)}
            )
            continue
        assert day is not None
        assert flag is not None
        days.append(ImportedDay(number, day, flag, name))
    if problems:
        shown = problems[:MAX_PROBLEMS_SHOWN]
        if len(problems) > len(shown):
            shown.append(_("另有 %(count)s 行有错误。") % {"count": len(problems) - len(shown)})
        raise RecoupError(
            _("文件有错误，日历未做任何修改。%(problems)s") % {"problems": " ".join(shown)},
            code="invalid_file",
        )
    if not days:
        raise RecoupError(_("文件中没有数据行：第 2 行起每行一个日期。"), code="invalid_file")
    return days

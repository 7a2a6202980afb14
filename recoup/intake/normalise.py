"""Normalising the cells of a bank's case file, one value at a time or a whole column at once.

Every normaliser exists twice:

- a **scalar** function, ``parse_amount(value) -> Decimal`` and so on. It is the reference
  implementation. The single-row paths use it: corrections in the UI and re-submitted
  quarantined rows. It raises ``CellError`` with a stable ``code``.
- a **vectorised** function over a polars ``String`` series, ``parse_amount_series(series)``,
  for the million-row import. It returns ``(values, error_codes)``, two series aligned with
  the input. ``values`` is null where the cell is bad. ``error_codes`` is null where the cell
  is fine and holds the same code that the scalar function would raise otherwise. It runs no
  Python per row: only polars expressions (regexes, slicing, integer arithmetic).

The tests check on every input of every table, and on random strings, that both versions
agree (same value, same error code). A rule changed in one must change in the other.

Shared rules for the ``parse_*`` functions:

- Full-width characters are folded first (``halfwidth``). Then the value is stripped of
  spaces, tabs, line breaks, no-break and zero-width spaces and a stray BOM.
- ``None``, null, the empty string and the placeholders in ``BLANK_TOKENS`` ("-", "/", "无",
  "NULL", …) are **"empty"**. It is up to the caller whether an empty cell is an error: for
  an optional column, drop the "empty" code and keep the null value.
- Error params never contain the cell's value: the values are personal data, and the
  validation report shows them masked next to the message (docs/code-style.md).
- Amounts in series form are **Int64 cents**, exact and fast for COPY. ``cents_to_decimal``
  and ``cents_to_decimal_series`` turn them into ``Decimal`` with 2 places (ADR 0004). Parsing
  through ``Float64`` would round some cents wrongly, so it is never used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal

import polars as pl
from django.utils.translation import gettext, gettext_noop

from recoup.core.identity import ID_CHECK, ID_WEIGHTS, IdentifierError, normalise_id_number
from recoup.core.money import to_money

# --- errors ----------------------------------------------------------------------------------

MESSAGES: dict[str, str] = {
    "empty": gettext_noop("必填项为空"),
    "amount_invalid": gettext_noop("金额无法识别：应为数字，可带千分位逗号、¥ 或“元”"),
    "amount_negative": gettext_noop("金额不能为负数"),
    "amount_too_large": gettext_noop("金额超过上限 %(limit)s"),
    "date_invalid": gettext_noop(
        "日期无法识别：应为 2026-11-01、2026/11/1、2026.11.1、20261101、"
        "2026年11月1日或 Excel 日期序号"
    ),
    "date_in_future": gettext_noop("日期不能晚于今天"),
    "date_too_old": gettext_noop("日期不能早于 1950 年 1 月 1 日"),
    "integer_invalid": gettext_noop("应为整数"),
    "overdue_days_invalid": gettext_noop("逾期天数应在 0 到 20000 之间"),
    "stage_invalid": gettext_noop("逾期阶段无法识别：应为 M1 至 M5 或 M6+（也可写 3 或“逾期3期”）"),
    "id_number_invalid": gettext_noop("证件号码应为 18 位（17 位数字加 1 位校验码），或 15 位旧号"),
    "id_checksum": gettext_noop("证件号码校验位不符（GB 11643）"),
    "phone_invalid": gettext_noop("电话号码无法识别：应为 11 位手机号，或带区号的固定电话"),
    "text_too_long": gettext_noop("文本超过 %(max_len)s 个字符"),
}
"""Stable error codes and their Simplified-Chinese source messages (translated at render)."""


def cell_error_message(code: str, params: Mapping[str, str] | None = None) -> str:
    """The translated message for an error code.

    Series callers only get codes back; they rebuild the message with the same params they
    passed to the normaliser (``limit`` for "amount_too_large", ``max_len`` for
    "text_too_long"), e.g. through ``CellError(code, params).message()``.
    """
    return gettext(MESSAGES[code]) % dict(params or {})


class CellError(ValueError):
    """A cell that cannot be normalised; ``code`` is one of ``MESSAGES``."""

    def __init__(self, code: str, params: Mapping[str, str] | None = None) -> None:
        if code not in MESSAGES:
            raise KeyError(f"unknown cell error code {code!r}")
        super().__init__(code)
        self.code = code
        self.params: dict[str, str] = dict(params or {})

    def message(self) -> str:
        """The message in the active language."""
        return cell_error_message(self.code, self.params)


# --- shared cleaning -------------------------------------------------------------------------

# U+FF01..U+FF5E are the full-width forms of ASCII "!".."~"; U+3000 is the ideographic space.
# "。" and "￥" have no ASCII twin in that block but show up in amounts typed on Chinese
# keyboards.
_HALFWIDTH: dict[str, str] = {chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)} | {
    "\u3000": " ",
    "。": ".",
    "￥": "¥",
}
_HALFWIDTH_TABLE = str.maketrans(_HALFWIDTH)
_HALFWIDTH_FROM = list(_HALFWIDTH)
_HALFWIDTH_TO = list(_HALFWIDTH.values())

# Characters stripped from both ends of a value before parsing. Listed explicitly rather than
# "\s" so that Python's re and polars (Rust regex) treat exactly the same characters alike.
_STRIP = " \t\n\r\v\f\u00a0\u2009\u202f\u200b\ufeff"

BLANK_TOKENS: frozenset[str] = frozenset(
    {"", "-", "--", "—", "——", "/", "无", "null", "none", "n/a", "nan"}
)
"""Placeholders that banks' systems write for "no value" (compared lower-case, stripped)."""


def _case_variants(token: str) -> set[str]:
    variants = {""}
    for char in token:
        variants = {v + c for v in variants for c in {char, char.upper()}}
    return variants


# Every upper/lower-case spelling of the tokens: an exact look-up is 25-100× cheaper in polars
# than lower-casing the whole column, and it is the same test as ``lower() in BLANK_TOKENS``
# because no non-ASCII character lower-cases to a letter of these tokens.
_BLANK_SPELLINGS = frozenset(set().union(*(_case_variants(token) for token in BLANK_TOKENS)))
_BLANK_SPELLINGS_LIST = sorted(_BLANK_SPELLINGS)

# Patterns are written in the common subset of Python's re and Rust's regex crate: [0-9]
# instead of \d (both would accept other scripts' digits), \xhh and \uhhhh escapes, no
# look-around and no back-references.
_SP = r"[ \u00a0\u2009\u202f]*"
_GROUP_SEP = r"[, \u00a0\u2009\u202f]"
_INT = rf"[0-9]{{1,3}}(?:{_GROUP_SEP}[0-9]{{3}})+|[0-9]+"
_NEGATIVE_SIGNS = ("-", "\u2212")

_GROUP_SEP_RE = re.compile(_GROUP_SEP)


def halfwidth(value: str) -> str:
    """Fold full-width digits, letters and punctuation (（）：，－＋％ …), "。" and U+3000."""
    return value.translate(_HALFWIDTH_TABLE)


def halfwidth_series(series: pl.Series) -> pl.Series:
    """``halfwidth`` over a column (nulls stay null). Nothing can fail, so no error series."""
    return series.cast(pl.String).str.replace_many(_HALFWIDTH_FROM, _HALFWIDTH_TO)


def _prepare(value: str | None) -> str:
    """Half-width and stripped text, or raise "empty"."""
    if value is None:
        raise CellError("empty")
    text = halfwidth(value).strip(_STRIP)
    if text in _BLANK_SPELLINGS:
        raise CellError("empty")
    return text


def _prepared(series: pl.Series) -> pl.LazyFrame:
    """Frame with ``t`` (half-width, stripped) and ``blank``, the series part of ``_prepare``."""
    t = pl.col("v").str.replace_many(_HALFWIDTH_FROM, _HALFWIDTH_TO).str.strip_chars(_STRIP)
    return (
        series.cast(pl.String)
        .rename("v")
        .to_frame()
        .lazy()
        .with_columns(t=t)
        .with_columns(blank=pl.col("t").is_null() | pl.col("t").is_in(_BLANK_SPELLINGS_LIST))
    )


def _result(
    frame: pl.LazyFrame, name: str, value: pl.Expr, error: pl.Expr
) -> tuple[pl.Series, pl.Series]:
    """Collect (value, error) and null the value wherever there is an error."""
    out = (
        frame.with_columns(error=error)
        .select(
            pl.when(pl.col("error").is_null()).then(value).alias(name),
            pl.col("error").alias(f"{name}_error"),
        )
        .collect()
    )
    return out.to_series(0), out.to_series(1)


# --- text ------------------------------------------------------------------------------------

TEXT_MAX_LEN = 200

# Control characters (C0 and C1, except the whitespace ones), zero-width characters and the
# bidirectional overrides that can make a name display differently from what is stored.
_INVISIBLE = (
    r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f"
    r"\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
_SPACES_BUT_SPACE = r"\t\n\x0b\x0c\r\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# A run of whitespace that is not already a single " ": the single spaces of ordinary text
# are not matches, which halves the cost of the replacement in polars.
_WHITESPACE = rf"[{_SPACES_BUT_SPACE}][ {_SPACES_BUT_SPACE}]*| [ {_SPACES_BUT_SPACE}]+"
_INVISIBLE_RE = re.compile(_INVISIBLE)
_WHITESPACE_RE = re.compile(_WHITESPACE)


def clean_text(value: str | None, max_len: int = TEXT_MAX_LEN) -> str:
    """Names, addresses, employers: invisible characters removed, whitespace collapsed.

    Chinese punctuation is kept as typed (no ``halfwidth``): "（" in a company name is part of
    the name. Runs of whitespace, including U+3000 and line breaks, become one space.
    Placeholders such as "无" are kept: in free text they may be meant. The length is counted
    in characters after cleaning.
    """
    if value is None:
        raise CellError("empty")
    text = _WHITESPACE_RE.sub(" ", _INVISIBLE_RE.sub("", value)).strip(" ")
    if not text:
        raise CellError("empty")
    if len(text) > max_len:
        raise CellError("text_too_long", {"max_len": str(max_len)})
    return text


def clean_text_series(
    series: pl.Series, max_len: int = TEXT_MAX_LEN
) -> tuple[pl.Series, pl.Series]:
    """``clean_text`` over a column."""
    t = (
        pl.col("v")
        .str.replace_all(_INVISIBLE, "")
        .str.replace_all(_WHITESPACE, " ")
        .str.strip_chars(" ")
    )
    frame = series.cast(pl.String).rename("v").to_frame().lazy().with_columns(t=t)
    error = (
        pl.when(pl.col("t").is_null() | (pl.col("t") == ""))
        .then(pl.lit("empty"))
        .when(pl.col("t").str.len_chars() > max_len)
        .then(pl.lit("text_too_long"))
    )
    return _result(frame, series.name, pl.col("t"), error)


# --- amounts ---------------------------------------------------------------------------------

AMOUNT_LIMIT = Decimal("100000000")
_MAX_WHOLE_DIGITS = 16  # limits are capped below 10**15, so 16 digits are always too large
_SIGN = r"([-+\u2212])"
_CURRENCY = r"(?:¥|人民币|(?i:RMB|CNY))"
# Groups: 1 "(", 2 sign before the currency, 3 sign after it, 4 whole part, 5 decimals,
# 6 decimals of ".5", 7 ")".
_AMOUNT = (
    rf"^(\()?{_SP}(?:{_SIGN}{_SP}{_CURRENCY}?|{_CURRENCY}{_SP}{_SIGN}?)?{_SP}"
    rf"(?:({_INT})(?:\.([0-9]*))?|\.([0-9]+)){_SP}(?:元整?|(?i:RMB|CNY))?{_SP}(\))?$"
)
_AMOUNT_RE = re.compile(_AMOUNT)
# Everything but digits and the decimal point that a value matching _AMOUNT may contain.
_AMOUNT_NOISE = [",", " ", "\u00a0", "\u2009", "\u202f", "¥", "人民币", "RMB", "CNY", "元", "整"]
_AMOUNT_NOISE += ["(", ")", "+", *_NEGATIVE_SIGNS]


def _limit_cents(limit: Decimal) -> int:
    cents = int(to_money(limit) * 100)
    if not 0 <= cents < 10**17:
        raise ValueError("the amount limit must be between 0 and 10**15")
    return cents


def cents_to_decimal(cents: int) -> Decimal:
    """Cents as a ``Decimal`` with exactly 2 places: 123450 → Decimal("1234.50")."""
    return Decimal(cents).scaleb(-2)


def cents_to_decimal_series(cents: pl.Series) -> pl.Series:
    """Int64 cents as polars ``Decimal(38, 2)``; exact, since a cent is 10**-2."""
    return cents.cast(pl.Decimal(38, 2)) / 100


def parse_amount(value: str | None, *, limit: Decimal = AMOUNT_LIMIT) -> Decimal:
    """A money amount as ``Decimal`` with 2 places, rounded half up (ADR 0004).

    Accepted: "1234.5", "1,234.50" and "1 234.50" (groups of exactly three digits, so that
    "1234,50" written with a decimal comma is refused rather than read as 123450), ".5",
    full-width digits, a currency mark before ("¥", "￥", "RMB", "CNY", "人民币") or after
    ("元", "元整", "RMB", "CNY"), a leading "+". More than two decimals round half up.

    Refused: any minus sign or accounting parentheses "(5.00)" → "amount_negative";
    scientific notation such as "1e5" or "1.23457E+11" → "amount_invalid", because Excel only
    writes that for a number it has already rounded to 6 significant digits; more than
    ``limit`` (inclusive bound, default 100,000,000.00) → "amount_too_large".
    """
    limit_cents = _limit_cents(limit)
    match = _AMOUNT_RE.fullmatch(_prepare(value))
    if match is None:
        raise CellError("amount_invalid")
    opened, sign_before, sign_after, whole, decimals, only_decimals, closed = match.groups()
    if (opened is None) != (closed is None):
        raise CellError("amount_invalid")
    if opened is not None or sign_before in _NEGATIVE_SIGNS or sign_after in _NEGATIVE_SIGNS:
        raise CellError("amount_negative")
    whole = _GROUP_SEP_RE.sub("", whole or "").lstrip("0") or "0"
    too_large = CellError("amount_too_large", {"limit": f"{cents_to_decimal(limit_cents):,}"})
    if len(whole) > _MAX_WHOLE_DIGITS:
        raise too_large
    amount = to_money(Decimal(f"{whole}.{decimals or only_decimals or '0'}"))
    if amount > cents_to_decimal(limit_cents):
        raise too_large
    return amount


def parse_amount_series(
    series: pl.Series, *, limit: Decimal = AMOUNT_LIMIT
) -> tuple[pl.Series, pl.Series]:
    """``parse_amount`` over a column; values are **Int64 cents**.

    Cents are computed from the digits as strings: whole part × 100 + the first two decimals,
    plus one when the third decimal is 5 or more. That is half-up rounding, exact at any
    length, without going through a float.
    """
    limit_cents = _limit_cents(limit)
    t = pl.col("t")
    number = pl.col("number")
    point = pl.col("point")
    frame = (
        _prepared(series)
        .with_columns(
            # A match test without capture groups is ~10× cheaper than extracting them; once
            # the shape is known, the digits are what is left after removing everything else.
            matched=t.str.contains(_AMOUNT) & (t.str.starts_with("(") == t.str.ends_with(")")),
            negative=t.str.starts_with("(") | t.str.contains_any(list(_NEGATIVE_SIGNS)),
            number=t.str.replace_many(_AMOUNT_NOISE, [""], ascii_case_insensitive=True),
        )
        .with_columns(point=number.str.find(".", literal=True))
        .with_columns(
            whole=pl.when(point.is_null())
            .then(number)
            .otherwise(number.str.slice(0, point))
            .str.strip_chars_start("0"),
            cents3=pl.concat_str(
                number.str.slice(point + 1).fill_null(""), pl.lit("000")
            ).str.slice(0, 3),
        )
        .with_columns(
            cents=pl.col("whole").replace("", "0").cast(pl.Int64, strict=False) * 100
            + pl.col("cents3").str.slice(0, 2).cast(pl.Int64, strict=False)
            + (pl.col("cents3").str.slice(2, 1) >= "5").cast(pl.Int64),
        )
    )
    error = (
        pl.when(pl.col("blank"))
        .then(pl.lit("empty"))
        .when(~pl.col("matched"))
        .then(pl.lit("amount_invalid"))
        .when(pl.col("negative"))
        .then(pl.lit("amount_negative"))
        .when(
            (pl.col("whole").str.len_chars() > _MAX_WHOLE_DIGITS) | (pl.col("cents") > limit_cents)
        )
        .then(pl.lit("amount_too_large"))
    )
    return _result(frame, series.name, pl.col("cents"), error)


# --- dates -----------------------------------------------------------------------------------

EARLIEST_DATE = date(1950, 1, 1)
_EXCEL_EPOCH_SERIAL = 25569  # Excel serial of 1970-01-01 in the 1900 date system
_TIME = r"(?:[ T]+(?:[01]?[0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,9})?)?)?"
_Y = r"([1-9][0-9]{3})"
_MD = r"([0-9]{1,2})"
# Groups: 1-3 "Y-M-D", 4-6 "Y/M/D", 7-9 "Y.M.D", 10-12 "YYYYMMDD", 13-15 "Y年M月D日",
# 16 an Excel serial number.
_DATE = (
    rf"^(?:{_Y}-{_MD}-{_MD}|{_Y}/{_MD}/{_MD}|{_Y}\.{_MD}\.{_MD}|{_Y}([0-9]{{2}})([0-9]{{2}})"
    rf"|{_Y} *年 *{_MD} *月 *{_MD} *[日号]?){_TIME}$|^([0-9]{{1,5}})(?:\.[0-9]+)?$"
)
_DATE_RE = re.compile(_DATE)


def _excel_serial_date(serial: int) -> date | None:
    """Excel's 1900 date system, bug included.

    Excel counts 1900-01-01 as 1 and, like Lotus 1-2-3, believes 1900 was a leap year: serial
    60 is the non-existent 1900-02-29 (refused) and serials from 61 are one day ahead of a
    plain count, hence the base 1899-12-30 for them. Serial 0 is "1900-01-00" (refused). The
    1904 system of old Mac workbooks is not supported.
    """
    if serial in (0, 60):
        return None
    return date.fromordinal(date(1899, 12, 31 if serial < 60 else 30).toordinal() + serial)


def parse_date(value: str | None, *, today: date, allow_future: bool = False) -> date:
    """A calendar date.

    Accepted: 2026-11-01, 2026/11/1, 2026.11.1 (one separator throughout, 1- or 2-digit month
    and day), 20261101, 2026年11月1日 (ending in 日, 号 or nothing; spaces allowed), each
    optionally followed by a time "13:45" or "13:45:00[.fff]" after a space or "T" (the time
    is dropped), and Excel serial numbers of 1-5 digits with an optional fraction ("45962",
    "45962.0", "45962.75").
    Two-digit years and day-first orders (01/11/2026) are refused: they are ambiguous.

    Dates before 1950-01-01 are "date_too_old" (a 4-digit number such as "2026" is read as an
    Excel serial and lands in 1905). Dates after ``today`` are "date_in_future" unless
    ``allow_future`` (for columns such as the end of the entrustment). ``today`` is passed in
    (local date from ``recoup.core.clock``) so that one import uses one day throughout.
    """
    match = _DATE_RE.fullmatch(_prepare(value))
    if match is None:
        raise CellError("date_invalid")
    groups = match.groups()
    parsed: date | None
    if groups[15] is not None:
        parsed = _excel_serial_date(int(groups[15]))
    else:
        year, month, day = next(groups[i : i + 3] for i in range(0, 15, 3) if groups[i] is not None)
        try:
            parsed = date(int(year), int(month), int(day))
        except ValueError:
            parsed = None
    if parsed is None:
        raise CellError("date_invalid")
    if parsed < EARLIEST_DATE:
        raise CellError("date_too_old")
    if parsed > today and not allow_future:
        raise CellError("date_in_future")
    return parsed


def parse_date_series(
    series: pl.Series, *, today: date, allow_future: bool = False
) -> tuple[pl.Series, pl.Series]:
    """``parse_date`` over a column; values are ``pl.Date``."""
    g = pl.col("m").struct.field

    def part(offset: int) -> pl.Expr:
        return pl.coalesce([g(str(offset + i)) for i in range(1, 16, 3)])

    serial = pl.col("serial")
    frame = (
        _prepared(series)
        .with_columns(m=pl.col("t").str.extract_groups(_DATE))
        .with_columns(
            ymd=pl.concat_str(
                part(0), pl.lit("-"), part(1).str.zfill(2), pl.lit("-"), part(2).str.zfill(2)
            ),
            serial=g("16").cast(pl.Int64, strict=False),
        )
        .with_columns(
            d=pl.coalesce(
                pl.col("ymd").str.to_date("%Y-%m-%d", strict=False),
                pl.when((serial > 0) & (serial != 60))
                .then(serial - _EXCEL_EPOCH_SERIAL + (serial < 60).cast(pl.Int64))
                .cast(pl.Int32)
                .cast(pl.Date),
            )
        )
    )
    error = (
        pl.when(pl.col("blank"))
        .then(pl.lit("empty"))
        .when(pl.col("d").is_null())
        .then(pl.lit("date_invalid"))
        .when(pl.col("d") < EARLIEST_DATE)
        .then(pl.lit("date_too_old"))
        .when(pl.lit(not allow_future) & (pl.col("d") > today))
        .then(pl.lit("date_in_future"))
    )
    return _result(frame, series.name, pl.col("d"), error)


# --- integers, overdue days, stage -----------------------------------------------------------

OVERDUE_DAYS_MAX = 20000
_MAX_INT_DIGITS = 18  # fits Int64 with room to spare
# Groups: 1 sign, 2 digits (thousands separators allowed), then an optional ".0" from Excel.
_INTEGER = rf"^{_SIGN}?{_SP}({_INT})(?:\.0*)?$"
_INTEGER_RE = re.compile(_INTEGER)
_INTEGER_NOISE = [",", " ", "\u00a0", "\u2009", "\u202f", "+", *_NEGATIVE_SIGNS]


def _parse_int_text(text: str) -> int:
    match = _INTEGER_RE.fullmatch(text)
    if match is None:
        raise CellError("integer_invalid")
    sign, digits = match.groups()
    digits = _GROUP_SEP_RE.sub("", digits).lstrip("0") or "0"
    if len(digits) > _MAX_INT_DIGITS:
        raise CellError("integer_invalid")
    return -int(digits) if sign in _NEGATIVE_SIGNS else int(digits)


def parse_int(value: str | None) -> int:
    """A whole number: "42", "+42", "-42", "1,234", full-width digits, Excel's "42.0".

    "42.5", "1e3" and numbers of more than 18 digits are "integer_invalid".
    """
    return _parse_int_text(_prepare(value))


def parse_overdue_days(value: str | None) -> int:
    """Days overdue (逾期天数): an integer from 0 to 20000, optionally followed by "天".

    20000 days is about 55 years, beyond any debt a bank would place; more is a mistyped
    column (often a date serial), as is a negative number: both are "overdue_days_invalid".
    """
    days = _parse_int_text(_prepare(value).removesuffix("天").rstrip(" "))
    if not 0 <= days <= OVERDUE_DAYS_MAX:
        raise CellError("overdue_days_invalid")
    return days


def _int_frame(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Add ``n`` (Int64 or null) and ``int_ok`` parsed from ``t`` as ``_parse_int_text``."""
    t = pl.col("t")
    number = t.str.replace_many(_INTEGER_NOISE, [""])
    return frame.with_columns(
        matched=t.str.contains(_INTEGER),
        negative=t.str.contains_any(list(_NEGATIVE_SIGNS)),
        digits=number.str.slice(0, number.str.find(".", literal=True))
        .fill_null(number)
        .str.strip_chars_start("0"),
    ).with_columns(
        int_ok=pl.col("matched") & (pl.col("digits").str.len_chars() <= _MAX_INT_DIGITS),
        n=pl.col("digits").replace("", "0").cast(pl.Int64, strict=False)
        * pl.when(pl.col("negative")).then(-1).otherwise(1),
    )


def parse_int_series(series: pl.Series) -> tuple[pl.Series, pl.Series]:
    """``parse_int`` over a column; values are Int64."""
    frame = _int_frame(_prepared(series))
    error = (
        pl.when(pl.col("blank"))
        .then(pl.lit("empty"))
        .when(~pl.col("int_ok").fill_null(value=False))
        .then(pl.lit("integer_invalid"))
    )
    return _result(frame, series.name, pl.col("n"), error)


def parse_overdue_days_series(series: pl.Series) -> tuple[pl.Series, pl.Series]:
    """``parse_overdue_days`` over a column; values are Int64."""
    frame = _int_frame(
        _prepared(series).with_columns(pl.col("t").str.strip_suffix("天").str.strip_chars_end(" "))
    )
    error = (
        pl.when(pl.col("blank"))
        .then(pl.lit("empty"))
        .when(~pl.col("int_ok").fill_null(value=False))
        .then(pl.lit("integer_invalid"))
        .when((pl.col("n") < 0) | (pl.col("n") > OVERDUE_DAYS_MAX))
        .then(pl.lit("overdue_days_invalid"))
    )
    return _result(frame, series.name, pl.col("n"), error)


STAGES = ("M1", "M2", "M3", "M4", "M5", "M6+")
"""Overdue stages (逾期阶段): M1 = 1-30 days overdue, …, M6+ = 151 days or more."""
# Groups: 1 the number of months, 2 a "+" (only meaningful from 6 on).
_STAGE = r"^(?:M|逾期)?([0-9]{1,3})(\+)?期?$"
_STAGE_RE = re.compile(_STAGE)


def parse_stage(value: str | None) -> str:
    """An overdue stage, one of ``STAGES``.

    Accepted, case- and space-insensitive: "M3", "m3", "3", "3期", "逾期3期"; "M6", "M6+",
    "6+" and anything above 6 ("M7", "M12", "M7+") → "M6+". Refused: "M0" (not overdue),
    "M3+" (a range, not a stage), Chinese numerals ("逾期三期"), day ranges ("31-60天").
    """
    text = _prepare(value).upper().replace(" ", "")
    match = _STAGE_RE.fullmatch(text)
    if match is None:
        raise CellError("stage_invalid")
    months = int(match.group(1))
    if months >= 6:
        return "M6+"
    if months == 0 or match.group(2) is not None:
        raise CellError("stage_invalid")
    return f"M{months}"


def parse_stage_series(series: pl.Series) -> tuple[pl.Series, pl.Series]:
    """``parse_stage`` over a column; values are strings from ``STAGES``."""
    g = pl.col("m").struct.field
    months = pl.col("months")
    frame = (
        _prepared(series)
        .with_columns(
            m=pl.col("t").str.to_uppercase().str.replace_all(" ", "").str.extract_groups(_STAGE)
        )
        .with_columns(months=g("1").cast(pl.Int64, strict=False))
    )
    stage = (
        pl.when(months >= 6)
        .then(pl.lit("M6+"))
        .when((months >= 1) & g("2").is_null())
        .then(pl.concat_str(pl.lit("M"), months.cast(pl.String)))
    )
    error = (
        pl.when(pl.col("blank"))
        .then(pl.lit("empty"))
        .when(stage.is_null())
        .then(pl.lit("stage_invalid"))
    )
    return _result(frame.with_columns(stage=stage), series.name, pl.col("stage"), error)


# --- ID-card numbers -------------------------------------------------------------------------

_ID_SHAPE = r"^(?:[0-9]{15}|[0-9]{17}[0-9X])$"
_ID_SHAPE_RE = re.compile(_ID_SHAPE)
_ID18_RE = re.compile(r"[0-9]{17}[0-9X]")
_ID_SPACES = r"[ \t\u00a0\u2009\u202f]"
_ID_SPACES_RE = re.compile(_ID_SPACES)


def parse_id_number(value: str | None) -> str:
    """A PRC resident ID number (GB 11643) as 18 characters with an upper-case "X".

    Full-width digits and spaces anywhere are tolerated; 15-digit legacy numbers are converted
    (century "19" inserted, check character appended) by ``normalise_id_number``. Anything not
    shaped like 15 digits or 17 digits plus a digit or X is "id_number_invalid", including the
    "1.10105E+17" Excel writes for an ID stored as a number; a wrong check character is
    "id_checksum". The birth date and region inside are not checked, as in core.identity.
    """
    text = _ID_SPACES_RE.sub("", _prepare(value)).upper()
    # Checked here with [0-9] because normalise_id_number's \d also takes other scripts' digits.
    if _ID_SHAPE_RE.fullmatch(text) is None:
        raise CellError("id_number_invalid")
    try:
        return normalise_id_number(text)
    except IdentifierError:
        code = "id_checksum" if _ID18_RE.fullmatch(text) else "id_number_invalid"
        raise CellError(code) from None


def parse_id_number_series(series: pl.Series) -> tuple[pl.Series, pl.Series]:
    """``parse_id_number`` over a column; values are 18-character strings.

    The 17 leading digits are read as one Int64 (17 digits fit) and the GB 11643 weighted sum
    is taken digit by digit with integer division, which is cheaper than 17 string slices.
    """
    t = pl.col("t")
    n = pl.col("n")
    weighted = pl.sum_horizontal(
        (n // 10 ** (16 - i)) % 10 * weight for i, weight in enumerate(ID_WEIGHTS)
    )
    frame = (
        _prepared(series)
        .with_columns(t=pl.col("t").str.replace_all(_ID_SPACES, "").str.to_uppercase())
        .with_columns(shape_ok=t.str.contains(_ID_SHAPE), is15=t.str.len_chars() == 15)
        .with_columns(
            body=pl.when(pl.col("is15"))
            .then(pl.concat_str(t.str.slice(0, 6), pl.lit("19"), t.str.slice(6)))
            .otherwise(t.str.slice(0, 17))
        )
        .with_columns(n=pl.col("body").cast(pl.Int64, strict=False))
        .with_columns(
            check=(weighted % 11).replace_strict(
                dict(enumerate(ID_CHECK)), default=None, return_dtype=pl.String
            )
        )
    )
    error = (
        pl.when(pl.col("blank"))
        .then(pl.lit("empty"))
        .when(~pl.col("shape_ok"))
        .then(pl.lit("id_number_invalid"))
        .when(~pl.col("is15") & (t.str.slice(17, 1) != pl.col("check")))
        .then(pl.lit("id_checksum"))
    )
    return _result(frame, series.name, pl.concat_str(pl.col("body"), pl.col("check")), error)


# --- phones ----------------------------------------------------------------------------------

# An extension at the end ("转123", "分机 123", "ext. 123") is dropped: we dial the main line.
_EXTENSION = r"[ ]*(?:转|分机|(?i:ext)\.?)[ ]*[0-9]{1,6}$"
_EXTENSION_RE = re.compile(_EXTENSION)
_PHONE_SEPARATORS = r"[ \t\u00a0\u2009\u202f\-\u2010-\u2015.()\[\]]"
_PHONE_SEPARATORS_RE = re.compile(_PHONE_SEPARATORS)
_MOBILE = r"^1[3-9][0-9]{9}$"
_MOBILE_RE = re.compile(_MOBILE)
_PREFIXED_MOBILE = r"^861[3-9][0-9]{9}$"
_PREFIXED_MOBILE_RE = re.compile(_PREFIXED_MOBILE)
# 010 and 02x are the only 3-digit area codes and their numbers have 8 digits; other areas
# have 4-digit codes and 7- or 8-digit numbers.
_PHONE = r"^(?:1[3-9][0-9]{9}|0(?:10|2[0-9])[0-9]{8}|0[3-9][0-9]{9,10})$"
_PHONE_RE = re.compile(_PHONE)


def parse_phone(value: str | None) -> str:
    """A mainland phone number as digits only.

    Mobiles: 1[3-9] and 9 more digits, optionally after "+86", "0086" or a bare "86".
    Landlines must carry their area code: "010-12345678" → "01012345678",
    "(0755) 8888-1234" → "075588881234"; "+86 10 12345678" regains its trunk "0".
    Spaces, dashes, dots and brackets anywhere are ignored; "转123" / "分机123" / "ext 123" at
    the end is dropped. Refused: numbers without an area code, 400/800 service numbers,
    other countries, an extension after a dash ("0755-88881234-8001": ambiguous with a split
    local number), two numbers in one cell.
    """
    text = _PHONE_SEPARATORS_RE.sub("", _EXTENSION_RE.sub("", _prepare(value)))
    international = text.startswith(("+86", "0086"))
    if international:
        text = text[3:] if text.startswith("+86") else text[4:]
    elif _PREFIXED_MOBILE_RE.fullmatch(text):
        text = text[2:]
    if international and not text.startswith("0") and not _MOBILE_RE.fullmatch(text):
        text = "0" + text
    if _PHONE_RE.fullmatch(text) is None:
        raise CellError("phone_invalid")
    return text


def parse_phone_series(series: pl.Series) -> tuple[pl.Series, pl.Series]:
    """``parse_phone`` over a column; values are digit strings."""
    t = pl.col("t")
    frame = (
        _prepared(series)
        .with_columns(t=t.str.replace(_EXTENSION, "").str.replace_all(_PHONE_SEPARATORS, ""))
        .with_columns(international=t.str.starts_with("+86") | t.str.starts_with("0086"))
        .with_columns(
            t=pl.when(t.str.starts_with("+86"))
            .then(t.str.slice(3))
            .when(t.str.starts_with("0086"))
            .then(t.str.slice(4))
            .when(t.str.contains(_PREFIXED_MOBILE))
            .then(t.str.slice(2))
            .otherwise(t)
        )
        .with_columns(
            t=pl.when(pl.col("international") & ~t.str.starts_with("0") & ~t.str.contains(_MOBILE))
            .then(pl.concat_str(pl.lit("0"), t))
            .otherwise(t)
        )
    )
    error = (
        pl.when(pl.col("blank"))
        .then(pl.lit("empty"))
        .when(~t.str.contains(_PHONE))
        .then(pl.lit("phone_invalid"))
    )
    return _result(frame, series.name, t, error)


# --- export ----------------------------------------------------------------------------------

_FORMULA_START = r"^[=+\-@\t\r]"
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value: str) -> str:
    """Prefix "'" to a text cell that a spreadsheet would run as a formula (CSV injection).

    OWASP's rule: a cell starting with = + - @ tab or carriage return, such as
    "=HYPERLINK(…)" or "=cmd|' /C calc'!A0", is shown as text. Apply it to text cells of
    exports (CSV and XLSX), not to numbers: "-5" would become "'-5". With xlsxwriter, write
    text with ``write_string``: plain ``write`` turns a leading "=" into a formula.
    """
    return "'" + value if value.startswith(_FORMULA_TRIGGERS) else value


def export_cell(value: object) -> object:
    """A value for a cell of an export: text neutralised (``neutralise_formula``), numbers,
    dates and None as they are."""
    return neutralise_formula(value) if isinstance(value, str) else value


def neutralise_formula_series(series: pl.Series) -> pl.Series:
    """``neutralise_formula`` over a column (nulls stay null)."""
    text = series.cast(pl.String)
    return (
        text.to_frame("v")
        .select(
            pl.when(pl.col("v").str.contains(_FORMULA_START))
            .then(pl.concat_str(pl.lit("'"), pl.col("v")))
            .otherwise(pl.col("v"))
            .alias(series.name)
        )
        .to_series()
    )

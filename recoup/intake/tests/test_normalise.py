"""Cell normalisers: a table per normaliser, and the scalar and series versions agreeing.

Each table row is (input, expected), where expected is the normalised value or ``E(code)``.
The agreement tests feed the union of every table's inputs (and seeded random strings) to
every normaliser, so a rule changed in the scalar version but not in the series version, or
the other way round, fails here. No database is needed.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any

import polars as pl
import pytest
from django.utils import translation

from recoup.intake.normalise import (
    BLANK_TOKENS,
    MESSAGES,
    STAGES,
    CellError,
    cents_to_decimal,
    cents_to_decimal_series,
    clean_text,
    clean_text_series,
    halfwidth,
    halfwidth_series,
    neutralise_formula,
    neutralise_formula_series,
    parse_amount,
    parse_amount_series,
    parse_date,
    parse_date_series,
    parse_id_number,
    parse_id_number_series,
    parse_int,
    parse_int_series,
    parse_overdue_days,
    parse_overdue_days_series,
    parse_phone,
    parse_phone_series,
    parse_stage,
    parse_stage_series,
)

TODAY = date(2026, 11, 22)


@dataclass(frozen=True)
class E:
    """An expected error code in a table."""

    code: str


def outcome(func: Callable[[str | None], Any], value: str | None) -> Any:
    try:
        return func(value)
    except CellError as error:
        return E(error.code)


# --- tables ----------------------------------------------------------------------------------

HALFWIDTH = [
    ("１２３４５６７８９０", "1234567890"),
    ("（）：，．－＋％", "():,.-+%"),
    ("。", "."),
    ("ＡＢＣｘｙｚ", "ABCxyz"),
    ("\u3000北京\u3000", " 北京 "),
    ("￥１，２３４", "¥1,234"),
    ("张三、李四", "张三、李四"),
    ("", ""),
]

TEXT = [
    ("  张三  ", "张三"),
    ("张\u200b三", "张三"),
    ("\ufeff张三", "张三"),
    ("张\u202e三", "张三"),
    ("\x00张三\x07", "张三"),
    ("北京市\u3000朝阳区", "北京市 朝阳区"),
    ("北京市  朝阳区\t\n建国路 1 号", "北京市 朝阳区 建国路 1 号"),
    ("a \t b", "a b"),
    ("a\u3000 b\u00a0\u00a0c", "a b c"),
    ("a\r\nb", "a b"),
    ("（北京）科技有限公司，第一分公司。", "（北京）科技有限公司，第一分公司。"),
    ("无", "无"),
    ("-", "-"),
    ("x" * 200, "x" * 200),
    ("x" * 201, E("text_too_long")),
    ("  " + "字" * 200 + "  ", "字" * 200),
    ("", E("empty")),
    ("   \u3000\t", E("empty")),
    ("\u200b", E("empty")),
    (None, E("empty")),
]

AMOUNTS = [
    ("1234.5", Decimal("1234.50")),
    ("1,234.5", Decimal("1234.50")),
    ("1,234,567.89", Decimal("1234567.89")),
    ("１２３４.５０", Decimal("1234.50")),
    ("１，２３４．５６", Decimal("1234.56")),
    ("1234。5", Decimal("1234.50")),
    ("¥1,234.50", Decimal("1234.50")),
    ("￥1,234.50", Decimal("1234.50")),
    ("¥ 1,234.50", Decimal("1234.50")),
    ("1234.5元", Decimal("1234.50")),
    ("1234.5 元", Decimal("1234.50")),
    ("人民币5000元整", Decimal("5000.00")),
    ("RMB 1,234", Decimal("1234.00")),
    ("rmb1234", Decimal("1234.00")),
    ("1234 CNY", Decimal("1234.00")),
    (" 1 234.50 ", Decimal("1234.50")),
    ("1\u00a0234.50", Decimal("1234.50")),
    ("+5", Decimal("5.00")),
    ("0", Decimal("0.00")),
    ("007", Decimal("7.00")),
    (".5", Decimal("0.50")),
    ("5.", Decimal("5.00")),
    ("0.125", Decimal("0.13")),
    ("0.124999", Decimal("0.12")),
    ("0.005", Decimal("0.01")),
    ("0.0049", Decimal("0.00")),
    ("100000000", Decimal("100000000.00")),
    ("100,000,000.004", Decimal("100000000.00")),
    ("100000000.005", E("amount_too_large")),
    ("100000000.01", E("amount_too_large")),
    ("999999999999", E("amount_too_large")),
    ("1" * 40, E("amount_too_large")),
    ("-", E("empty")),
    ("", E("empty")),
    ("  ", E("empty")),
    ("NULL", E("empty")),
    (None, E("empty")),
    ("-5", E("amount_negative")),
    ("-0.01", E("amount_negative")),
    ("－5", E("amount_negative")),
    ("\u22125", E("amount_negative")),
    ("(5.00)", E("amount_negative")),
    ("(¥5.00)", E("amount_negative")),
    ("¥-5", E("amount_negative")),
    ("-¥5", E("amount_negative")),
    ("-99999999999", E("amount_negative")),
    ("(5.00", E("amount_invalid")),
    ("5.00)", E("amount_invalid")),
    ("1e5", E("amount_invalid")),
    ("1.23457E+11", E("amount_invalid")),
    ("1234,50", E("amount_invalid")),
    ("1,23,4", E("amount_invalid")),
    ("12 34", E("amount_invalid")),
    ("1.234.5", E("amount_invalid")),
    ("$5", E("amount_invalid")),
    ("5 USD", E("amount_invalid")),
    ("¥¥5", E("amount_invalid")),
    ("五千元", E("amount_invalid")),
    ("abc", E("amount_invalid")),
    (".", E("amount_invalid")),
    ("٣", E("amount_invalid")),
]

DATES = [
    ("2026-11-01", date(2026, 11, 1)),
    ("2026/11/1", date(2026, 11, 1)),
    ("2026.11.1", date(2026, 11, 1)),
    ("20261101", date(2026, 11, 1)),
    ("2026年11月1日", date(2026, 11, 1)),
    ("2026 年 11 月 1 号", date(2026, 11, 1)),
    ("2026年11月1", date(2026, 11, 1)),
    ("２０２６－１１－０１", date(2026, 11, 1)),
    ("2026-1-1", date(2026, 1, 1)),
    ("2026-11-01 13:45:00", date(2026, 11, 1)),
    ("2026-11-01 13:45", date(2026, 11, 1)),
    ("2026/11/1 9:05:00.000", date(2026, 11, 1)),
    ("2026-11-01T08:00:00", date(2026, 11, 1)),
    ("2026年11月1日 13:45", date(2026, 11, 1)),
    ("2026-11-22", TODAY),
    ("1950-01-01", date(1950, 1, 1)),
    ("2024-02-29", date(2024, 2, 29)),
    ("45962", date(2025, 11, 1)),
    ("45962.0", date(2025, 11, 1)),
    ("45962.75", date(2025, 11, 1)),
    ("46348", TODAY),
    ("18264", date(1950, 1, 1)),
    ("60", E("date_invalid")),
    ("0", E("date_invalid")),
    ("61", E("date_too_old")),
    ("59", E("date_too_old")),
    ("2026", E("date_too_old")),
    ("18263", E("date_too_old")),
    ("46349", E("date_in_future")),
    ("99999", E("date_in_future")),
    ("123456", E("date_invalid")),
    ("2026-11-23", E("date_in_future")),
    ("2099年1月1日", E("date_in_future")),
    ("1949-12-31", E("date_too_old")),
    ("1900-01-01", E("date_too_old")),
    ("2026-02-29", E("date_invalid")),
    ("2026-02-30", E("date_invalid")),
    ("2026-13-01", E("date_invalid")),
    ("2026-00-10", E("date_invalid")),
    ("20261301", E("date_invalid")),
    ("2026/11-01", E("date_invalid")),
    ("26-11-01", E("date_invalid")),
    ("01/11/2026", E("date_invalid")),
    ("0000-01-01", E("date_invalid")),
    ("2026-11-01 25:00", E("date_invalid")),
    ("2026-11-01+08:00", E("date_invalid")),
    ("-45962", E("date_invalid")),
    ("yesterday", E("date_invalid")),
    ("", E("empty")),
    ("/", E("empty")),
    (None, E("empty")),
]

INTEGERS = [
    ("42", 42),
    ("+42", 42),
    ("-42", -42),
    ("−42", -42),
    ("0", 0),
    ("-0", 0),
    ("00042", 42),
    ("1,234", 1234),
    ("1 234", 1234),
    ("１２", 12),
    ("42.0", 42),
    ("42.", 42),
    ("9" * 18, int("9" * 18)),
    ("9" * 19, E("integer_invalid")),
    ("42.5", E("integer_invalid")),
    ("1e3", E("integer_invalid")),
    ("4 2", E("integer_invalid")),
    ("四十二", E("integer_invalid")),
    ("42天", E("integer_invalid")),
    ("", E("empty")),
    (None, E("empty")),
]

OVERDUE_DAYS = [
    ("30", 30),
    ("30天", 30),
    ("30 天", 30),
    ("３０天", 30),
    ("30.0", 30),
    ("0", 0),
    ("20000", 20000),
    ("1,200", 1200),
    ("20001", E("overdue_days_invalid")),
    ("45962", E("overdue_days_invalid")),
    ("-1", E("overdue_days_invalid")),
    ("-30天", E("overdue_days_invalid")),
    ("abc", E("integer_invalid")),
    ("天", E("integer_invalid")),
    ("30.5", E("integer_invalid")),
    ("", E("empty")),
    ("无", E("empty")),
    (None, E("empty")),
]

STAGE_TABLE = [
    ("M1", "M1"),
    ("M3", "M3"),
    ("m3", "M3"),
    (" M 3 ", "M3"),
    ("Ｍ３", "M3"),
    ("3", "M3"),
    ("03", "M3"),
    ("3期", "M3"),
    ("逾期3期", "M3"),
    ("M5", "M5"),
    ("M6", "M6+"),
    ("M6+", "M6+"),
    ("m6+", "M6+"),
    ("6+", "M6+"),
    ("M7", "M6+"),
    ("M7+", "M6+"),
    ("M12", "M6+"),
    ("逾期12期", "M6+"),
    ("M0", E("stage_invalid")),
    ("0", E("stage_invalid")),
    ("M3+", E("stage_invalid")),
    ("M1000", E("stage_invalid")),
    ("M", E("stage_invalid")),
    ("逾期三期", E("stage_invalid")),
    ("31-60天", E("stage_invalid")),
    ("C", E("stage_invalid")),
    ("", E("empty")),
    (None, E("empty")),
]

ID_NUMBERS = [
    ("11010519491231002X", "11010519491231002X"),
    ("11010519491231002x", "11010519491231002X"),
    ("１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X"),
    (" 110105 19491231 002X ", "11010519491231002X"),
    ("110105\u300019491231002X", "11010519491231002X"),
    ("110105491231002", "11010519491231002X"),
    ("440301900307123", "440301199003071230"),
    ("440301199003071230", "440301199003071230"),
    ("110105194912310021", E("id_checksum")),
    ("440301199003071231", E("id_checksum")),
    ("110105194912310000", E("id_checksum")),
    ("1101054912310", E("id_number_invalid")),
    ("11010519491231002Y", E("id_number_invalid")),
    ("11010519491231002X0", E("id_number_invalid")),
    ("11010549123100X", E("id_number_invalid")),
    ("1.10105E+17", E("id_number_invalid")),
    ("110105-19491231-002X", E("id_number_invalid")),
    ("١١٠١٠٥٤٩١٢٣١٠٠٢", E("id_number_invalid")),
    ("", E("empty")),
    ("无", E("empty")),
    (None, E("empty")),
]

PHONES = [
    ("13800138000", "13800138000"),
    ("+86 138 0013 8000", "13800138000"),
    ("+86-138-0013-8000", "13800138000"),
    ("+8613800138000", "13800138000"),
    ("0086 13800138000", "13800138000"),
    ("8613800138000", "13800138000"),
    ("138-0013-8000", "13800138000"),
    ("138.0013.8000", "13800138000"),
    ("(138)0013 8000", "13800138000"),
    ("１３８００１３８０００", "13800138000"),
    ("＋８６ １３８００１３８０００", "13800138000"),
    ("19912345678", "19912345678"),
    ("010-12345678", "01012345678"),
    ("02112345678", "02112345678"),
    ("(0755) 8888-1234", "075588881234"),
    ("（0755）8888-1234", "075588881234"),
    ("0755-8888123", "07558888123"),
    ("+86 10 12345678", "01012345678"),
    ("+86 755 88881234", "075588881234"),
    ("0086-755-88881234", "075588881234"),
    ("010-12345678转123", "01012345678"),
    ("010-12345678 转 123", "01012345678"),
    ("0755-88881234 分机8001", "075588881234"),
    ("0755-88881234 ext. 8001", "075588881234"),
    ("0755-88881234 EXT 8001", "075588881234"),
    ("12345678", E("phone_invalid")),
    ("8888-1234", E("phone_invalid")),
    ("1380013800", E("phone_invalid")),
    ("138001380001", E("phone_invalid")),
    ("12800138000", E("phone_invalid")),
    ("010-1234567", E("phone_invalid")),
    ("013800138000", E("phone_invalid")),
    ("400-123-4567", E("phone_invalid")),
    ("+852 9123 4567", E("phone_invalid")),
    ("+86 0086 13800138000", E("phone_invalid")),
    ("+1 415 555 0100", E("phone_invalid")),
    ("0755-88881234-8001", E("phone_invalid")),
    ("13800138000/13900139000", E("phone_invalid")),
    ("1.38001E+10", E("phone_invalid")),
    ("phone", E("phone_invalid")),
    ("", E("empty")),
    ("无", E("empty")),
    ("-", E("empty")),
    (None, E("empty")),
]

FORMULAS = [
    ('=HYPERLINK("http://evil.example","click")', '\'=HYPERLINK("http://evil.example","click")'),
    ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
    ("+1+1", "'+1+1"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("张三", "张三"),
    ("a=b", "a=b"),
    (" =1", " =1"),
    ("", ""),
]


# --- table tests -----------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), HALFWIDTH)
def test_halfwidth(value, expected):
    assert halfwidth(value) == expected


@pytest.mark.parametrize(("value", "expected"), TEXT)
def test_clean_text(value, expected):
    assert outcome(clean_text, value) == expected


@pytest.mark.parametrize(("value", "expected"), AMOUNTS)
def test_parse_amount(value, expected):
    result = outcome(parse_amount, value)
    assert result == expected
    if isinstance(result, Decimal):
        assert result.as_tuple().exponent == -2  # always exactly two places


@pytest.mark.parametrize(("value", "expected"), DATES)
def test_parse_date(value, expected):
    assert outcome(partial(parse_date, today=TODAY), value) == expected


@pytest.mark.parametrize(("value", "expected"), INTEGERS)
def test_parse_int(value, expected):
    assert outcome(parse_int, value) == expected


@pytest.mark.parametrize(("value", "expected"), OVERDUE_DAYS)
def test_parse_overdue_days(value, expected):
    assert outcome(parse_overdue_days, value) == expected


@pytest.mark.parametrize(("value", "expected"), STAGE_TABLE)
def test_parse_stage(value, expected):
    result = outcome(parse_stage, value)
    assert result == expected
    assert isinstance(result, E) or result in STAGES


@pytest.mark.parametrize(("value", "expected"), ID_NUMBERS)
def test_parse_id_number(value, expected):
    assert outcome(parse_id_number, value) == expected


@pytest.mark.parametrize(("value", "expected"), PHONES)
def test_parse_phone(value, expected):
    assert outcome(parse_phone, value) == expected


@pytest.mark.parametrize(("value", "expected"), FORMULAS)
def test_neutralise_formula(value, expected):
    assert neutralise_formula(value) == expected


def test_amount_limit_is_a_parameter_and_inclusive():
    assert parse_amount("1,000.00", limit=Decimal("1000")) == Decimal("1000.00")
    with pytest.raises(CellError) as caught:
        parse_amount("1000.01", limit=Decimal("1000"))
    assert caught.value.code == "amount_too_large"
    assert caught.value.params == {"limit": "1,000.00"}


def test_amount_limit_must_fit_int64_cents():
    with pytest.raises(ValueError, match="limit"):
        parse_amount("1", limit=Decimal("1e16"))
    with pytest.raises(ValueError, match="limit"):
        parse_amount_series(pl.Series(["1"]), limit=Decimal("-1"))


def test_future_dates_can_be_allowed_per_column():
    assert parse_date("2027-01-01", today=TODAY, allow_future=True) == date(2027, 1, 1)
    values, errors = parse_date_series(pl.Series(["2027-01-01"]), today=TODAY, allow_future=True)
    assert values.to_list() == [date(2027, 1, 1)]
    assert errors.to_list() == [None]


def test_text_length_is_a_parameter():
    assert clean_text("张三李四", max_len=4) == "张三李四"
    with pytest.raises(CellError) as caught:
        clean_text("张三李四王", max_len=4)
    assert caught.value.params == {"max_len": "4"}


def test_cents_to_decimal():
    assert cents_to_decimal(123450) == Decimal("1234.50")
    assert str(cents_to_decimal(0)) == "0.00"
    assert str(cents_to_decimal(5)) == "0.05"
    series = cents_to_decimal_series(pl.Series([123450, 5, 0, None], dtype=pl.Int64))
    assert series.dtype == pl.Decimal(38, 2)
    assert series.to_list() == [Decimal("1234.50"), Decimal("0.05"), Decimal("0.00"), None]


# --- messages --------------------------------------------------------------------------------

PARAMS = {"amount_too_large": {"limit": "100,000,000.00"}, "text_too_long": {"max_len": "200"}}


def test_every_table_code_has_a_message():
    tables = [TEXT, AMOUNTS, DATES, INTEGERS, OVERDUE_DAYS, STAGE_TABLE, ID_NUMBERS, PHONES]
    used = {expected.code for table in tables for _, expected in table if isinstance(expected, E)}
    assert used == set(MESSAGES)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("code", sorted(MESSAGES))
def test_messages_render_in_both_languages(code, language):
    with translation.override(language):
        text = CellError(code, PARAMS.get(code)).message()
    assert text
    assert "%(" not in text


def test_message_carries_the_parameter_not_the_value():
    with translation.override("zh-hans"):
        text = CellError("amount_too_large", {"limit": "1,000.00"}).message()
    assert "1,000.00" in text


def test_unknown_codes_are_refused():
    with pytest.raises(KeyError):
        CellError("amount_weird")


# --- scalar and series agree -----------------------------------------------------------------


def _fuzz(seed: int, count: int) -> list[str]:
    """Random strings near the formats: decorated digits, dates, IDs, phones and noise."""
    rng = random.Random(seed)
    alphabet = list(
        "0123456789０１２３-+−－.,，。 /:()（）¥￥元年月日号天期逾MmXxeE转T整\u3000\u200b\t"
    )
    values: list[str] = []
    for _ in range(count):
        kind = rng.randrange(8)
        if kind == 0:
            values.append("".join(rng.choices(alphabet, k=rng.randrange(0, 14))))
        elif kind == 1:
            sep = rng.choice(["-", "/", ".", ""])
            values.append(
                f"{rng.randrange(1900, 2100)}{sep}{rng.randrange(0, 14)}{sep}{rng.randrange(0, 33)}"
            )
        elif kind == 2:
            body = "".join(rng.choices("0123456789", k=rng.choice([14, 15, 17])))
            values.append(body + rng.choice(["", "X", "x", "0", "7"]))
        elif kind == 3:
            prefix = rng.choice(["", "+86 ", "0086-", "86", "0", "(0755) ", "010-"])
            digits = "".join(rng.choices("0123456789", k=rng.randrange(6, 13)))
            values.append(prefix + digits + rng.choice(["", "转12", " ext 3"]))
        elif kind == 4:
            whole = rng.randrange(0, 10 ** rng.randrange(1, 12))
            text = f"{whole:,}" if rng.random() < 0.5 else str(whole)
            text += rng.choice(["", ".5", ".05", ".005", ".995", ".12345"])
            values.append(
                rng.choice(["", "¥", "-", "(", "RMB "]) + text + rng.choice(["", "元", ")"])
            )
        elif kind == 5:
            values.append(str(rng.randrange(0, 100000)) + rng.choice(["", ".0", ".5", "天"]))
        elif kind == 6:
            pieces = ["+86", "0086", "86", "0", "1", "10", "755", " ", "-", "(", ")", "转", "ext"]
            pieces += ["".join(rng.choices("0123456789", k=rng.randrange(1, 9)))] * 4
            values.append("".join(rng.choices(pieces, k=rng.randrange(1, 7))))
        else:
            prefix = rng.choice(["M", "m", "Ｍ", "逾期", "", " M "])
            values.append(prefix + str(rng.randrange(0, 15)) + rng.choice(["", "+", "期", "天"]))
    return values


TABLE_INPUTS = [
    value
    for table in (TEXT, AMOUNTS, DATES, INTEGERS, OVERDUE_DAYS, STAGE_TABLE, ID_NUMBERS, PHONES)
    for value, _ in table
] + [value for value, _ in HALFWIDTH + FORMULAS]
ALL_INPUTS = [*TABLE_INPUTS, *sorted(BLANK_TOKENS), "NULL", "None", "N/A", *_fuzz(11643, 4000)]


def _same(value: Any) -> Any:
    return value


# name: (scalar, series, convert a series value to the scalar's type)
NORMALISERS: dict[str, tuple[Callable[..., Any], Callable[..., Any], Callable[[Any], Any]]] = {
    "text": (clean_text, clean_text_series, _same),
    "text_max_5": (
        partial(clean_text, max_len=5),
        partial(clean_text_series, max_len=5),
        _same,
    ),
    "amount": (parse_amount, parse_amount_series, cents_to_decimal),
    "amount_limit_1000": (
        partial(parse_amount, limit=Decimal("1000")),
        partial(parse_amount_series, limit=Decimal("1000")),
        cents_to_decimal,
    ),
    "date": (partial(parse_date, today=TODAY), partial(parse_date_series, today=TODAY), _same),
    "date_allow_future": (
        partial(parse_date, today=TODAY, allow_future=True),
        partial(parse_date_series, today=TODAY, allow_future=True),
        _same,
    ),
    "int": (parse_int, parse_int_series, _same),
    "overdue_days": (parse_overdue_days, parse_overdue_days_series, _same),
    "stage": (parse_stage, parse_stage_series, _same),
    "id_number": (parse_id_number, parse_id_number_series, _same),
    "phone": (parse_phone, parse_phone_series, _same),
}


@pytest.mark.parametrize("name", sorted(NORMALISERS))
def test_scalar_and_series_agree(name):
    scalar, vectorised, convert = NORMALISERS[name]
    series = pl.Series("cell", ALL_INPUTS, dtype=pl.String)
    values, errors = vectorised(series)
    assert values.name == "cell"
    assert errors.name == "cell_error"
    assert errors.dtype == pl.String
    assert len(values) == len(errors) == len(ALL_INPUTS)
    disagreements = []
    for raw, value, code in zip(ALL_INPUTS, values.to_list(), errors.to_list(), strict=True):
        if code is not None:
            assert value is None, (raw, value, code)
            from_series: Any = E(code)
        else:
            from_series = convert(value)
        from_scalar = outcome(scalar, raw)
        if from_series != from_scalar:
            disagreements.append((raw, from_scalar, from_series))
    assert disagreements == []


def test_halfwidth_and_neutralise_series_agree():
    series = pl.Series("cell", ALL_INPUTS, dtype=pl.String)
    expected = [None if v is None else halfwidth(v) for v in ALL_INPUTS]
    assert halfwidth_series(series).to_list() == expected
    expected = [None if v is None else neutralise_formula(v) for v in ALL_INPUTS]
    assert neutralise_formula_series(series).to_list() == expected


@pytest.mark.parametrize(
    ("function", "dtype"),
    [
        (parse_amount_series, pl.Int64),
        (partial(parse_date_series, today=TODAY), pl.Date),
        (parse_int_series, pl.Int64),
        (parse_overdue_days_series, pl.Int64),
        (parse_stage_series, pl.String),
        (parse_id_number_series, pl.String),
        (parse_phone_series, pl.String),
        (clean_text_series, pl.String),
    ],
)
def test_series_dtypes_and_all_null_columns(function, dtype):
    values, errors = function(pl.Series("cell", [None, None], dtype=pl.Null))
    assert values.dtype == dtype
    assert errors.to_list() == ["empty", "empty"]
    values, errors = function(pl.Series("cell", [], dtype=pl.String))
    assert values.dtype == dtype
    assert len(values) == len(errors) == 0


def test_series_of_another_dtype_is_read_as_text():
    values, errors = parse_date_series(pl.Series("d", [45962, None]), today=TODAY)
    assert values.to_list() == [date(2025, 11, 1), None]
    assert errors.to_list() == [None, "empty"]

"""Opening bank files: encodings, delimiters, quoting, XLSX cell conversion and every bad input."""

from __future__ import annotations

import datetime as dt
import gc
import os
import re
import struct
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from recoup.intake import readers
from recoup.intake.readers import (
    MESSAGES,
    ReadError,
    ReadLimits,
    TableFile,
    detect_encoding,
    open_table,
    sniff_delimiter,
)

HEADER = "客户姓名,证件号码,卡号,欠款总额"
ROWS = [
    "张三,110101199003070011,0012345678901234,1000.50",
    "李四,11010119900307002X,6225880012345678,0",
    "欧阳娜娜,110101199003070038,0000000000000001,",
]


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def csv_file(tmp_path: Path, lines: list[str], *, encoding: str = "utf-8", eol: str = "\n") -> Path:
    return write(tmp_path, "bank.csv", (eol.join(lines) + eol).encode(encoding))


def read_all(table: TableFile, batch_rows: int = 100_000) -> pl.DataFrame:
    return pl.concat(list(table.batches(batch_rows)))


def assert_error(excinfo: pytest.ExceptionInfo[ReadError], code: str) -> ReadError:
    error = excinfo.value
    assert error.code == code
    message = error.message()
    assert isinstance(message, str)
    assert message.strip()
    assert "%(" not in message  # every parameter the message names was given
    return error


# --- CSV: encodings -------------------------------------------------------------------------


def test_it_reads_utf8_as_strings_with_excel_row_numbers(tmp_path: Path) -> None:
    table = open_table(csv_file(tmp_path, [HEADER, *ROWS]))
    assert table.file_kind == "csv"
    assert table.encoding == "utf-8"
    assert table.delimiter == ","
    assert table.sheet_name is None
    assert table.headers == ["客户姓名", "证件号码", "卡号", "欠款总额"]
    frame = read_all(table)
    assert frame.columns == ["__row", *table.headers]
    assert frame.schema["__row"] == pl.Int64
    assert all(frame.schema[h] == pl.String for h in table.headers)
    assert frame["__row"].to_list() == [2, 3, 4]
    assert frame["卡号"].to_list() == ["0012345678901234", "6225880012345678", "0000000000000001"]
    assert frame["证件号码"][1] == "11010119900307002X"
    assert frame["欠款总额"].to_list() == ["1000.50", "0", None]  # empty cell: null


def test_it_strips_the_utf8_bom_and_header_spaces(tmp_path: Path) -> None:
    path = write(tmp_path, "bom.csv", "\ufeff 客户姓名 ,卡号\n张三,001\n".encode())
    table = open_table(path)
    assert table.encoding == "utf-8-sig"
    assert table.headers == ["客户姓名", "卡号"]
    assert read_all(table).rows() == [(2, "张三", "001")]


def test_it_detects_gbk_and_lets_the_caller_override(tmp_path: Path) -> None:
    path = csv_file(tmp_path, [HEADER, *ROWS], encoding="gbk")
    table = open_table(path)
    assert table.encoding == "gb18030"
    assert read_all(table)["客户姓名"].to_list() == ["张三", "李四", "欧阳娜娜"]

    explicit = open_table(path, encoding="GBK")
    assert explicit.encoding == "gbk"
    assert explicit.headers == table.headers
    assert read_all(explicit)["客户姓名"].to_list() == ["张三", "李四", "欧阳娜娜"]

    with pytest.raises(ReadError) as excinfo:
        open_table(path, encoding="utf-8")
    assert assert_error(excinfo, "encoding").params["line"] == "1"


def test_it_reads_gb18030_characters_outside_gbk(tmp_path: Path) -> None:
    path = csv_file(tmp_path, ["姓名,备注", "𠮷野家,€ 和 ㈠"], encoding="gb18030")
    table = open_table(path)
    assert table.encoding == "gb18030"
    assert read_all(table).rows() == [(2, "𠮷野家", "€ 和 ㈠")]


def test_it_reads_utf16_tab_text_as_excel_exports_it(tmp_path: Path) -> None:
    path = write(tmp_path, "unicode.txt", "姓名\t卡号\r\n张三\t001\r\n".encode("utf-16"))
    table = open_table(path)
    assert table.encoding == "utf-16"
    assert table.delimiter == "\t"
    assert read_all(table).rows() == [(2, "张三", "001")]


def test_it_reads_classic_mac_line_ends(tmp_path: Path) -> None:
    table = open_table(csv_file(tmp_path, ["姓名,卡号", "张三,001", "李四,002"], eol="\r"))
    assert read_all(table).rows() == [(2, "张三", "001"), (3, "李四", "002")]


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        (b"\xef\xbb\xbfa,b\n", "utf-8-sig"),
        ("a,b\n".encode("utf-16"), "utf-16"),
        (b"name,card\nzhang,001\n", "utf-8"),
        ("客户姓名,卡号\n张三,001\n".encode(), "utf-8"),
        ("客户姓名,卡号\n张三,001\n".encode("gbk"), "gb18030"),
        ("客户姓名,卡号\n张三,001\n".encode()[:-6], "utf-8"),  # cut inside a character
        ("客户姓名,卡号\n".encode("gbk")[:-2], "gb18030"),
        # mostly UTF-8 with one GBK line: stays UTF-8 so that reading names the bad line
        ((("客户姓名,卡号\n" + "张三,001\n" * 20).encode() + "李四,002\n".encode("gbk")), "utf-8"),
    ],
)
def test_detect_encoding(sample: bytes, expected: str) -> None:
    assert detect_encoding(sample) == expected


# --- CSV: delimiters and quoting -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a,b,c\n1,2,3\n", ","),
        ("a\tb\tc\n1\t2,5\t3\n", "\t"),
        ("a;b;c\n1,5;2,5;3,0\n4,0;5,0;6,0\n", ";"),  # decimal commas inside a semicolon file
        ("a|b\n1|2\n", "|"),
        ('姓名,地址\n张三,"广东省;深圳市|南山区"\n', ","),
        ("only\none\n", ","),
    ],
)
def test_sniff_delimiter(text: str, expected: str) -> None:
    assert sniff_delimiter(text) == expected


@pytest.mark.parametrize("delimiter", ["\t", ";", "|"])
def test_it_reads_other_delimiters(tmp_path: Path, delimiter: str) -> None:
    lines = [line.replace(",", delimiter) for line in [HEADER, *ROWS]]
    table = open_table(csv_file(tmp_path, lines))
    assert table.delimiter == delimiter
    assert read_all(table)["卡号"][0] == "0012345678901234"


def test_it_keeps_quoted_commas_newlines_and_quotes_and_counts_excel_rows(tmp_path: Path) -> None:
    lines = [
        "姓名,地址,备注",
        '张三,"广东省深圳市,南山区","第一行',
        '第二行"',
        '李四,"他说""明天还""",',
        "",
        "王五,,=1+1",
    ]
    frame = read_all(open_table(csv_file(tmp_path, lines, eol="\r\n")))
    # The multi-line cell is one row (Excel row 2); the blank line is row 4 and is skipped.
    assert frame.rows() == [
        (2, "张三", "广东省深圳市,南山区", "第一行\r\n第二行"),
        (3, "李四", '他说"明天还"', None),
        (5, "王五", None, "=1+1"),
    ]


def test_formula_text_comes_through_as_plain_text(tmp_path: Path) -> None:
    lines = ["姓名,备注", '张三,"=HYPERLINK(""http://x"",""y"")"', "李四,=cmd|' /C calc'!A0"]
    table = open_table(csv_file(tmp_path, lines))
    assert table.delimiter == ","
    assert read_all(table)["备注"].to_list() == [
        '=HYPERLINK("http://x","y")',
        "=cmd|' /C calc'!A0",
    ]


def test_blank_lines_above_the_header_shift_the_row_numbers(tmp_path: Path) -> None:
    table = open_table(csv_file(tmp_path, ["", ",,", "姓名,卡号", "张三,001"]))
    assert table.headers == ["姓名", "卡号"]
    assert read_all(table).rows() == [(4, "张三", "001")]


def test_short_rows_are_padded_and_trailing_delimiters_allowed(tmp_path: Path) -> None:
    table = open_table(csv_file(tmp_path, ["姓名,卡号,备注,", "张三", "李四,002,,", "王五,003,x"]))
    assert table.headers == ["姓名", "卡号", "备注"]
    assert read_all(table).rows() == [
        (2, "张三", None, None),
        (3, "李四", "002", None),
        (4, "王五", "003", "x"),
    ]


def test_batches_are_bounded_and_numbered_continuously(tmp_path: Path) -> None:
    lines = ["序号,卡号", *(f"{i},{i:016d}" for i in range(1, 26))]
    batches = list(open_table(csv_file(tmp_path, lines)).batches(batch_rows=10))
    assert [b.height for b in batches] == [10, 10, 5]
    rows = pl.concat(batches)
    assert rows["__row"].to_list() == list(range(2, 27))
    assert rows["卡号"][0] == "0000000000000001"


def test_preview_returns_the_first_rows_like_a_batch(tmp_path: Path) -> None:
    lines = ["序号,备注", *(f'{i},"第{i}行\n续"' for i in range(1, 50))]
    table = open_table(csv_file(tmp_path, lines))
    preview = table.preview(5)
    assert preview.equals(read_all(table).head(5))
    assert preview["__row"].to_list() == [2, 3, 4, 5, 6]


def test_it_reads_beyond_a_small_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The sample cuts a multi-line cell and a Chinese character; reading must not care.
    monkeypatch.setattr(readers, "SAMPLE_BYTES", 100)
    lines = ["序号,备注", *(f'{i},"第{i}行\n第二行，中文"' for i in range(1, 40))]
    table = open_table(csv_file(tmp_path, lines))
    assert table.headers == ["序号", "备注"]
    assert table.preview(3)["序号"].to_list() == ["1", "2", "3"]
    frame = read_all(table, batch_rows=7)
    assert frame.height == 39
    assert frame["备注"][38] == "第39行\n第二行，中文"
    assert frame["__row"][38] == 40


def test_a_gbk_file_is_transcoded_in_chunks_and_the_copy_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "SAMPLE_BYTES", 64)
    monkeypatch.setattr(readers, "_CHUNK_BYTES", 33)  # odd: splits double-byte characters
    lines = [HEADER, *ROWS * 20]
    table = open_table(csv_file(tmp_path, lines, encoding="gbk"))
    frame = read_all(table)
    assert frame.height == 60
    assert frame["客户姓名"][59] == "欧阳娜娜"
    copy = table._utf8_copy  # type: ignore[attr-defined]
    assert copy is not None
    assert copy.exists()
    table.close()
    assert not copy.exists()

    monkeypatch.setattr(readers, "SAMPLE_BYTES", 1 << 20)
    again = open_table(csv_file(tmp_path, lines, encoding="gbk"))
    assert again.preview(2).height == 2
    assert again._utf8_copy is None  # type: ignore[attr-defined]  # preview reads the sample
    next(again.batches())
    copy = again._utf8_copy  # type: ignore[attr-defined]
    del again
    gc.collect()
    assert not copy.exists()  # removed with the table even without close()


# --- XLSX -----------------------------------------------------------------------------------


def xlsx_file(
    tmp_path: Path, sheets: dict[str, list[list[object]]], name: str = "bank.xlsx"
) -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    path = tmp_path / name
    workbook.save(path)
    return path


def test_it_reads_the_first_sheet_of_an_xlsx(tmp_path: Path) -> None:
    path = xlsx_file(
        tmp_path,
        {"委案": [["姓名", "卡号"], ["张三", "0012345678901234"]], "其他": [["x"], ["y"]]},
        name="named-anything.bin",
    )
    table = open_table(path)
    assert table.file_kind == "xlsx"
    assert table.sheet_name == "委案"
    assert table.encoding is None
    assert table.delimiter is None
    assert read_all(table).rows() == [(2, "张三", "0012345678901234")]


def test_it_reads_a_named_or_indexed_sheet_and_skips_hidden_ones(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    hidden = workbook.active
    hidden.title = "说明"
    hidden.sheet_state = "hidden"
    hidden.append(["说明"])
    hidden.append(["请勿修改"])
    for title in ("一月", "二月"):
        sheet = workbook.create_sheet(title)
        sheet.append(["姓名"])
        sheet.append([title])
    path = tmp_path / "months.xlsx"
    workbook.save(path)

    assert open_table(path).sheet_name == "一月"  # the first *visible* sheet
    named = open_table(path, sheet="二月")
    assert named.sheet_name == "二月"
    assert read_all(named).rows() == [(2, "二月")]
    assert open_table(path, sheet=" 二月 ").sheet_name == "二月"
    assert open_table(path, sheet=0).sheet_name == "说明"


@pytest.mark.parametrize("sheet", ["三月", 5])
def test_a_missing_sheet_is_sheet_not_found(tmp_path: Path, sheet: str | int) -> None:
    path = xlsx_file(tmp_path, {"一月": [["姓名"], ["张三"]]})
    with pytest.raises(ReadError) as excinfo:
        open_table(path, sheet=sheet)
    error = assert_error(excinfo, "sheet_not_found")
    assert error.params["sheets"] == "一月"


def test_xlsx_cells_become_text_without_losing_information(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["卡号", "金额", "日期", "时间", "布尔", "公式", "文本"])
    sheet.append(
        [
            6225880012345678,
            1234.5,
            dt.date(2026, 11, 1),
            dt.datetime(2026, 11, 1, 13, 5, 7),  # noqa: DTZ001 - Excel has no time zones
            True,
            "=1+1",
            "0012",
        ]
    )
    sheet.append(
        [6225880012345678.0, 0.1, dt.datetime(2026, 1, 2), dt.time(8, 30), False, None, " x "]  # noqa: DTZ001
    )
    sheet.append(
        [1.234567890123457e19, 1e-05, None, None, None, None, '=HYPERLINK("http://x","y")']
    )
    sheet.append([-42, 1 / 3, None, None, None, None, "=cmd|' /C calc'!A0"])
    for row in (4, 5):
        sheet.cell(row=row, column=7).data_type = "s"  # openpyxl would store "=..." as a formula
    path = tmp_path / "cells.xlsx"
    workbook.save(path)

    frame = read_all(open_table(path))
    assert frame.rows() == [
        # A formula written by openpyxl has no cached value: it reads as empty (null). One
        # saved by Excel or WPS reads as the value they cached; it is never evaluated here.
        (
            2,
            "6225880012345678",
            "1234.5",
            "2026-11-01",
            "2026-11-01 13:05:07",
            "TRUE",
            None,
            "0012",
        ),
        (3, "6225880012345678", "0.1", "2026-01-02", "08:30:00", "FALSE", None, " x "),
        (
            4,
            "12345678901234570000",
            "0.00001",
            None,
            None,
            None,
            None,
            '=HYPERLINK("http://x","y")',
        ),
        (5, "-42", "0.3333333333333333", None, None, None, None, "=cmd|' /C calc'!A0"),
    ]


def test_xlsx_rows_keep_their_sheet_numbers(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet["B3"], sheet["C3"] = "姓名", "卡号"
    sheet["B4"], sheet["C4"] = "张三", "001"
    sheet["B6"], sheet["C6"] = "李四", "002"  # row 5 is blank
    path = tmp_path / "offset.xlsx"
    workbook.save(path)
    table = open_table(path)
    assert table.headers == ["姓名", "卡号"]
    assert read_all(table).rows() == [(4, "张三", "001"), (6, "李四", "002")]
    assert table.preview(1).rows() == [(4, "张三", "001")]


def test_xlsx_batches_are_bounded(tmp_path: Path) -> None:
    rows: list[list[object]] = [["序号"], *([str(i)] for i in range(1, 24))]
    batches = list(open_table(xlsx_file(tmp_path, {"s": rows})).batches(batch_rows=10))
    assert [b.height for b in batches] == [10, 10, 3]
    assert pl.concat(batches)["__row"].to_list() == list(range(2, 25))


def test_a_value_beyond_the_xlsx_headers_is_a_ragged_row(tmp_path: Path) -> None:
    path = xlsx_file(tmp_path, {"s": [["姓名", "卡号"], ["张三", "001"], ["李四", "002", "多余"]]})
    table = open_table(path)
    with pytest.raises(ReadError) as excinfo:
        read_all(table)
    error = assert_error(excinfo, "ragged_row")
    assert error.params == {"row": "3", "fields": "3", "columns": "2"}


def test_a_blank_xlsx_header_names_its_column_letter(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet["B1"], sheet["D1"] = "姓名", "卡号"
    sheet["B2"], sheet["C2"], sheet["D2"] = "张三", "x", "001"
    path = tmp_path / "blank.xlsx"
    workbook.save(path)
    with pytest.raises(ReadError) as excinfo:
        open_table(path)
    error = assert_error(excinfo, "blank_header")
    assert error.params == {"column": "3", "letter": "C"}


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"\n\n  \r\n", b"\xef\xbb\xbf", b",,,\n"])
def test_an_empty_file_is_refused(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(ReadError) as excinfo:
        open_table(write(tmp_path, "empty.csv", data))
    assert_error(excinfo, "empty_file")


def test_an_empty_sheet_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ReadError) as excinfo:
        open_table(xlsx_file(tmp_path, {"s": []}))
    assert_error(excinfo, "empty_file")


@pytest.mark.parametrize("data", [b"a,b\n", b"a,b", b"a,b\n\n,\n"])
def test_a_header_only_csv_is_refused(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(ReadError) as excinfo:
        open_table(write(tmp_path, "header.csv", data))
    assert_error(excinfo, "header_only")


def test_header_only_beyond_the_sample_is_found_while_streaming(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "SAMPLE_BYTES", 8)
    table = open_table(write(tmp_path, "header.csv", b"a,b\n" + b"\n" * 20))
    with pytest.raises(ReadError) as excinfo:
        read_all(table)
    assert_error(excinfo, "header_only")


def test_a_header_only_sheet_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ReadError) as excinfo:
        open_table(xlsx_file(tmp_path, {"s": [["姓名", "卡号"], [None, None]]}))
    assert_error(excinfo, "header_only")


@pytest.mark.parametrize(
    "data",
    [
        os.urandom(4096),
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + os.urandom(200),
        b"\x7fELF\x02\x01\x01" + bytes(range(256)),
    ],
    ids=["random", "png", "elf"],
)
def test_binary_garbage_renamed_csv_is_not_a_table(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(ReadError) as excinfo:
        open_table(write(tmp_path, "garbage.csv", data))
    assert_error(excinfo, "not_a_table")


def test_a_non_zip_renamed_xlsx_is_not_a_table(tmp_path: Path) -> None:
    path = write(tmp_path, "fake.xlsx", "姓名,卡号\n张三,001\n".encode())
    with pytest.raises(ReadError) as excinfo:
        open_table(path, file_kind="xlsx")
    assert_error(excinfo, "not_a_table")


def test_a_zip_that_is_not_a_workbook_is_not_a_table(tmp_path: Path) -> None:
    path = tmp_path / "photos.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("photo.txt", "not a workbook")
    with pytest.raises(ReadError) as excinfo:
        open_table(path)
    assert_error(excinfo, "not_a_table")


def test_a_workbook_forced_through_the_csv_reader_is_not_a_table(tmp_path: Path) -> None:
    path = xlsx_file(tmp_path, {"s": [["姓名"], ["张三"]]})
    with pytest.raises(ReadError) as excinfo:
        open_table(path, file_kind="csv")
    assert_error(excinfo, "not_a_table")


@pytest.mark.parametrize(
    "data",
    [
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504),  # .xls, or a password-protected .xlsx
        "\ufeff <html><table><tr><td>姓名</td></tr></table></html>".encode(),
        b'<?xml version="1.0"?>\n<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet">',
    ],
    ids=["ole", "html", "spreadsheetml"],
)
def test_a_legacy_or_encrypted_excel_file_is_refused(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(ReadError) as excinfo:
        open_table(write(tmp_path, "old.xls", data))
    assert_error(excinfo, "unsupported_excel")


def test_duplicate_headers_are_listed(tmp_path: Path) -> None:
    with pytest.raises(ReadError) as excinfo:
        open_table(csv_file(tmp_path, ["姓名,卡号, 姓名,电话,卡号", "a,b,c,d,e"]))
    error = assert_error(excinfo, "duplicate_headers")
    assert error.params["headers"] == "姓名、卡号"
    assert "姓名、卡号" in error.message()


def test_the_row_number_column_name_is_reserved(tmp_path: Path) -> None:
    with pytest.raises(ReadError) as excinfo:
        open_table(csv_file(tmp_path, ["__row,卡号", "1,2"]))
    assert_error(excinfo, "duplicate_headers")


def test_a_blank_header_names_its_column(tmp_path: Path) -> None:
    with pytest.raises(ReadError) as excinfo:
        open_table(csv_file(tmp_path, ["姓名, ,卡号", "a,b,c"]))
    error = assert_error(excinfo, "blank_header")
    assert error.params == {"column": "2", "letter": "B"}


def test_mixed_encoding_names_the_bad_line(tmp_path: Path) -> None:
    data = "\n".join([HEADER, *ROWS * 5]).encode() + "\n王五,1,2,3\n".encode("gbk")
    with pytest.raises(ReadError) as excinfo:
        open_table(write(tmp_path, "mixed.csv", data))
    error = assert_error(excinfo, "encoding")
    assert error.params == {"line": "17", "encoding": "UTF-8"}
    assert "17" in error.message()


def test_mixed_encoding_beyond_the_sample_is_found_while_streaming(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "SAMPLE_BYTES", 200)
    data = "\n".join([HEADER, *ROWS * 10]).encode() + "\n王五,1,2,3\n".encode("gbk")
    table = open_table(write(tmp_path, "mixed.csv", data))
    with pytest.raises(ReadError) as excinfo:
        read_all(table)
    assert assert_error(excinfo, "encoding").params["line"] == "32"


def test_a_gbk_file_with_a_bad_byte_names_the_line(tmp_path: Path) -> None:
    data = "\n".join([HEADER, *ROWS]).encode("gbk") + b"\n\xff\xfe,1,2,3\n"
    with pytest.raises(ReadError) as excinfo:
        open_table(write(tmp_path, "gbk.csv", data), encoding="gbk")
    assert assert_error(excinfo, "encoding").params == {"line": "5", "encoding": "GBK"}


def test_a_ragged_row_names_its_row(tmp_path: Path) -> None:
    lines = ["姓名,卡号", "张三,001", '李四,"多行\n备注"', "王五,003,多余"]
    table = open_table(csv_file(tmp_path, lines))
    with pytest.raises(ReadError) as excinfo:
        read_all(table)
    error = assert_error(excinfo, "ragged_row")
    # Excel row 4 starts on physical line 5 because row 3 holds a line break.
    assert error.params == {"row": "4", "line": "5", "fields": "3", "columns": "2"}
    with pytest.raises(ReadError) as excinfo:
        table.preview()
    assert_error(excinfo, "ragged_row")


def test_a_ragged_row_with_quoted_delimiters_counts_fields_as_polars_does(tmp_path: Path) -> None:
    lines = ["姓名,地址", '张三,"北京,朝阳"', '李四,"上海,浦东","多""余"""']
    with pytest.raises(ReadError) as excinfo:
        read_all(open_table(csv_file(tmp_path, lines)))
    assert assert_error(excinfo, "ragged_row").params["fields"] == "3"


def test_a_value_under_a_trailing_blank_header_is_a_ragged_row(tmp_path: Path) -> None:
    table = open_table(csv_file(tmp_path, ["姓名,卡号,", "张三,001,", "李四,002,多余"]))
    with pytest.raises(ReadError) as excinfo:
        read_all(table)
    assert assert_error(excinfo, "ragged_row").params == {"row": "3", "fields": "3", "columns": "2"}


@pytest.mark.parametrize(
    ("lines", "row"),
    [
        (["姓名,备注", "张三,ok", '李四,5"寸', "王五,ok"], "3"),  # odd quote in an unquoted field
        (["姓名,备注", '张三,"引号"之后', "李四,ok"], "2"),  # text after a closing quote
        (["姓名,备注", "张三,ok", '李四,"没有结束'], "3"),  # quote never closed
    ],
)
def test_malformed_quoting_names_its_row(tmp_path: Path, lines: list[str], row: str) -> None:
    table = open_table(csv_file(tmp_path, lines))
    with pytest.raises(ReadError) as excinfo:
        read_all(table)
    assert assert_error(excinfo, "malformed_csv").params["row"] == row


def test_an_even_number_of_stray_quotes_is_text(tmp_path: Path) -> None:
    table = open_table(csv_file(tmp_path, ["姓名,备注", '张三,阳光"花园"小区']))
    assert read_all(table)["备注"].to_list() == ['阳光"花园"小区']


def test_a_file_over_the_byte_limit_is_too_large(tmp_path: Path) -> None:
    path = csv_file(tmp_path, [HEADER, *ROWS])
    with pytest.raises(ReadError) as excinfo:
        open_table(path, limits=ReadLimits(max_bytes=100))
    error = assert_error(excinfo, "too_large")
    assert error.params["limit"] == "100 B"


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_too_many_rows_is_refused_while_streaming(tmp_path: Path, kind: str) -> None:
    if kind == "csv":
        path = csv_file(tmp_path, ["序号", *(str(i) for i in range(10))])
    else:
        path = xlsx_file(tmp_path, {"s": [["序号"], *([str(i)] for i in range(10))]})
    table = open_table(path, limits=ReadLimits(max_rows=5))
    batches = table.batches(batch_rows=4)
    assert next(batches).height == 4
    with pytest.raises(ReadError) as excinfo:
        next(batches)
    assert assert_error(excinfo, "too_many_rows").params["limit"] == "5"


def test_a_zip_bomb_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", bytes(32 << 20))  # 32 MB of zeros
    assert path.stat().st_size < 100_000
    with pytest.raises(ReadError) as excinfo:
        open_table(path)  # calamine would fail on this XML; the zip check comes first
    error = assert_error(excinfo, "zip_bomb")
    assert int(error.params["ratio"]) > 200


def lying_xlsx(tmp_path: Path, rows: list[list[object]], *, padding: int) -> Path:
    """A workbook whose sheet inflates to ``padding`` bytes more than the 1,000 it declares
    (local header and central directory both lie)."""
    base = xlsx_file(tmp_path, {"s": rows})
    path = tmp_path / "lie.xlsx"
    sheet_name = "xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(base) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == sheet_name:
                data = data.replace(b"<sheetData>", b"<sheetData>" + b" " * padding)
            out.writestr(info.filename, data)
    with zipfile.ZipFile(path) as archive:
        member = archive.getinfo(sheet_name)
        central = archive.start_dir
    raw = bytearray(path.read_bytes())
    struct.pack_into("<I", raw, member.header_offset + 22, 1000)  # local header
    while True:
        name_length = struct.unpack_from("<H", raw, central + 28)[0]
        if raw[central + 46 : central + 46 + name_length] == sheet_name.encode():
            struct.pack_into("<I", raw, central + 24, 1000)  # central directory
            break
        central = raw.index(b"PK\x01\x02", central + 4)
    path.write_bytes(raw)
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo(sheet_name).file_size == 1000
    return path


def test_a_zip_lying_about_its_sizes_is_not_a_table(tmp_path: Path) -> None:
    # A member declared small that inflates to 16 MB: the zip reader under calamine refuses it.
    path = lying_xlsx(tmp_path, [["姓名"], ["张三"]], padding=16 << 20)
    with pytest.raises(ReadError) as excinfo:
        open_table(path)
    assert_error(excinfo, "not_a_table")


def test_an_xlsx_over_the_uncompressed_limit_is_a_zip_bomb(tmp_path: Path) -> None:
    path = xlsx_file(tmp_path, {"s": [["姓名"], ["张三"]]})
    with pytest.raises(ReadError) as excinfo:
        open_table(path, limits=ReadLimits(max_xlsx_uncompressed=1000))
    assert_error(excinfo, "zip_bomb")


def test_every_message_renders_in_chinese_with_its_parameters() -> None:
    params = {
        "line": "7",
        "row": "7",
        "encoding": "UTF-8",
        "headers": "姓名",
        "column": "2",
        "letter": "B",
        "size": "2.0 GB",
        "limit": "1.0 GB",
        "ratio": "500",
        "sheet": "一月",
        "sheets": "二月",
        "fields": "3",
        "columns": "2",
    }
    for code in MESSAGES:
        error = ReadError(code, **params)  # type: ignore[arg-type]
        assert error.message().strip()
        assert "%(" not in error.message()


# --- head=True: the upload and mapping pages read only an XLSX's first rows ---------------


def _head_and_whole(path: Path, **kwargs: object) -> tuple[TableFile, TableFile]:
    return open_table(path, head=True, **kwargs), open_table(path, **kwargs)  # type: ignore[arg-type]


def test_an_xlsx_head_gives_the_same_headers_and_preview_as_the_whole_sheet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "XLSX_HEAD_ROWS", 5)
    rows: list[list[object]] = [["姓名", "卡号", "逾期日期", "欠款"]]
    rows += [[f"张{i}", f"00{i:014d}", dt.date(2026, 1, 1 + i % 28), 1000.5 + i] for i in range(40)]
    path = xlsx_file(tmp_path, {"委案": rows, "备注": [["x"], *([str(i)] for i in range(50))]})
    head, whole = _head_and_whole(path)
    with head, whole:
        assert head.head is True
        assert head.headers == whole.headers == ["姓名", "卡号", "逾期日期", "欠款"]
        assert head.preview(3).equals(whole.preview(3))
        assert head.preview(3).row(0) == (2, "张0", "0" * 16, "2026-01-01", "1000.5")
        # The copy holds 5 rows of the sheet: the header and 4 data rows.
        assert head.preview(20).height == 4
        with pytest.raises(RuntimeError):
            head.batches()


def test_an_xlsx_head_of_a_named_sheet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readers, "XLSX_HEAD_ROWS", 2)
    path = xlsx_file(
        tmp_path,
        {"封面": [["说明"], ["a"], ["b"], ["c"]], "委案": [["姓名"], ["甲"], ["乙"], ["丙"]]},
    )
    with open_table(path, head=True, sheet="委案") as table:
        assert table.head is True
        assert table.sheet_name == "委案"
        assert table.preview(5).rows() == [(2, "甲")]


def test_a_short_xlsx_is_read_whole_even_for_its_head(tmp_path: Path) -> None:
    path = xlsx_file(tmp_path, {"s": [["姓名"], ["张三"], ["李四"]]})
    with open_table(path, head=True) as table:
        assert table.head is False  # nothing to cut: the original is parsed
        assert table.preview().rows() == [(2, "张三"), (3, "李四")]


def test_an_xlsx_head_with_only_blank_rows_looks_at_the_whole_sheet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Data far below the header is still found: no false "header only"."""
    monkeypatch.setattr(readers, "XLSX_HEAD_ROWS", 3)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["姓名", "卡号"])
    for row in range(2, 10):  # blank rows that still have a <row> element (styled)
        sheet.cell(row=row, column=1).number_format = "@"
    sheet.append(["张三", "001"])
    path = tmp_path / "gap.xlsx"
    workbook.save(path)
    with open_table(path, head=True) as table:
        assert table.head is False
        assert table.preview().rows() == [(10, "张三", "001")]
    blank = openpyxl.Workbook()
    for row in range(1, 10):
        blank.active.cell(row=row, column=1).number_format = "@"
    blank.active.cell(row=12, column=1, value="姓名")
    blank.active.cell(row=13, column=1, value="张三")
    blank.save(tmp_path / "late-header.xlsx")
    with open_table(tmp_path / "late-header.xlsx", head=True) as table:
        assert table.headers == ["姓名"]
        assert table.preview().rows() == [(13, "张三")]


def test_an_xlsx_head_reads_a_sheet_written_with_a_namespace_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some generators write <x:row> (a prefixed default namespace)."""
    monkeypatch.setattr(readers, "XLSX_HEAD_ROWS", 3)
    plain = xlsx_file(tmp_path, {"s": [["姓名"], *([f"人{i}"] for i in range(10))]})
    path = tmp_path / "prefixed.xlsx"
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w") as target:
        for member in source.infolist():
            data = source.read(member)
            if member.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                text = re.sub(r"<(/?)(?!\?)([A-Za-z]+)", r"<\1x:\2", text)
                text = text.replace('xmlns="', 'xmlns:x="')
                data = text.encode()
            target.writestr(member, data)
    head, whole = _head_and_whole(path)
    with head, whole:
        assert head.head is True
        assert head.preview(20).rows() == [(2, "人0"), (3, "人1")]
        assert whole.preview(2).rows() == [(2, "人0"), (3, "人1")]


def test_an_xlsx_head_is_fast_on_a_large_sheet(tmp_path: Path) -> None:
    """Not a timing: the copy the head is parsed from holds XLSX_HEAD_ROWS rows, however
    long the sheet."""
    rows = [["序号"], *([str(i)] for i in range(readers.XLSX_HEAD_ROWS + 500))]
    path = xlsx_file(tmp_path, {"s": rows})
    with zipfile.ZipFile(path) as archive:
        part = readers._sheet_part(archive, "s")
        assert part == "xl/worksheets/sheet1.xml"
        head = readers._xml_head(archive, part, readers.XLSX_HEAD_ROWS)
    assert head is not None
    assert head.count(b"<row") == readers.XLSX_HEAD_ROWS
    assert head.endswith(b"</sheetData></worksheet>")


def test_an_xlsx_head_refuses_a_zip_lying_about_its_sizes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "XLSX_HEAD_ROWS", 1)
    path = lying_xlsx(tmp_path, [["姓名"], ["张三"], ["李四"]], padding=4 << 20)
    with pytest.raises(ReadError) as excinfo:
        open_table(path, head=True)
    assert_error(excinfo, "not_a_table")


def _float_text_reference(value: float) -> str:
    """The definition: the shortest round-trip digits, written positionally."""
    if value == 0:
        return "0"
    digits = Decimal(repr(value))
    if value.is_integer():
        digits = digits.to_integral_value()
    return format(digits, "f")


def test_xlsx_numbers_become_the_same_text_by_the_fast_path() -> None:
    import random

    rng = random.Random(20261123)
    values = [0.0, -0.0, 1.0, -1.0, 0.1, 1e-05, 1.5e-07, 1e15, 1e16, 123456789012345.6]
    values += [9999999999999998.0, 6225880012345678.0, 1.234567890123457e19, 2.0**53]
    values += [round(rng.uniform(-1e6, 1e7), rng.randint(0, 4)) for _ in range(5000)]
    values += [rng.uniform(-1, 1) * 10 ** rng.randint(-12, 22) for _ in range(5000)]
    values += [float(rng.randint(0, 10**17)) for _ in range(2000)]
    for value in values:
        assert readers._float_text(value) == _float_text_reference(value), value

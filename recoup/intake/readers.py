"""Open a bank's uploaded table (CSV or XLSX) safely and stream it as polars frames of strings.

``open_table(path)`` checks the file before anything parses it (size, magic bytes, zip central
directory, encoding and header row) and returns a ``TableFile``. ``TableFile.batches()`` then
streams the data rows as ``pl.DataFrame`` batches whose columns are ``__row`` (Int64) followed
by the file's headers, every one ``pl.String``: no type inference ever, so leading zeros in
ID, card and account numbers survive, and an empty cell is ``null``. Nothing here builds one
Python object per row of a CSV; an XLSX is converted in chunks of ``_XLSX_CHUNK_ROWS`` rows.

Row numbers (``__row``) are the rows a person sees when opening the file in Excel or WPS: the
header is row 1 (or lower, after blank rows above it), so the first data row is 2. In a CSV a
quoted cell spanning several lines is still one row, and blank lines count as rows although no
frame contains them. Encoding errors instead name the *physical line* (what a text editor
shows), because a file that does not decode cannot be opened as a table at all; the two are
equal unless a quoted cell holds a line break.

Every refusal is a ``ReadError`` with a ``code`` from ``MESSAGES`` and string ``params``;
``ReadError.message()`` renders it in the active language. Errors about the file as a whole
come from ``open_table``; problems found while streaming (a bad byte, a ragged row or too many
rows beyond the first ``SAMPLE_BYTES``) come from ``batches()`` after earlier batches were
yielded, so callers load into staging and switch over only when the stream ends cleanly.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import html
import io
import itertools
import re
import tempfile
import weakref
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import IO, Final, Literal, Self

import polars as pl
import python_calamine
from django.utils.translation import gettext, gettext_noop

FileKind = Literal["csv", "xlsx"]
ReadErrorCode = Literal[
    "empty_file",
    "header_only",
    "not_a_table",
    "unsupported_excel",
    "encoding",
    "duplicate_headers",
    "blank_header",
    "too_large",
    "too_many_rows",
    "zip_bomb",
    "sheet_not_found",
    "ragged_row",
    "malformed_csv",
]

ROW_COLUMN: Final = "__row"
DELIMITERS: Final = (",", "\t", ";", "|")
# How much of a CSV open_table() reads to detect the encoding, sniff the delimiter, parse the
# header and serve preview(): large enough that a bank file's header and first rows, and in
# practice its Chinese text, are always inside it.
SAMPLE_BYTES: Final = 4 << 20
_CHUNK_BYTES: Final = 4 << 20
_XLSX_CHUNK_ROWS: Final = 10_000
# Rows of a worksheet's XML an XLSX opened with head=True is parsed from: the header, the
# preview, and any blank rows above them (a sheet whose first rows are all blank is parsed
# whole instead).
XLSX_HEAD_ROWS: Final = 1_000
# Members smaller than this cannot be bombs whatever their ratio (tiny XML parts compress well).
_ZIP_RATIO_FLOOR: Final = 1 << 20
_ZIP_MAX_MEMBERS: Final = 10_000
_ZIP_MAGIC: Final = (b"PK\x03\x04", b"PK\x05\x06")
_OLE_MAGIC: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and encrypted .xlsx
# Many bank systems export "Excel" as an HTML page or SpreadsheetML 2003 named .xls.
_MARKUP_PREFIXES: Final = (b"<!doctype html", b"<html", b"<?xml", b"<table", b"<meta")
# C0 controls other than tab, LF, VT, FF, CR; DEL. Text tables never contain them.
_CONTROL_CHARS: Final = re.compile("[\x00-\x08\x0e-\x1f\x7f]")
_QUOTED_FIELD: Final = re.compile('"(?:[^"]|"")*"')
# What the "surrogateescape" error handler turns undecodable bytes into.
_UNDECODABLE: Final = re.compile("[\udc80-\udcff]")

MESSAGES: Final[dict[str, str]] = {
    "empty_file": gettext_noop("文件是空的，没有表头也没有数据。"),
    "header_only": gettext_noop("文件只有表头，没有数据行。"),
    "not_a_table": gettext_noop(
        "无法把文件识别为 CSV 或 XLSX 表格：文件可能已损坏，或不是表格文件只是改了扩展名。"
    ),
    "unsupported_excel": gettext_noop(
        "无法读取这种 Excel 文件：旧版 .xls（包括网页或 XML 格式的 .xls）或设置了打开密码的文件。"
        "请去掉密码并另存为 .xlsx 或 CSV（UTF-8）后重新上传。"
    ),
    "encoding": gettext_noop(
        "第 %(line)s 行含有不符合 %(encoding)s 编码的字节。请选择正确的文件编码，"
        "或把文件另存为 UTF-8 后重新上传。"
    ),
    "duplicate_headers": gettext_noop("表头有重复的列名：%(headers)s。"),
    "blank_header": gettext_noop("第 %(column)s 列（%(letter)s 列）的表头为空。"),
    "too_large": gettext_noop("文件太大（%(size)s），上限为 %(limit)s。"),
    "too_many_rows": gettext_noop("数据超过 %(limit)s 行的上限。"),
    "zip_bomb": gettext_noop(
        "Excel 文件解压后的大小（%(size)s）或压缩比（%(ratio)s 倍）超出安全上限，已拒绝读取。"
    ),
    "sheet_not_found": gettext_noop("找不到工作表“%(sheet)s”。文件中的工作表有：%(sheets)s。"),
    "ragged_row": gettext_noop("第 %(row)s 行有 %(fields)s 列数据，超出了表头的 %(columns)s 列。"),
    "malformed_csv": gettext_noop(
        "第 %(row)s 行的 CSV 格式有误：引号不成对，或不带引号的字段中出现了引号。"
    ),
}


class ReadError(Exception):
    """A file that cannot be read as a table; ``message()`` says why in the active language."""

    def __init__(self, code: ReadErrorCode, **params: object) -> None:
        self.code: str = code
        self.params: dict[str, str] = {key: str(value) for key, value in params.items()}
        super().__init__(f"{code} {self.params}" if self.params else code)

    def message(self) -> str:
        return gettext(MESSAGES[self.code]) % self.params


@dataclass(frozen=True)
class ReadLimits:
    """Limits checked before (bytes, zip sizes) and while (rows) a file is read."""

    max_bytes: int = 1 << 30
    max_rows: int = 2_000_000
    max_xlsx_uncompressed: int = 2 << 30
    max_xlsx_ratio: int = 200


DEFAULT_LIMITS: Final = ReadLimits()


def detect_encoding(sample: bytes) -> str:
    """Guess a CSV's encoding from its first bytes: "utf-8-sig", "utf-8", "gb18030" or "utf-16".

    A byte-order mark decides (UTF-16 is what Excel's "Unicode text" export writes). Otherwise
    the sample is decoded strictly as UTF-8, then as GB18030 (a superset of GBK and GB2312); an
    incomplete character at the end of a cut sample is not an error. A sample that is mostly
    valid UTF-8 with a few bad bytes stays "utf-8", so that reading it reports the bad line
    instead of silently turning the UTF-8 text into GB18030 mojibake. Pure ASCII is "utf-8".

    The guess can be wrong (short samples, other encodings such as Big5), so callers let the
    user override it: ``open_table(path, encoding=...)``.
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if _decodes(sample, "utf-8"):
        return "utf-8"
    utf8_text = codecs.getincrementaldecoder("utf-8")("replace").decode(sample, False)
    utf8_bad = utf8_text.count("\ufffd")
    utf8_good = len(utf8_text) - len(utf8_text.encode("ascii", "ignore")) - utf8_bad
    if utf8_good >= 4 * utf8_bad:
        return "utf-8"
    if _decodes(sample, "gb18030"):
        return "gb18030"
    gb_text = codecs.getincrementaldecoder("gb18030")("replace").decode(sample, False)
    return "utf-8" if utf8_bad <= gb_text.count("\ufffd") else "gb18030"


def _decodes(sample: bytes, encoding: str) -> bool:
    try:
        codecs.getincrementaldecoder(encoding)("strict").decode(sample, False)
    except UnicodeDecodeError:
        return False
    return True


def sniff_delimiter(text: str) -> str:
    """The delimiter among ``DELIMITERS`` that splits the first records most consistently.

    Each candidate parses the first 50 non-blank records (quotes respected). The winner splits
    the header into as many fields as most records have, is consistent across the most records,
    then gives the most fields; ties go to the earlier candidate and a single column is ",".
    Requiring the header to agree keeps thousands separators or decimal commas inside a tab or
    semicolon file from winning.
    """
    snippet = text[:65536]
    if len(text) > len(snippet) and "\n" in snippet:
        snippet = snippet[: snippet.rfind("\n") + 1]
    best, best_key = ",", (False, 0.0, 1)
    for delimiter in DELIMITERS:
        counts: list[int] = []
        try:
            for record in csv.reader(io.StringIO(snippet), delimiter=delimiter):
                if any(field.strip() for field in record):
                    counts.append(len(record))
                    if len(counts) == 50:
                        break
        except csv.Error:
            pass  # a quote cut off at the end of the snippet: keep the records parsed so far
        if not counts:
            continue
        mode, frequency = Counter(counts).most_common(1)[0]
        key = (counts[0] == mode, frequency / len(counts), mode)
        if mode > 1 and key > best_key:
            best, best_key = delimiter, key
    return best


def open_table(
    path: Path,
    *,
    file_kind: FileKind | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
    head: bool = False,
) -> TableFile:
    """Check an uploaded file and open it as a table; raise ``ReadError`` if it is not one.

    ``file_kind`` defaults to what the content says (a zip is an XLSX, anything else a CSV;
    the file name is never trusted). ``encoding`` overrides ``detect_encoding`` and ``sheet``
    (a name, or a 0-based index) the first visible worksheet; each is ignored for the other
    kind. Opening a CSV reads only its first ``SAMPLE_BYTES``; opening an XLSX parses the whole
    sheet (python-calamine has no streaming API), so reuse the returned table for headers and
    preview rather than opening the file twice.

    ``head=True`` opens only what headers and ``preview()`` need, for the upload and mapping
    pages: an XLSX is then parsed from a copy holding just its first ``XLSX_HEAD_ROWS`` rows
    (the same cell values: calamine reads the copy), in a fraction of a second instead of
    seconds per 100,000 rows. Such a table cannot stream ``batches()``.
    """
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise ReadError("empty_file")
    if size > limits.max_bytes:
        raise ReadError("too_large", size=_human_size(size), limit=_human_size(limits.max_bytes))
    with path.open("rb") as stream:
        sample = stream.read(SAMPLE_BYTES)
    if sample.startswith(_OLE_MAGIC) or (
        sample.removeprefix(codecs.BOM_UTF8).lstrip()[:16].lower().startswith(_MARKUP_PREFIXES)
    ):
        raise ReadError("unsupported_excel")
    is_zip = sample.startswith(_ZIP_MAGIC)
    if (file_kind or ("xlsx" if is_zip else "csv")) == "xlsx":
        if not is_zip:
            raise ReadError("not_a_table")
        return _XlsxTable(path, sheet=sheet, limits=limits, head=head)
    if is_zip:
        raise ReadError("not_a_table")  # a workbook (or any zip) forced through the CSV reader
    return _CsvTable(path, head=sample, whole=len(sample) == size, encoding=encoding, limits=limits)


class TableFile:
    """An opened table: its headers and a stream of its data rows. Use ``open_table()``.

    ``close()`` (or a ``with`` block) frees the temporary UTF-8 copy of a transcoded CSV and
    an XLSX's parsed sheet early; otherwise they go when the object is garbage-collected.
    """

    path: Path
    file_kind: FileKind
    headers: list[str]
    encoding: str | None  # the CSV encoding used; None for XLSX
    delimiter: str | None  # None for XLSX
    sheet_name: str | None  # None for CSV
    limits: ReadLimits
    # Internal column names of the raw frames, one per column of the header row including
    # trailing blank-header columns, whose cells must stay empty (see _finish).
    _raw_names: list[str]
    _first_column: int  # 1-based sheet column of the first raw column (for messages)

    def batches(self, batch_rows: int = 100_000) -> Iterator[pl.DataFrame]:
        """Stream the data rows: ``__row`` then the headers, all strings, no blank rows.

        Frames have at most ``batch_rows`` rows. Raises ``ReadError`` while streaming for a
        ragged or malformed row, bad bytes beyond the sample, more than ``limits.max_rows``
        data rows (before yielding the batch that crosses it), or no data rows at all.
        """
        if batch_rows < 1:
            raise ValueError("batch_rows must be positive")
        total = 0
        for raw in self._raw_frames(batch_rows, preview=False):
            frame = self._finish(raw)
            if frame.is_empty():
                continue
            total += frame.height
            if total > self.limits.max_rows:
                raise ReadError("too_many_rows", limit=f"{self.limits.max_rows:,}")
            yield frame
        if total == 0:
            raise ReadError("header_only")

    def preview(self, n: int = 20) -> pl.DataFrame:
        """The first ``n`` data rows (fewer if the file has fewer), shaped like a batch.

        A CSV's preview is parsed from the sample read by ``open_table``, so it does not
        transcode or scan the whole file (unless its first rows are megabytes long).
        """
        if n < 1:
            raise ValueError("n must be positive")
        frames: list[pl.DataFrame] = []
        found = 0
        raw_frames = self._raw_frames(n, preview=True)
        try:
            for raw in raw_frames:
                frame = self._finish(raw)
                frames.append(frame)
                found += frame.height
                if found >= n:
                    break
        finally:
            raw_frames.close()  # stops the reader behind it
        if found == 0:
            raise ReadError("header_only")
        return pl.concat(frames).head(n)

    def close(self) -> None:
        """Release temporary files and parsed data; the table cannot be read afterwards."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _raw_frames(self, batch_rows: int, *, preview: bool) -> Generator[pl.DataFrame]:
        """Frames of ``__row`` plus ``_raw_names`` (strings; "" or null when empty)."""
        raise NotImplementedError

    def _set_headers(self, cells: Sequence[str]) -> None:
        """Validate the header row and name the raw columns.

        Headers are stripped (a BOM too). Blank cells after the last header are allowed: such
        a column is dropped, and a value in it is a ragged row (nothing is dropped silently).
        """
        cleaned = [cell.replace("\ufeff", "").strip() for cell in cells]
        width = max((i + 1 for i, cell in enumerate(cleaned) if cell), default=0)
        headers = cleaned[:width]
        for i, header in enumerate(headers):
            if not header:
                column = self._first_column + i
                raise ReadError("blank_header", column=column, letter=_column_letter(column))
        counts = Counter(headers)
        duplicates = [h for h, count in counts.items() if count > 1 or h == ROW_COLUMN]
        if duplicates:
            raise ReadError("duplicate_headers", headers=gettext("、").join(duplicates))
        self.headers = headers
        self._raw_names = [f"_{i}" for i in range(len(cleaned))]

    def _finish(self, raw: pl.DataFrame) -> pl.DataFrame:
        """Empty strings to null, check and drop extra columns, drop blank rows, name columns."""
        data_names = self._raw_names[: len(self.headers)]
        extra_names = self._raw_names[len(self.headers) :]
        frame = raw.select(
            pl.col(ROW_COLUMN).cast(pl.Int64),
            *(
                pl.when(pl.col(name) != "").then(pl.col(name)).alias(name)
                for name in self._raw_names
            ),
        )
        if extra_names:
            spill = frame.filter(pl.any_horizontal(pl.col(extra_names).is_not_null()))
            if not spill.is_empty():
                first = spill.row(0, named=True)
                last = max(i for i, name in enumerate(self._raw_names) if first[name] is not None)
                raise ReadError(
                    "ragged_row", row=first[ROW_COLUMN], fields=last + 1, columns=len(data_names)
                )
        return frame.filter(~pl.all_horizontal(pl.col(data_names).is_null())).select(
            ROW_COLUMN,
            *(
                pl.col(name).alias(header)
                for name, header in zip(data_names, self.headers, strict=True)
            ),
        )


class _CsvTable(TableFile):
    """A delimited text file, read by polars from a UTF-8 copy when it is not UTF-8 already."""

    def __init__(
        self, path: Path, *, head: bytes, whole: bool, encoding: str | None, limits: ReadLimits
    ) -> None:
        self.path, self.file_kind, self.limits, self.sheet_name = path, "csv", limits, None
        self._first_column = 1
        self._utf8_copy: Path | None = None
        self._cleanup: Callable[[], object] | None = None
        guess = detect_encoding(head)
        if _looks_binary(head, guess):
            raise ReadError("not_a_table")
        if encoding:
            try:
                encoding = codecs.lookup(encoding).name
            except LookupError:
                raise ValueError(f"unknown encoding {encoding!r}") from None
        self.encoding = self._encoding = encoding or guess
        text = _decode_strict(head, self.encoding, final=whole)
        # Classic Mac files end lines with CR alone, which polars does not split on.
        self._cr_only = "\n" not in text and "\r" in text
        if self._cr_only:
            text = text.replace("\r", "\n")
        if not whole:
            if "\n" not in text:
                raise ReadError("not_a_table")  # no line break in the first megabytes
            text = text[: text.rfind("\n") + 1]  # only whole lines
        text = text.removeprefix("\ufeff")
        if not text.strip():
            raise ReadError("empty_file" if whole else "not_a_table")
        self._sample_lines = _split_lines(text)
        self._whole = whole
        self.delimiter = self._delimiter = sniff_delimiter(text)
        records = csv.reader(iter(self._sample_lines), delimiter=self._delimiter)
        header: list[str] | None = None
        self._skip_records = 0  # blank records above the header, plus the header
        try:
            for record in records:
                self._skip_records += 1
                if any(field.strip() for field in record):
                    header = record
                    break
            if header is None:
                raise ReadError("empty_file" if whole else "not_a_table")
            self._set_headers(header)
            if whole and not any(any(field.strip() for field in record) for record in records):
                raise ReadError("header_only")
        except csv.Error:
            raise ReadError("malformed_csv", row=records.line_num) from None

    def close(self) -> None:
        if self._cleanup is not None:
            self._cleanup()
        self._utf8_copy = None

    def _source(self) -> Path:
        """The file as UTF-8 with LF line ends: the upload itself, or a transcoded copy."""
        if self.encoding in ("utf-8", "utf-8-sig") and not self._cr_only:
            return self.path
        if self._utf8_copy is None:
            handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept past this block on success
                prefix="recoup-intake-", suffix=".csv", delete=False
            )
            copy = Path(handle.name)
            try:
                with handle:
                    _transcode(self.path, self._encoding, handle, cr_only=self._cr_only)
            except BaseException:
                copy.unlink(missing_ok=True)
                raise
            self._utf8_copy = copy
            self._cleanup = weakref.finalize(self, _unlink, copy)
        return self._utf8_copy

    def _preview_source(self, n: int) -> bytes | None:
        """The sample's first ``n`` data records, whole, as UTF-8 (checked as the file is).

        None when the sample holds fewer and the file goes on (rows of megabytes).
        """
        found = end = 0
        for record in _scan_records(self._sample_lines, self._delimiter):
            problem = self._problem(record)
            if problem is not None:
                if not self._whole and record.end_line == len(self._sample_lines):
                    break  # most likely a quoted cell that goes on after the sample
                raise problem
            end = record.end_line
            found += record.row > self._skip_records and record.fields > 0
            if found >= n:
                break
        if found < n and not self._whole:
            return None
        return "".join(self._sample_lines[:end]).encode("utf-8")

    def _raw_frames(self, batch_rows: int, *, preview: bool) -> Generator[pl.DataFrame]:
        source: Path | bytes | None = self._preview_source(batch_rows) if preview else None
        if source is None:
            source = self._source()
        frames = pl.scan_csv(
            source,
            has_header=False,
            separator=self._delimiter,
            quote_char='"',
            skip_rows=self._skip_records,
            schema=dict.fromkeys(self._raw_names, pl.String),
            missing_columns="insert",  # a short row's missing cells are empty
            row_index_name=ROW_COLUMN,
            row_index_offset=self._skip_records + 1,
            raise_if_empty=False,
        ).collect_batches(chunk_size=batch_rows)
        try:
            yield from frames
        except pl.exceptions.PolarsError as exc:
            # polars says "found more fields than defined", "invalid utf-8 sequence" or "CSV
            # malformed" without a line number: find the first bad record ourselves (slow,
            # but only on the error path).
            raise self._diagnose(source) from exc

    def _diagnose(self, source: Path | bytes) -> ReadError:
        stream = io.BytesIO(source) if isinstance(source, bytes) else source.open("rb")
        with stream:
            for record in _scan_records(_utf8_lines(stream, self._encoding), self._delimiter):
                problem = self._problem(record)
                if problem is not None:
                    return problem
        return ReadError("malformed_csv", row="?")

    def _problem(self, record: _Record) -> ReadError | None:
        if record.malformed:
            return ReadError("malformed_csv", row=record.row, line=record.line)
        if record.row > self._skip_records and record.fields > len(self._raw_names):
            return ReadError(
                "ragged_row",
                row=record.row,
                line=record.line,
                fields=record.fields,
                columns=len(self.headers),
            )
        return None


class _XlsxTable(TableFile):
    """An Excel workbook read with python-calamine (cached values; formulas never evaluated)."""

    def __init__(
        self, path: Path, *, sheet: str | int | None, limits: ReadLimits, head: bool = False
    ) -> None:
        self.path, self.file_kind, self.limits = path, "xlsx", limits
        self.encoding = self.delimiter = None
        self.head = False  # True when only the first rows were parsed (batches() refuses)
        self._head_copy: tempfile._TemporaryFileWrapper[bytes] | None = None
        _check_zip(path, limits)
        self._workbook = self._open(path)
        self.sheet_name = self._sheet_title = self._choose_sheet(sheet)
        if head:
            copy = _xlsx_head_copy(path, self._sheet_title, XLSX_HEAD_ROWS)
            if copy is not None:
                self._workbook.close()
                self._head_copy = copy
                self._workbook = self._open(Path(copy.name))
                self.head = True
        try:
            self._load_sheet()
        except ReadError as exc:
            if not self.head or exc.code not in ("empty_file", "header_only"):
                raise
            # Only blank rows (after the header) within the copied rows: the data may start
            # further down, so look at the whole sheet.
            self._drop_head_copy()
            self._workbook = self._open(path)
            self._load_sheet()

    def _open(self, path: Path) -> python_calamine.CalamineWorkbook:
        try:
            return python_calamine.CalamineWorkbook.from_path(path)
        except python_calamine.PasswordError:
            raise ReadError("unsupported_excel") from None
        except (python_calamine.CalamineError, OSError, ValueError) as exc:
            raise ReadError("not_a_table") from exc

    def _load_sheet(self) -> None:
        try:
            self._sheet = self._workbook.get_sheet_by_name(self._sheet_title)
        except (python_calamine.CalamineError, ValueError) as exc:
            raise ReadError("not_a_table") from exc
        start = self._sheet.start
        self._first_column = start[1] + 1 if start else 1
        # iter_rows() yields every row from row 1 (the ones above the data as empty lists),
        # but only the columns from the first used one: its index + 1 is the Excel row.
        rows = self._sheet.iter_rows()
        self._header_row = 0
        for self._header_row, cells in enumerate(rows, start=1):
            if any(not _is_blank(value) for value in cells):
                self._set_headers([_cell_text(value) for value in cells])
                break
        else:
            raise ReadError("empty_file")
        if not any(any(not _is_blank(value) for value in cells) for cells in rows):
            raise ReadError("header_only")

    def _drop_head_copy(self) -> None:
        with contextlib.suppress(python_calamine.WorkbookClosed):
            self._workbook.close()
        if self._head_copy is not None:
            self._head_copy.close()
            self._head_copy = None
        self.head = False

    def batches(self, batch_rows: int = 100_000) -> Iterator[pl.DataFrame]:
        if self.head:
            raise RuntimeError("a table opened with head=True holds only the first rows")
        return super().batches(batch_rows)

    def close(self) -> None:
        self._drop_head_copy()

    def _choose_sheet(self, sheet: str | int | None) -> str:
        names = self._workbook.sheet_names
        if not names:
            raise ReadError("not_a_table")
        if sheet is None:
            visible = [
                meta.name
                for meta in self._workbook.sheets_metadata
                if meta.visible == python_calamine.SheetVisibleEnum.Visible
                and meta.typ == python_calamine.SheetTypeEnum.WorkSheet
            ]
            return visible[0] if visible else names[0]
        if isinstance(sheet, int):
            if 0 <= sheet < len(names):
                return names[sheet]
        elif sheet in names:
            return sheet
        else:
            for name in names:
                if name.strip() == sheet.strip():
                    return name
        raise ReadError("sheet_not_found", sheet=sheet, sheets=gettext("、").join(names))

    def _raw_frames(self, batch_rows: int, *, preview: bool) -> Generator[pl.DataFrame]:
        rows = itertools.islice(self._sheet.iter_rows(), self._header_row, None)
        first_row = self._header_row + 1
        parts: list[pl.DataFrame] = []
        height = 0
        chunk = min(batch_rows, _XLSX_CHUNK_ROWS)
        while block := list(itertools.islice(rows, min(chunk, batch_rows - height))):
            parts.append(self._block_frame(block, first_row))
            first_row += len(block)
            height += len(block)
            if height == batch_rows:
                yield pl.concat(parts)
                parts, height = [], 0
        if parts:
            yield pl.concat(parts)

    def _block_frame(self, block: Sequence[Sequence[object]], first_row: int) -> pl.DataFrame:
        # Every row is as wide as the sheet's used range, like the header row (strict zips).
        columns = zip(self._raw_names, zip(*block, strict=True), strict=True)
        return pl.DataFrame(
            [
                pl.Series(ROW_COLUMN, range(first_row, first_row + len(block)), dtype=pl.Int64),
                *(
                    pl.Series(
                        name,
                        [value if type(value) is str else _cell_text(value) for value in values],
                        dtype=pl.String,
                    )
                    for name, values in columns
                ),
            ]
        )


_XML_ROW_START: Final = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s>/]")
_XML_SHEET_DATA: Final = re.compile(rb"<([A-Za-z_][\w.-]*:)?sheetData[\s>]")
_XML_DIMENSION: Final = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?dimension\b[^>]*/>")
_XML_ATTR: Final = re.compile(r'([\w:]+)\s*=\s*"([^"]*)"')


def _xlsx_head_copy(
    path: Path, sheet_name: str, rows: int
) -> tempfile._TemporaryFileWrapper[bytes] | None:
    """A temporary copy of the workbook whose sheet ``sheet_name`` keeps only its first
    ``rows`` rows (other worksheets emptied), or None when the sheet is no longer than that
    or its part cannot be found (the caller then parses the original).

    The copy is cut at the start of row ``rows + 1`` in the sheet's XML and closed there, so
    calamine reads the same cells, styles and shared strings as from the original; only the
    first megabytes of the sheet are inflated. Members are stored uncompressed: the copy is
    read once, straight away.
    """
    try:
        return _head_copy(path, sheet_name, rows)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError) as exc:
        # A member inflating past its declared size, as the full read refuses it too.
        raise ReadError("not_a_table") from exc


def _head_copy(
    path: Path, sheet_name: str, rows: int
) -> tempfile._TemporaryFileWrapper[bytes] | None:
    with zipfile.ZipFile(path) as source:
        part = _sheet_part(source, sheet_name)
        if part is None:
            return None
        head = _xml_head(source, part, rows)
        if head is None:
            return None
        copy = tempfile.NamedTemporaryFile(prefix="recoup-head-", suffix=".xlsx")  # noqa: SIM115
        try:
            with zipfile.ZipFile(copy, "w", zipfile.ZIP_STORED) as target:
                for member in source.infolist():
                    name = member.filename
                    if name == part:
                        target.writestr(name, head)
                    elif name.startswith("xl/worksheets/") and name.endswith(".xml"):
                        target.writestr(name, _EMPTY_WORKSHEET)
                    else:
                        with source.open(member) as data, target.open(name, "w") as out:
                            while chunk := data.read(_CHUNK_BYTES):
                                out.write(chunk)
            copy.flush()
        except BaseException:
            copy.close()
            raise
    return copy


_EMPTY_WORKSHEET: Final = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    b"<sheetData/></worksheet>"
)


def _sheet_part(archive: zipfile.ZipFile, sheet_name: str) -> str | None:
    """The zip member holding the worksheet named ``sheet_name`` (workbook.xml and its rels)."""
    try:
        workbook = archive.read("xl/workbook.xml").decode("utf-8", "replace")
        rels = archive.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
    except KeyError:
        return None
    rel_id = None
    for tag in re.findall(r"<(?:[\w.-]+:)?sheet\s[^>]*>", workbook):
        attrs = dict(_XML_ATTR.findall(tag))
        if html.unescape(attrs.get("name", "")) == sheet_name:
            rel_id = next((v for k, v in attrs.items() if k.endswith(":id")), None)
            break
    if rel_id is None:
        return None
    for tag in re.findall(r"<(?:[\w.-]+:)?Relationship\s[^>]*>", rels):
        attrs = dict(_XML_ATTR.findall(tag))
        if attrs.get("Id") == rel_id:
            target = html.unescape(attrs.get("Target", ""))
            name = target.lstrip("/") if target.startswith("/") else "xl/" + target
            name = str(PurePosixPath(name))  # "xl/./worksheets/sheet1.xml"
            return name if name in archive.namelist() else None
    return None


def _xml_head(archive: zipfile.ZipFile, part: str, rows: int) -> bytes | None:
    """The sheet XML up to the start of row ``rows + 1``, closed; None if it has no more rows."""
    data = bytearray()
    found = start = 0
    with archive.open(part) as stream:
        while chunk := stream.read(1 << 20):
            data += chunk
            # A row tag is a few dozen bytes: one starting in the last 64 may be cut by the
            # chunk's end, so it is counted in the next round.
            complete = len(data) - 64
            for match in _XML_ROW_START.finditer(data, start):
                if match.start() >= complete:
                    break
                start = match.end()
                found += 1
                if found > rows:
                    return _closed_head(bytes(data[: match.start()]))
            start = max(start, complete)
    return None


def _closed_head(cut: bytes) -> bytes | None:
    opened = _XML_SHEET_DATA.search(cut)
    if opened is None:
        return None
    prefix = opened.group(1) or b""
    cut = _XML_DIMENSION.sub(b"", cut, count=1)  # the original's range would be wrong
    return cut + b"</" + prefix + b"sheetData></" + prefix + b"worksheet>"


def _cell_text(value: object) -> str:
    """An XLSX cell's value as text, keeping all the information the file holds.

    - Numbers: integral floats lose ".0" (6225880012345678.0 → "6225880012345678"); others
      keep their shortest round-trip digits, written positionally ("0.1", "0.00001"). Above
      2**53 the digits Excel stored are given, not float noise (1.234567890123457e19 →
      "12345678901234570000" where str(int(v)) would say ...69216). Excel keeps only 15
      significant digits, so a 16-19 digit card number typed as a number has already lost
      its tail in the file: banks must send such columns as text, and normalisers should
      distrust long numbers ending in zeros.
    - Dates "YYYY-MM-DD", datetimes "YYYY-MM-DD HH:MM:SS" (".fff" when not whole seconds),
      times "HH:MM:SS", durations "H:MM:SS"; booleans "TRUE"/"FALSE".
    - Formulas are never evaluated: calamine returns the value Excel cached when it saved;
      a formula without a cached value (as openpyxl writes them) and an error value such as
      #N/A come back empty. Text that starts with "=" is text.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(" ", "milliseconds" if value.microsecond else "seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat("milliseconds" if value.microsecond else "seconds")
    if isinstance(value, dt.timedelta):
        seconds = round(value.total_seconds())
        sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
        return f"{sign}{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return str(value)


def _float_text(value: float) -> str:
    text = repr(value)  # the shortest digits that round-trip
    if "e" not in text and "n" not in text:  # positional (not 1e+16, 1e-05, inf or nan)
        if value == 0:
            return "0"
        return text[:-2] if text.endswith(".0") else text
    if value != value or value in (float("inf"), float("-inf")):
        return repr(value)  # not storable in XLSX; kept recognisable rather than crashing
    if value == 0:
        return "0"
    digits = Decimal(repr(value))
    if value.is_integer():
        digits = digits.to_integral_value()
    return format(digits, "f")


def _is_blank(value: object) -> bool:
    return isinstance(value, str) and not value.strip()


def _check_zip(path: Path, limits: ReadLimits) -> None:
    """Refuse a zip bomb from its central directory, before any XML is inflated.

    Trusting the declared sizes is enough: the Rust zip reader behind python-calamine stops
    with an error as soon as a member inflates past its declared size (a test pins this).
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise ReadError("not_a_table") from exc
    names = {member.filename for member in members}
    if "[Content_Types].xml" not in names or any(m.flag_bits & 0x1 for m in members):
        raise ReadError("not_a_table")  # some other zip, or an encrypted one
    total = sum(member.file_size for member in members)
    ratio = max(
        (m.file_size / max(m.compress_size, 1) for m in members if m.file_size > _ZIP_RATIO_FLOOR),
        default=1.0,
    )
    if (
        total > limits.max_xlsx_uncompressed
        or ratio > limits.max_xlsx_ratio
        or len(members) > _ZIP_MAX_MEMBERS
    ):
        raise ReadError("zip_bomb", size=_human_size(total), ratio=f"{ratio:.0f}")


def _looks_binary(head: bytes, encoding: str) -> bool:
    """Binary data renamed .csv: NUL bytes, control characters or mostly undecodable bytes."""
    text = codecs.getincrementaldecoder(encoding)("surrogateescape").decode(head, False)
    if "\x00" in text:
        return True
    size = max(len(text), 1)
    return (
        len(_CONTROL_CHARS.findall(text)) * 100 > size
        or len(_UNDECODABLE.findall(text)) * 10 > size * 3
    )


def _decode_strict(data: bytes, encoding: str, *, final: bool) -> str:
    """Decode ``data``; bad bytes raise ReadError("encoding") naming their line."""
    decoder = codecs.getincrementaldecoder(encoding)("surrogateescape")
    try:
        text: str = decoder.decode(data, final)
    except UnicodeDecodeError as exc:  # UTF-16 errors surrogateescape cannot carry
        line = exc.object[: exc.start].decode(encoding, "replace").count("\n") + 1
        raise ReadError("encoding", line=line, encoding=_encoding_label(encoding)) from None
    _check_decoded(text, encoding, lines_before=0)
    return text


def _check_decoded(text: str, encoding: str, *, lines_before: int) -> None:
    bad = _UNDECODABLE.search(text)
    if bad is not None:
        line = lines_before + text.count("\n", 0, bad.start()) + 1
        raise ReadError("encoding", line=line, encoding=_encoding_label(encoding))


def _transcode(source: Path, encoding: str, target: IO[bytes], *, cr_only: bool) -> None:
    """Copy ``source`` into ``target`` as UTF-8, chunk by chunk, refusing undecodable bytes."""
    decoder = codecs.getincrementaldecoder(encoding)("surrogateescape")
    lines = 0
    with source.open("rb") as stream:
        while True:
            chunk = stream.read(_CHUNK_BYTES)
            try:
                text: str = decoder.decode(chunk, not chunk)
            except UnicodeDecodeError:  # UTF-16 only; the line is that of the chunk's start
                raise ReadError(
                    "encoding", line=lines + 1, encoding=_encoding_label(encoding)
                ) from None
            if cr_only:
                text = text.replace("\r", "\n")
            _check_decoded(text, encoding, lines_before=lines)
            target.write(text.encode("utf-8"))
            lines += text.count("\n")
            if not chunk:
                return


def _utf8_lines(stream: Iterable[bytes], encoding: str) -> Iterator[str]:
    """Lines of a UTF-8 stream; a line that does not decode is an encoding error."""
    for number, line in enumerate(stream, start=1):
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError:
            raise ReadError("encoding", line=number, encoding=_encoding_label(encoding)) from None


def _split_lines(text: str) -> list[str]:
    """Split on LF only (like polars), keeping the line ends; not str.splitlines()."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


@dataclass(slots=True)
class _Record:
    row: int  # 1-based record number: the Excel row
    line: int  # physical line where the record starts
    end_line: int  # physical line where it ends
    fields: int  # 0 for an empty line
    malformed: bool


def _scan_records(lines: Iterable[str], delimiter: str) -> Iterator[_Record]:
    """Split CSV lines into records the way polars does and count their fields.

    Quoted fields may hold delimiters, doubled quotes and line breaks; quotes inside an
    unquoted field are text. An odd number of quotes inside an unquoted field, text after a
    closing quote, or a quote still open at the end of input is malformed (polars fails on
    those too); scanning stops after a malformed record.
    """
    row = line_number = start_line = fields = 0
    in_quotes = False
    field = f'(?:{_QUOTED_FIELD.pattern}|[^"{re.escape(delimiter)}]*)'
    one_line_record = re.compile(f"{field}(?:{re.escape(delimiter)}{field})*")
    for raw in lines:
        line_number += 1
        line = raw.removesuffix("\n").removesuffix("\r")
        if not in_quotes:
            start_line, fields = line_number, 1
            if not line:
                row += 1
                yield _Record(row, line_number, line_number, 0, malformed=False)
                continue
            if '"' not in line:  # the common case, without a character loop
                row += 1
                yield _Record(row, line_number, line_number, line.count(delimiter) + 1, False)
                continue
            if one_line_record.fullmatch(line):  # quoted fields, all closed on this line
                row += 1
                fields = _QUOTED_FIELD.sub("", line).count(delimiter) + 1
                yield _Record(row, line_number, line_number, fields, False)
                continue
        position, length, malformed = 0, len(line), False
        while True:
            if in_quotes:
                quote = line.find('"', position)
                if quote == -1:
                    break  # the quoted field goes on in the next line
                if line.startswith('""', quote):
                    position = quote + 2
                    continue
                in_quotes, position = False, quote + 1
                if position == length:
                    break
                if line[position] != delimiter:
                    malformed = True
                    break
                position, fields = position + 1, fields + 1
            elif line.startswith('"', position):
                in_quotes, position = True, position + 1
            else:
                end = line.find(delimiter, position)
                # polars keeps quotes inside an unquoted field as text, but an odd number of
                # them throws its record splitter off: that is the error to report.
                if line.count('"', position, length if end == -1 else end) % 2:
                    malformed = True
                    break
                if end == -1:
                    break
                position, fields = end + 1, fields + 1
        if in_quotes and not malformed:
            continue
        row += 1
        yield _Record(row, start_line, line_number, fields, malformed)
        if malformed:
            return
    if in_quotes:
        yield _Record(row + 1, start_line, line_number, fields, malformed=True)


def _encoding_label(encoding: str) -> str:
    name = codecs.lookup(encoding).name
    return "UTF-8" if name == "utf-8-sig" else name.upper()


def _human_size(size: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def _column_letter(number: int) -> str:
    letters = ""
    while number > 0:
        number, remainder = divmod(number - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)

"""The validation report of an import job as an XLSX workbook (in the reader's language)."""

from __future__ import annotations

import io
from typing import Any

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from recoup.core import crypto
from recoup.intake.messages import issue_message
from recoup.intake.models import ImportIssue, ImportJob, QuarantinedRow
from recoup.intake.normalise import export_cell


def issues_workbook(job: ImportJob) -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_("导入问题"))
    ws.append([_("文件"), job.file_name])
    ws.append([_("批次"), job.batch.reference if job.batch else ""])
    ws.append([_("状态"), str(job.get_status_display())])
    ws.append(
        [_("读取行数"), job.rows_read, _("有效"), job.rows_valid, _("错误"), job.rows_invalid]
    )
    ws.append([])
    ws.append([_("行号"), _("列"), _("值（已脱敏）"), _("级别"), _("问题")])
    severity = dict(ImportIssue.Severity.choices)
    issues = ImportIssue.objects.filter(job=job).order_by("row_number", "id")
    for issue in issues.iterator(chunk_size=5000):
        ws.append(
            [
                issue.row_number,
                export_cell(issue.column),
                export_cell(issue.value_masked),
                str(severity.get(issue.severity, issue.severity)),
                export_cell(issue_message(issue.code, issue.params)),
            ]
        )
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def quarantine_workbook(job: ImportJob) -> tuple[bytes, int]:
    """The quarantined rows not yet loaded, as the bank sent them, for correction: the first
    sheet has the file's own headers in its order (so the corrected sheet re-submits with
    the job's mapping), the second why each row was held back. Values are in full: callers
    check who may have them and audit it (``services.quarantine_export``). Returns the
    workbook and the number of rows in it."""
    # The headers as the file had them (a JSON list; the mapping's keys lose their order in
    # PostgreSQL's jsonb).
    headers = list(job.headers) or list(job.columns)
    wb = Workbook(write_only=True)
    rows_sheet = wb.create_sheet(_("待更正"))
    rows_sheet.append([_text_cell(rows_sheet, h) for h in headers])
    kept = QuarantinedRow.objects.filter(job=job, resolved_by__isnull=True).order_by("row_number")
    numbers: list[int] = []
    for row in kept.iterator(chunk_size=2000):
        record = crypto.unseal_json(bytes(row.sealed), aad=row.aad())
        rows_sheet.append([_text_cell(rows_sheet, record.get(h)) for h in headers])
        numbers.append(row.row_number)
    why = wb.create_sheet(_("问题"))
    why.append([_("原文件行号"), _("列"), _("问题")])
    wanted = set(numbers)
    errors = ImportIssue.objects.filter(job=job, severity="error").order_by("row_number", "id")
    for issue in errors.iterator(chunk_size=5000):
        if issue.row_number in wanted:
            why.append(
                [
                    issue.row_number,
                    export_cell(issue.column),
                    export_cell(issue_message(issue.code, issue.params)),
                ]
            )
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue(), len(numbers)


def _text_cell(sheet: Any, value: object) -> WriteOnlyCell:
    """A cell typed as text, holding the value exactly as the bank sent it.

    The other exports prefix a value that starts like a formula (``export_cell``). Here that
    would change the data the file goes back with: "+86 139…" or "-5" would return as
    "'+86 139…" and fail again. A cell typed as text is never evaluated by a spreadsheet,
    whatever it starts with, and reads back as the same string."""
    cell = WriteOnlyCell(sheet, value="" if value is None else str(value))
    cell.data_type = "s"
    return cell

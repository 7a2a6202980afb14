"""The validation report of an import job as an XLSX workbook (in the reader's language)."""

from __future__ import annotations

import io

from django.utils.translation import gettext as _
from openpyxl import Workbook

from recoup.intake.messages import issue_message
from recoup.intake.models import ImportIssue, ImportJob
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

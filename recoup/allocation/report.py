"""An allocation run as XLSX: per case, who held it before, who holds it after, and why."""

from __future__ import annotations

import io

from django.utils.translation import gettext as _
from openpyxl import Workbook

from recoup.allocation.messages import reason_label
from recoup.allocation.models import AllocationRun
from recoup.allocation.selectors import run_lines
from recoup.intake.normalise import export_cell


def _name(user: object) -> str:
    if user is None:
        return ""
    return str(getattr(user, "display_name", "") or getattr(user, "username", ""))


def run_workbook(run: AllocationRun) -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_("明细"))
    ws.append(
        [
            _("委托方案件号"),
            _("金额"),
            _("原催收员"),
            _("新催收员"),
            _("新小组"),
            _("规则"),
            _("原因"),
        ]
    )
    for line in run_lines(run).iterator(chunk_size=5000):
        # Case numbers come from the bank's file; names from people's records: never a
        # live formula in the reader's Excel.
        ws.append(
            [
                export_cell(line.case.client_case_number),
                line.balance,
                export_cell(_name(line.previous_assignee)),
                export_cell(_name(line.collector)),
                export_cell(line.team.name if line.team else ""),
                export_cell(line.rule_name),
                reason_label(line.reason, line.params),
            ]
        )
    summary = wb.create_sheet(_("汇总"))
    summary.append([_("分案批次"), run.pk, run.get_kind_display(), run.get_status_display()])
    summary.append([_("案件"), run.case_count, _("已分配"), run.placed_count])
    before = run.parameters.get("before")
    if before:
        summary.append(
            [_("交接前"), export_cell(_name(run.subject_user)), before["cases"], before["balance"]]
        )
    for row in run.result.get("collectors", []):
        summary.append([row["collector_id"], row["cases"], row["balance"]])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()

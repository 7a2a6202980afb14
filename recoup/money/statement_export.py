"""A statement exported in the client's layout: XLSX (every line, the breaks, the figures per
collector and team) and PDF (the cover: totals, breaks, figures). Each export carries who
exported it and when (SPEC §7) and is audited."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook

from recoup.audit.services import audit_record
from recoup.clients.models import Client
from recoup.core.clock import now
from recoup.core.exceptions import PermissionDenied, ValidationError
from recoup.intake.normalise import export_cell
from recoup.messaging.letters import pdf_from_html
from recoup.money.commission import performance
from recoup.money.models import Statement, StatementBreak, StatementLayout, StatementLine

if TYPE_CHECKING:
    from recoup.accounts.models import User

# What a layout may show, with Recoup's own headings (a client's layout renames and orders).
EXPORT_FIELDS: dict[str, Any] = {
    "row_number": gettext_lazy("行号"),
    "transaction_id": gettext_lazy("交易流水号"),
    "client_case_number": gettext_lazy("委托方案件号"),
    "amount": gettext_lazy("还款金额"),
    "paid_on": gettext_lazy("还款日期"),
    "result": gettext_lazy("对账结果"),
}
DEFAULT_COLUMNS = list(EXPORT_FIELDS)


@dataclass(frozen=True)
class Layout:
    title: str
    columns: list[tuple[str, str]]  # (field, heading)


def layout_for(statement: Statement) -> Layout:
    client = statement.contract.client
    month = f"{statement.month:%Y-%m}"
    saved = StatementLayout.objects.filter(client_id=client.pk).first()
    if saved is not None and saved.columns:
        columns = [(f, str(h)) for f, h in saved.columns if f in EXPORT_FIELDS]
        title = saved.title
    else:
        columns = [(f, str(EXPORT_FIELDS[f])) for f in DEFAULT_COLUMNS]
        title = _("%(client)s 回款对账单") % {"client": client.name}
    return Layout(
        title=f"{title} · {statement.contract.number} · {month} v{statement.version}",
        columns=columns,
    )


def _stamp(actor: User) -> str:
    return _("由 %(who)s 于 %(when)s 导出") % {
        "who": actor.display_name or actor.username,
        "when": now().strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def _audit(actor: User, statement: Statement, fmt: str) -> None:
    audit_record(
        action="money.statement.exported",
        actor=actor,
        organisation=statement.organisation_id,
        object_type="statement",
        object_id=statement.pk,
        data={"format": fmt, "version": statement.version},
    )


def statement_xlsx(*, actor: User, statement: Statement) -> bytes:
    layout = layout_for(statement)
    results = dict(StatementLine.Result.choices)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_("对账明细"))
    ws.append([layout.title])
    ws.append([_stamp(actor)])
    ws.append([heading for _f, heading in layout.columns])
    lines = StatementLine.objects.filter(statement_id=statement.pk).order_by("row_number")
    for line in lines.iterator(chunk_size=20_000):
        row = []
        for field, _h in layout.columns:
            value = getattr(line, field)
            if field == "result":
                value = str(results.get(value, value))
            row.append(export_cell(value))
        ws.append(row)
    ws.append([])
    ws.append([_("合计"), statement.lines_count, statement.declared_total])
    breaks = wb.create_sheet(_("差异"))
    breaks.append([_("类型"), _("流水号"), _("委托方金额"), _("我方金额"), _("状态"), _("说明")])
    kinds, statuses = dict(StatementBreak.Kind.choices), dict(StatementBreak.Status.choices)
    for brk in StatementBreak.objects.filter(statement_id=statement.pk).select_related(
        "line", "payment"
    ):
        txn = (
            brk.line.transaction_id
            if brk.line
            else (brk.payment.transaction_id if brk.payment else "")
        )
        breaks.append(
            [
                str(kinds[brk.kind]),
                export_cell(txn),
                brk.amount_client,
                brk.amount_ours,
                str(statuses[brk.status]),
                export_cell(brk.resolution),
            ]
        )
    figures = wb.create_sheet(_("业绩与佣金"))
    figures.append(
        [
            _("催收员"),
            _("案件数"),
            _("回款金额"),
            _("佣金"),
            _("联系次数"),
            _("被标记次数"),
            _("回款得分"),
            _("合规得分"),
            _("质检得分"),
            _("综合得分"),
        ]
    )
    for c in performance(statement):
        figures.append(
            [
                export_cell(c["name"]),
                c["cases"],
                c["recovered"],
                c["commission"],
                c["contacts"],
                c["flagged"],
                c["recovery_score"],
                c["compliance_score"],
                c["quality_score"],
                c["score"],
            ]
        )
    figures.append([])
    figures.append([_("小组"), _("笔数"), _("回款金额")])
    for t in statement.summary.get("teams", []):
        figures.append([export_cell(t["name"]), t["count"], t["amount"]])
    out = io.BytesIO()
    wb.save(out)
    _audit(actor, statement, "xlsx")
    return out.getvalue()


def statement_pdf(*, actor: User, statement: Statement) -> bytes:
    html = render_to_string(
        "money/statement_pdf.html",
        {
            "s": statement,
            "layout": layout_for(statement),
            "stamp": _stamp(actor),
            "breaks": StatementBreak.objects.filter(statement_id=statement.pk)
            .select_related("line", "payment")
            .order_by("id")[:500],
            "breaks_total": StatementBreak.objects.filter(statement_id=statement.pk).count(),
        },
    )
    _audit(actor, statement, "pdf")
    return pdf_from_html(html)


LAYOUT_KEEPERS = frozenset({"admin_assistant", "hq", "system_admin"})


def layout_save(*, actor: User, client: Client, title: str, columns: str) -> StatementLayout:
    """Save a client's export layout from lines ``field=heading`` (in the client's order)."""
    if not actor.role_codes & LAYOUT_KEEPERS or actor.organisation_id != client.organisation_id:
        raise PermissionDenied(_("只有委托方联络人、总公司或系统管理员可以设置对账单格式。"))
    parsed: list[list[str]] = []
    for n, raw in enumerate(columns.splitlines(), start=1):
        if not raw.strip():
            continue
        field, _sep, heading = raw.partition("=")
        field, heading = field.strip(), heading.strip()
        if field not in EXPORT_FIELDS:
            raise ValidationError(
                _("第 %(n)s 行：未知字段“%(field)s”，可用：%(known)s。")
                % {"n": n, "field": field, "known": ", ".join(EXPORT_FIELDS)},
                field="columns",
            )
        parsed.append([field, heading or str(EXPORT_FIELDS[field])])
    if not parsed:
        raise ValidationError(_("至少需要一列。"), field="columns")
    if not title.strip():
        raise ValidationError(_("请填写标题。"), field="title")
    layout, _created = StatementLayout.objects.update_or_create(
        client=client,
        defaults={
            "organisation_id": client.organisation_id,
            "title": title.strip()[:120],
            "columns": parsed,
            "updated_at": now(),
        },
    )
    audit_record(
        action="money.statement.layout_saved",
        actor=actor,
        organisation=client.organisation_id,
        object_type="statement_layout",
        object_id=layout.pk,
        data={"client": client.code, "columns": parsed},
    )
    return layout

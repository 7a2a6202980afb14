"""Monthly reconciliation (对账) per contract: the client's statement against Recoup's payments.

1. ``statement_upload`` — the bank liaison uploads the client's statement for a month with the
   figures of its cover letter (count, total, currency). The whole statement is refused, with
   every reason, if it is not clean: another currency, rows that cannot be read, a transaction
   listed twice, a date outside the month, a count or total that does not add up.
2. Matching, set-based (a month may hold two million payments): each line finds its posted
   payment by transaction id — matched, amount differs, or only in the client's statement;
   posted payments of the month missing from the statement are only in Recoup's. Each
   difference is a ``StatementBreak``.
3. Breaks are explained (``break_explain``: e.g. paid on the 30th, in the client's next
   statement) or adjusted: ``break_propose`` then ``break_approve`` by a supervisor who did not
   propose it — the missing payment recorded, ours reversed, or ours corrected.
4. ``statement_lock`` — with no break open, a supervisor locks the statement: the month's
   figures per collector and team are frozen for finance, and the commission is computed
   from the contract's table (``money.commission``).
5. A locked statement is never edited: ``statement_new_version`` supersedes it (kept) with a
   new version matched again against the payments as they are now; every step is audited.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import polars as pl
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from recoup.accounts.roles import PAYMENTS, TRANSITION
from recoup.audit.services import audit_record
from recoup.cases.models import Case
from recoup.cases.permissions import cases_user_can, user_can
from recoup.clients.locks import lock_contract_money
from recoup.clients.models import Contract
from recoup.core.bulk import cents_as_text, insert_frame
from recoup.core.clock import now
from recoup.core.db import analyze_tables, execute
from recoup.core.exceptions import PermissionDenied, ValidationError
from recoup.core.money import to_money
from recoup.intake import normalise as nz
from recoup.intake.fields import suggest_mapping
from recoup.intake.readers import ReadError, open_table
from recoup.money.commission import commission_compute
from recoup.money.models import Payment, Statement, StatementBreak, StatementLine

if TYPE_CHECKING:
    from recoup.accounts.models import User

APPROVER_ROLES = frozenset({"supervisor", "branch_manager", "hq"})
LIAISON_ROLES = frozenset({"admin_assistant", "supervisor", "branch_manager", "hq"})
MAX_PROBLEMS = 20
CURRENCY_HEADERS = {"币种", "货币", "currency", "ccy"}
L = "money_statementline"
STAGE = "money_statement_stage"


@dataclass(frozen=True)
class StatementUpload:
    contract: Contract
    month: date
    file_name: str
    stream: IO[bytes]
    currency: str
    declared_count: int
    declared_total: Decimal


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    """The first day of the next month (the range is [start, end))."""
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _audit(action: str, actor: User | None, statement: Statement, **data: Any) -> None:
    audit_record(
        action=f"money.statement.{action}",
        actor=actor,
        organisation=statement.organisation_id,
        object_type="statement",
        object_id=statement.pk,
        data={"contract": statement.contract_id, "month": f"{statement.month:%Y-%m}"} | data,
    )


def _require_liaison(actor: User, contract: Contract) -> None:
    if not (
        actor.role_codes & LIAISON_ROLES
        and actor.organisation_id == contract.organisation_id
        and cases_user_can(actor, PAYMENTS).exists()
    ):
        raise PermissionDenied(_("只有委托方联络人（协助行政）或主管可以对账。"))


def _require_approver(actor: User, statement: Statement) -> None:
    if not (
        actor.role_codes & APPROVER_ROLES
        and actor.organisation_id == statement.organisation_id
        and cases_user_can(actor, TRANSITION).exists()
    ):
        raise PermissionDenied(_("只有主管可以审批对账调整或锁定对账单。"))


# --- reading the statement ---------------------------------------------------------------


@dataclass
class _Parsed:
    frame: pl.DataFrame  # row_number, transaction_id, client_case_number, amount, paid_on
    problems: list[str]


def _parse(path: Path, month: date) -> _Parsed:
    """Every line, or every reason the statement cannot be used (first 20)."""
    problems: list[str] = []
    parts: list[pl.DataFrame] = []
    today = timezone.localdate()
    try:
        with open_table(path) as table:
            mapping = suggest_mapping(table.headers, "repayments")
            by_field = {field: header for header, field in mapping.items()}
            currency_header = next(
                (h for h in table.headers if h.strip().lower() in CURRENCY_HEADERS), None
            )
            missing = [
                label
                for field, label in (
                    ("transaction_id", _("交易流水号")),
                    ("amount", _("还款金额")),
                    ("paid_at", _("还款日期")),
                )
                if field not in by_field
            ]
            if missing:
                return _Parsed(
                    pl.DataFrame(), [_("对账单缺少列：%(cols)s。") % {"cols": "、".join(missing)}]
                )
            for df in table.batches(200_000):
                rows = df.get_column("__row")
                txn, _codes = nz.clean_text_series(df.get_column(by_field["transaction_id"]), 80)
                cents, amount_codes = nz.parse_amount_series(df.get_column(by_field["amount"]))
                paid, date_codes = nz.parse_date_series(
                    df.get_column(by_field["paid_at"]), today=today
                )
                number = (
                    nz.clean_text_series(df.get_column(by_field["client_case_number"]), 80)[0]
                    if "client_case_number" in by_field
                    else pl.Series([None] * df.height, dtype=pl.Utf8)
                )
                frame = pl.DataFrame(
                    {
                        "row_number": rows.cast(pl.Int64),
                        "transaction_id": txn,
                        "client_case_number": number.fill_null(""),
                        "cents": cents,
                        "paid_on": paid,
                        "amount_code": amount_codes,
                        "date_code": date_codes,
                        "currency": df.get_column(currency_header)
                        if currency_header
                        else pl.Series([None] * df.height, dtype=pl.Utf8),
                    }
                )
                for row in (
                    frame.filter(
                        pl.col("transaction_id").is_null()
                        | pl.col("amount_code").is_not_null()
                        | pl.col("date_code").is_not_null()
                        | pl.col("cents").is_null()
                        | pl.col("paid_on").is_null()
                    )
                    .head(MAX_PROBLEMS)
                    .iter_rows(named=True)
                ):
                    problems.append(
                        _("第 %(row)s 行：流水号、金额或日期无法识别。")
                        % {"row": row["row_number"]}
                    )
                parts.append(frame)
    except ReadError as exc:
        return _Parsed(pl.DataFrame(), [exc.message()])
    frame = pl.concat(parts) if parts else pl.DataFrame()
    if problems or frame.is_empty():
        return _Parsed(frame, problems or [_("对账单没有数据行。")])
    start, end = month_start(month), month_end(month)
    outside = frame.filter((pl.col("paid_on") < start) | (pl.col("paid_on") >= end))
    for row in outside.head(MAX_PROBLEMS).iter_rows(named=True):
        problems.append(
            _("第 %(row)s 行：还款日期 %(day)s 不在 %(month)s。")
            % {"row": row["row_number"], "day": row["paid_on"], "month": f"{month:%Y-%m}"}
        )
    foreign = frame.filter(
        pl.col("currency").is_not_null()
        & (pl.col("currency").str.strip_chars().str.to_uppercase() != settings.DEFAULT_CURRENCY)
    )
    for row in foreign.head(MAX_PROBLEMS).iter_rows(named=True):
        problems.append(
            _("第 %(row)s 行：币种 %(ccy)s，与合作协议的 %(ours)s 不同。")
            % {"row": row["row_number"], "ccy": row["currency"], "ours": settings.DEFAULT_CURRENCY}
        )
    repeated = frame.filter(pl.col("transaction_id").is_duplicated())
    for row in repeated.head(MAX_PROBLEMS).iter_rows(named=True):
        problems.append(
            _("第 %(row)s 行：流水号 %(txn)s 在对账单中重复。")
            % {"row": row["row_number"], "txn": row["transaction_id"]}
        )
    return _Parsed(
        frame.select("row_number", "transaction_id", "client_case_number", "cents", "paid_on"),
        problems[:MAX_PROBLEMS],
    )


# --- matching ----------------------------------------------------------------------------


def _match(statement: Statement, lines: pl.DataFrame | None) -> None:
    """Lines (``lines``, or the previous version's) matched to payments; breaks; counters."""
    s_id, contract_id = statement.pk, statement.contract_id
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {STAGE} (row_number integer, transaction_id varchar(80), "
            "client_case_number varchar(80), amount numeric(16, 2), paid_on date)"
        )
    try:
        if lines is not None:
            insert_frame(STAGE, lines)
        else:
            assert statement.previous_id is not None
            execute(
                f"INSERT INTO {STAGE} SELECT row_number, transaction_id, client_case_number, "
                f"amount, paid_on FROM {L} WHERE statement_id = %s",
                [statement.previous_id],
            )
        analyze_tables(STAGE)
        execute(
            f"INSERT INTO {L} (statement_id, row_number, transaction_id, client_case_number, "
            "amount, paid_on, payment_id, result) "
            "SELECT %s, t.row_number, t.transaction_id, t.client_case_number, t.amount, "
            "t.paid_on, p.id, CASE WHEN p.id IS NULL THEN 'only_client' "
            "WHEN ROUND(p.amount * 100) = ROUND(t.amount * 100) THEN 'matched' "
            "ELSE 'differs' END "
            f"FROM {STAGE} t LEFT JOIN money_payment p ON p.contract_id = %s "
            "AND p.transaction_id = t.transaction_id AND p.status = 'posted' "
            "ORDER BY t.row_number",
            [s_id, contract_id],
        )
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
    analyze_tables(L)
    execute(
        "INSERT INTO money_statementbreak (statement_id, kind, line_id, payment_id, "
        "amount_client, amount_ours, status, resolution) "
        "SELECT l.statement_id, l.result, l.id, l.payment_id, l.amount, p.amount, 'open', '' "
        f"FROM {L} l LEFT JOIN money_payment p ON p.id = l.payment_id "
        "WHERE l.statement_id = %s AND l.result IN ('differs', 'only_client') ORDER BY l.id",
        [s_id],
    )
    execute(
        "INSERT INTO money_statementbreak (statement_id, kind, line_id, payment_id, "
        "amount_client, amount_ours, status, resolution) "
        "SELECT %s, 'only_ours', NULL, p.id, NULL, p.amount, 'open', '' FROM money_payment p "
        "WHERE p.contract_id = %s AND p.status = 'posted' AND p.paid_on >= %s "
        f"AND p.paid_on < %s AND NOT EXISTS (SELECT 1 FROM {L} l WHERE l.statement_id = %s "
        "AND l.transaction_id = p.transaction_id) ORDER BY p.id",
        [s_id, contract_id, month_start(statement.month), month_end(statement.month), s_id],
    )
    _count(statement)


def _count_breaks(statement: Statement) -> None:
    """Only the open-break counter: explaining, proposing or declining moves no money, so
    the line and payment totals (millions of rows a month) need not be read again."""
    statement.breaks_open = StatementBreak.objects.filter(
        statement_id=statement.pk, status__in=["open", "proposed"]
    ).count()
    statement.save(update_fields=["breaks_open"])


def _count(statement: Statement) -> None:
    """The statement's counters, from its lines, breaks and the month's payments."""
    lines = StatementLine.objects.filter(statement_id=statement.pk).aggregate(
        n=Count("id"),
        matched=Count("id", filter=Q(result="matched")),
        matched_total=Sum("amount", filter=Q(result="matched")),
    )
    ours = Payment.objects.filter(
        contract_id=statement.contract_id,
        status=Payment.Status.POSTED,
        paid_on__gte=month_start(statement.month),
        paid_on__lt=month_end(statement.month),
    ).aggregate(n=Count("id"), total=Sum("amount"))
    statement.lines_count = lines["n"]
    statement.matched_count = lines["matched"]
    statement.matched_total = to_money(str(lines["matched_total"] or 0))
    statement.ours_count = ours["n"]
    statement.ours_total = to_money(str(ours["total"] or 0))
    statement.breaks_open = StatementBreak.objects.filter(
        statement_id=statement.pk, status__in=["open", "proposed"]
    ).count()
    statement.save(
        update_fields=[
            "lines_count",
            "matched_count",
            "matched_total",
            "ours_count",
            "ours_total",
            "breaks_open",
        ]
    )


# --- the steps ---------------------------------------------------------------------------


def statement_upload(*, actor: User, data: StatementUpload) -> Statement:
    contract = data.contract
    _require_liaison(actor, contract)
    month = month_start(data.month)
    if month > month_start(timezone.localdate()):
        raise ValidationError(_("不能对未来的月份对账。"), field="month")
    currency = data.currency.strip().upper()
    if currency != settings.DEFAULT_CURRENCY:
        raise ValidationError(
            _("对账单币种为 %(ccy)s，合作协议以 %(ours)s 结算：请委托方提供 %(ours)s 对账单。")
            % {"ccy": currency or "—", "ours": settings.DEFAULT_CURRENCY},
            field="currency",
            code="currency",
        )
    if data.declared_count < 0 or data.declared_total < 0:
        raise ValidationError(_("笔数和金额不能为负。"), field="declared_total")
    if Statement.objects.filter(
        contract=contract, month=month, status__in=["open", "locked"]
    ).exists():
        raise ValidationError(
            _("%(month)s 已有对账单：如需更改请生成新版本。") % {"month": f"{month:%Y-%m}"},
            code="exists",
        )
    content = data.stream.read()
    digest = hashlib.sha256(content).hexdigest()
    with tempfile.NamedTemporaryFile(suffix=Path(data.file_name).suffix or ".csv") as tmp:
        tmp.write(content)
        tmp.flush()
        parsed = _parse(Path(tmp.name), month)
    if parsed.problems:
        raise ValidationError(" ".join(parsed.problems), field="file", code="bad_statement")
    frame = parsed.frame
    count = frame.height
    total = Decimal(int(frame.get_column("cents").sum())) / 100
    if count != data.declared_count or total != to_money(data.declared_total):
        raise ValidationError(
            _(
                "对账单合计不符：文件有 %(count)s 笔、共 %(total)s，封面写的是 "
                "%(dcount)s 笔、共 %(dtotal)s。"
            )
            % {
                "count": count,
                "total": f"{total:,.2f}",
                "dcount": data.declared_count,
                "dtotal": f"{to_money(data.declared_total):,.2f}",
            },
            field="declared_total",
            code="totals",
        )
    lines = frame.select(
        "row_number",
        "transaction_id",
        "client_case_number",
        cents_as_text(frame.get_column("cents")).alias("amount"),
        "paid_on",
    )
    with transaction.atomic():
        statement = Statement.objects.create(
            organisation_id=contract.organisation_id,
            contract=contract,
            month=month,
            version=1,
            file=ContentFile(content, name=Path(data.file_name).name[:120]),
            file_name=Path(data.file_name).name[:255],
            sha256=digest,
            currency=currency,
            declared_count=data.declared_count,
            declared_total=to_money(data.declared_total),
            created_by=actor,
            created_at=now(),
        )
        _match(statement, lines)
        _audit(
            "uploaded",
            actor,
            statement,
            sha256=digest,
            lines=statement.lines_count,
            matched=statement.matched_count,
            breaks=statement.breaks_open,
        )
    return statement


def _open_break(brk: StatementBreak, *expected: str) -> StatementBreak:
    fresh = StatementBreak.objects.select_for_update().select_related("statement").get(pk=brk.pk)
    if fresh.statement.status != Statement.Status.OPEN:
        raise ValidationError(
            _("对账单已锁定或已被新版本取代，不能修改：如需更改请生成新版本。"), code="locked"
        )
    if fresh.status not in expected:
        raise ValidationError(
            _("该差异当前为“%(status)s”，不能执行此步骤。")
            % {"status": fresh.get_status_display()},
            code="out_of_order",
        )
    return fresh


def break_explain(*, actor: User, brk: StatementBreak, text: str) -> StatementBreak:
    _require_liaison(actor, brk.statement.contract)
    if not text.strip():
        raise ValidationError(_("请写明差异原因。"), field="text")
    with transaction.atomic():
        fresh = _open_break(brk, StatementBreak.Status.OPEN)
        fresh.status, fresh.resolution = StatementBreak.Status.EXPLAINED, text.strip()[:500]
        fresh.resolved_by, fresh.resolved_at = actor, now()
        fresh.save(update_fields=["status", "resolution", "resolved_by", "resolved_at"])
        _count_breaks(fresh.statement)
        _audit("break_explained", actor, fresh.statement, brk=fresh.pk, text=fresh.resolution)
    return fresh


def break_propose(*, actor: User, brk: StatementBreak, note: str) -> StatementBreak:
    """Propose the adjustment the break's kind calls for (approved by a supervisor)."""
    _require_liaison(actor, brk.statement.contract)
    with transaction.atomic():
        fresh = _open_break(brk, StatementBreak.Status.OPEN)
        fresh.status, fresh.resolution = StatementBreak.Status.PROPOSED, note.strip()[:500]
        fresh.proposed_by = actor
        fresh.save(update_fields=["status", "resolution", "proposed_by"])
        _count_breaks(fresh.statement)
        _audit("break_proposed", actor, fresh.statement, brk=fresh.pk, kind=fresh.kind)
    return fresh


def break_decline(*, actor: User, brk: StatementBreak, reason: str) -> StatementBreak:
    _require_approver(actor, brk.statement)
    with transaction.atomic():
        fresh = _open_break(brk, StatementBreak.Status.PROPOSED)
        fresh.status = StatementBreak.Status.OPEN
        fresh.resolution = (_("调整未获批准：%(reason)s") % {"reason": reason.strip()})[:500]
        fresh.save(update_fields=["status", "resolution"])
        _count_breaks(fresh.statement)
        _audit("break_declined", actor, fresh.statement, brk=fresh.pk, reason=reason[:300])
    return fresh


def break_approve(*, actor: User, brk: StatementBreak) -> StatementBreak:
    """Carry out the proposed adjustment: record the client's payment (only in the client's
    statement), reverse ours (only in Recoup's), or reverse ours and record the client's
    amount (amounts differ)."""
    from recoup.money import services  # services → posting → … ; imported late on purpose

    _require_approver(actor, brk.statement)
    if brk.proposed_by_id == actor.pk:
        raise PermissionDenied(_("提出调整的人不能自己审批。"))
    with transaction.atomic():
        fresh = _open_break(brk, StatementBreak.Status.PROPOSED)
        statement = fresh.statement
        lock_contract_money(statement.contract_id)
        label = f"{statement.month:%Y-%m} v{statement.version}"
        if fresh.kind in (StatementBreak.Kind.ONLY_OURS, StatementBreak.Kind.DIFFERS):
            assert fresh.payment is not None
            services.payment_reverse(
                actor=actor,
                payment=fresh.payment,
                reason=_("对账调整（%(label)s）：%(note)s")
                % {"label": label, "note": fresh.resolution},
            )
        if fresh.kind in (StatementBreak.Kind.ONLY_CLIENT, StatementBreak.Kind.DIFFERS):
            assert fresh.line is not None
            line = fresh.line
            case = (
                Case.objects.filter(
                    contract_id=statement.contract_id,
                    client_case_number=line.client_case_number,
                )
                .select_for_update()
                .first()
            )
            if case is None or not user_can(actor, PAYMENTS, case):
                raise ValidationError(
                    _("找不到该笔还款的案件（案件号“%(number)s”）：无法按对账单补记。")
                    % {"number": line.client_case_number},
                    code="no_case",
                )
            payment = services.payment_from_statement(
                actor=actor,
                case=case,
                transaction_id=line.transaction_id,
                amount=line.amount,
                paid_on=line.paid_on,
                statement_sha256=statement.sha256,
                note=_("对账调整（%(label)s）") % {"label": label},
            )
            fresh.payment = payment
            StatementLine.objects.filter(pk=line.pk).update(payment=payment)
        fresh.status, fresh.resolved_by, fresh.resolved_at = "adjusted", actor, now()
        fresh.save(update_fields=["status", "payment", "resolved_by", "resolved_at"])
        _count(statement)
        _audit("break_adjusted", actor, statement, brk=fresh.pk, kind=fresh.kind)
    return fresh


def statement_lock(*, actor: User, statement: Statement) -> Statement:
    """Freeze the month: no break open; the figures per collector and team are kept."""
    _require_approver(actor, statement)
    with transaction.atomic():
        fresh = Statement.objects.select_for_update().get(pk=statement.pk)
        if fresh.status != Statement.Status.OPEN:
            raise ValidationError(_("只有对账中的对账单可以锁定。"), code="locked")
        _count(fresh)
        if fresh.breaks_open:
            raise ValidationError(
                _("还有 %(n)s 项差异未处理（说明或调整）后才能锁定。") % {"n": fresh.breaks_open},
                code="breaks_open",
            )
        fresh.summary = _summary(fresh)
        fresh.status, fresh.locked_by, fresh.locked_at = "locked", actor, now()
        fresh.save(update_fields=["summary", "status", "locked_by", "locked_at"])
        run = commission_compute(fresh)
        _audit(
            "locked",
            actor,
            fresh,
            total=fresh.summary["total"],
            commission=str(run.commission + run.fixed),
        )
    return fresh


def _summary(statement: Statement) -> dict[str, Any]:
    """The month's reconciled payments per collector and team (to finance; commission)."""
    rows = (
        Payment.objects.filter(
            contract_id=statement.contract_id,
            status=Payment.Status.POSTED,
            paid_on__gte=month_start(statement.month),
            paid_on__lt=month_end(statement.month),
        )
        .values("collector_id", "collector__display_name", "team_id", "team__name")
        .annotate(n=Count("id"), amount=Sum("amount"))
        .order_by("collector_id")
    )
    collectors: list[dict[str, Any]] = []
    teams: dict[int | None, dict[str, Any]] = {}
    total_n, total = 0, Decimal(0)
    for r in rows:
        amount = to_money(str(r["amount"] or 0))
        collectors.append(
            {
                "id": r["collector_id"],
                "name": r["collector__display_name"] or "",
                "team_id": r["team_id"],
                "count": r["n"],
                "amount": str(amount),
            }
        )
        team = teams.setdefault(
            r["team_id"],
            {"id": r["team_id"], "name": r["team__name"] or "", "count": 0, "amount": Decimal(0)},
        )
        team["count"] += r["n"]
        team["amount"] += amount
        total_n += r["n"]
        total += amount
    return {
        "collectors": collectors,
        "teams": [t | {"amount": str(t["amount"])} for t in teams.values()],
        "total": {"count": total_n, "amount": str(total)},
        "statement": {
            "lines": statement.lines_count,
            "matched": statement.matched_count,
            "declared_total": str(statement.declared_total),
        },
    }


def statement_new_version(*, actor: User, statement: Statement, reason: str) -> Statement:
    """Supersede the statement (kept, audited) by a new version matched again now."""
    _require_liaison(actor, statement.contract)
    if not reason.strip():
        raise ValidationError(_("请说明生成新版本的原因。"), field="reason")
    with transaction.atomic():
        old = Statement.objects.select_for_update().get(pk=statement.pk)
        if old.status == Statement.Status.SUPERSEDED:
            raise ValidationError(_("该版本已被取代。"), code="superseded")
        old.status = Statement.Status.SUPERSEDED
        old.save(update_fields=["status"])
        new = Statement.objects.create(
            organisation_id=old.organisation_id,
            contract_id=old.contract_id,
            month=old.month,
            version=old.version + 1,
            file=old.file.name,
            file_name=old.file_name,
            sha256=old.sha256,
            currency=old.currency,
            declared_count=old.declared_count,
            declared_total=old.declared_total,
            previous=old,
            created_by=actor,
            created_at=now(),
            change_reason=reason.strip()[:300],
        )
        _match(new, None)
        _audit("new_version", actor, new, previous=old.pk, reason=new.change_reason)
    return new

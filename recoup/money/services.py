"""Payments by hand: record one with evidence, match or reject one the file could not post,
reverse one. Each checks who acts, refuses bad input with a reason, moves the balance only
through the case ledger and is audited. (A client's repayment file posts in
``recoup.money.posting``.)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import IO, TYPE_CHECKING

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from recoup.accounts.roles import PAYMENTS, scopes_for
from recoup.audit.services import audit_record
from recoup.cases import ledger
from recoup.cases.models import Case, LedgerEntry
from recoup.cases.permissions import user_can
from recoup.clients.locks import lock_contract_money
from recoup.contact.promises import PaymentFact, replay
from recoup.core.clock import now
from recoup.core.exceptions import NotFound, PermissionDenied, ValidationError
from recoup.core.money import to_money
from recoup.money.models import Channel, Payment
from recoup.money.plans import plans_replay
from recoup.money.posting import after_posting
from recoup.money.reductions import reductions_undo_if_unpaid

if TYPE_CHECKING:
    from recoup.accounts.models import User

MAX_EVIDENCE_BYTES = 10 * 1024 * 1024
EVIDENCE_TYPES = {".pdf", ".jpg", ".jpeg", ".png"}
# Words that name the agency or a person as the payee: seed 001 forbids private collection.
PRIVATE_PAYEE_WORDS = ("现金", "催收员", "个人账户", "私人", "代收", "cash", "collector")


def can_handle_payments(user: User) -> bool:
    """Holds a role that records and matches payments (in some scope of cases)."""
    return bool(user.is_authenticated and scopes_for(user.role_codes, PAYMENTS))


def _require(actor: User, case: Case | None) -> None:
    if case is None:
        if not can_handle_payments(actor):
            raise PermissionDenied(_("您无权处理还款。"))
        return
    if not user_can(actor, PAYMENTS, case):
        raise PermissionDenied(_("您无权处理该案件的还款。"))


@dataclass(frozen=True)
class Evidence:
    name: str
    stream: IO[bytes]


@dataclass(frozen=True)
class ManualPayment:
    transaction_id: str
    amount: Decimal
    paid_on: date
    channel: str
    note: str = ""


def _clean_amount(value: Decimal | str) -> Decimal:
    try:
        amount = to_money(value)
    except (ArithmeticError, ValueError, TypeError):
        raise ValidationError(_("金额不是有效的数字。"), field="amount") from None
    if amount <= 0:
        raise ValidationError(_("还款金额必须大于零。"), field="amount")
    return amount


def _check_post(case: Case, amount: Decimal, paid_on: date) -> None:
    """The reasons a payment cannot post to this case (the case row is locked)."""
    if case.status in ("returned", "closed"):
        raise ValidationError(
            _("案件已%(status)s，还款不能入账到该案件。") % {"status": case.get_status_display()},
            field="case",
            code="case_not_open",
        )
    if paid_on > timezone.localdate():
        raise ValidationError(_("还款日期不能晚于今天。"), field="paid_on", code="future_date")
    if paid_on < timezone.localdate(case.placed_at):
        raise ValidationError(
            _("还款日期早于委案日期 %(placed)s：该笔还款不属于本次委案。")
            % {"placed": timezone.localdate(case.placed_at).isoformat()},
            field="paid_on",
            code="before_placement",
        )
    if amount > case.total_owed:
        raise ValidationError(
            _("还款金额 %(amount)s 超过案件余额 %(balance)s。")
            % {"amount": amount, "balance": case.total_owed},
            field="amount",
            code="over_balance",
        )


def _store_evidence(evidence: Evidence) -> tuple[ContentFile[bytes], str]:
    name = evidence.name.rsplit("/", 1)[-1][:120]
    suffix = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""
    if suffix not in EVIDENCE_TYPES:
        raise ValidationError(
            _("凭证须为 PDF、JPG 或 PNG 文件。"), field="evidence", code="evidence_type"
        )
    data = evidence.stream.read(MAX_EVIDENCE_BYTES + 1)
    if len(data) > MAX_EVIDENCE_BYTES:
        raise ValidationError(_("凭证文件不能超过 10 MB。"), field="evidence")
    if not data:
        raise ValidationError(_("凭证文件是空的。"), field="evidence")
    return ContentFile(data, name=name), hashlib.sha256(data).hexdigest()


def _post(payment: Payment, case: Case, actor: User | None) -> None:
    """Post ``payment`` to the locked ``case``: ledger entry, balance, promises, 结清."""
    appended = ledger.append(
        case=case,
        kind=LedgerEntry.Kind.PAYMENT,
        amount=-payment.amount,
        effective_on=payment.paid_on,
        source_type="payment",
        source_id=payment.pk,
        idempotency_key=None,
        actor=actor,
    )
    del appended
    at = now()
    Payment.objects.filter(pk=payment.pk).update(
        status=Payment.Status.POSTED,
        exception_code="",
        posted_at=at,
        case=case,
        collector_id=case.assignee_id,
        team_id=case.team_id,
    )
    payment.status, payment.posted_at = Payment.Status.POSTED, at
    closed, _changed = after_posting(payment_ids=[payment.pk], at=at)
    if closed:
        audit_record(
            action="money.case.paid_off",
            actor=actor,
            organisation=case.organisation_id,
            case_id=case.pk,
            object_type="payment",
            object_id=payment.pk,
            data={"payment": payment.transaction_id},
        )


def payment_record(
    *, actor: User, case: Case, data: ManualPayment, evidence: Evidence | None
) -> Payment:
    """Record a payment the client reported outside its files (with the evidence) and post it.

    Refused: no evidence, a channel that is not the client's (cash or a private account:
    seed 001), a repeated transaction id, an amount that is not positive or is more than the
    balance, a date in the future or before placement, a returned or closed case."""
    _require(actor, case)
    txn = data.transaction_id.strip()
    if not txn:
        raise ValidationError(_("请填写委托方的交易流水号。"), field="transaction_id")
    if len(txn) > 80:
        raise ValidationError(_("交易流水号不能超过 80 个字符。"), field="transaction_id")
    amount = _clean_amount(data.amount)
    if data.channel not in Channel.values:
        raise ValidationError(
            _("还款只能通过委托方官方渠道；不得由催收机构或个人代收现金。"),
            field="channel",
            code="private_collection",
        )
    note = data.note.strip()
    if any(word in note.lower() for word in PRIVATE_PAYEE_WORDS):
        raise ValidationError(
            _("说明中提到现金或个人代收：催收机构不得私自收款，此类还款不能录入。"),
            field="note",
            code="private_collection",
        )
    if evidence is None:
        raise ValidationError(_("手工录入还款须上传凭证。"), field="evidence")
    content, digest = _store_evidence(evidence)
    return _record(
        actor=actor,
        case=case,
        source=Payment.Source.MANUAL,
        transaction_id=txn,
        amount=amount,
        paid_on=data.paid_on,
        channel=data.channel,
        note=note,
        evidence=content,
        digest=digest,
    )


def payment_match(*, actor: User, payment: Payment, case: Case, note: str = "") -> Payment:
    """Post an unmatched (or excepted) payment to the case the user found for it."""
    _require(actor, case)
    if case.contract_id != payment.contract_id:
        raise ValidationError(
            _("该案件不属于这笔还款的合作协议。"), field="case", code="other_contract"
        )
    with transaction.atomic():
        lock_contract_money(payment.contract_id)
        locked_payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked_payment.status not in Payment.OPEN_STATES:
            raise ValidationError(
                _("这笔还款当前状态为“%(status)s”，不能再匹配。")
                % {"status": locked_payment.get_status_display()},
                code="not_open",
            )
        locked = Case.objects.select_for_update().get(pk=case.pk)
        _check_post(locked, _clean_amount(locked_payment.amount), locked_payment.paid_on)
        Payment.objects.filter(pk=payment.pk).update(
            case=locked,
            match_method="manual",
            resolved_at=now(),
            resolved_by=actor,
            note=(note.strip() or locked_payment.note)[:500],
        )
        _post(locked_payment, locked, actor)
        audit_record(
            action="money.payment.matched",
            actor=actor,
            organisation=locked.organisation_id,
            case_id=locked.pk,
            object_type="payment",
            object_id=payment.pk,
            data={
                "transaction_id": locked_payment.transaction_id,
                "amount": str(locked_payment.amount),
                "was": locked_payment.status,
                "exception": locked_payment.exception_code,
            },
        )
    payment.refresh_from_db()
    return payment


def payment_reject(*, actor: User, payment: Payment, reason: str) -> Payment:
    """Close an unmatched or excepted payment as not the agency's to post (reason kept)."""
    _require(actor, payment.case)
    reason = reason.strip()
    if not reason:
        raise ValidationError(_("请说明驳回原因。"), field="reason")
    with transaction.atomic():
        updated = Payment.objects.filter(pk=payment.pk, status__in=Payment.OPEN_STATES).update(
            status=Payment.Status.REJECTED,
            resolved_at=now(),
            resolved_by=actor,
            reason=reason[:300],
        )
        if not updated:
            raise ValidationError(_("这笔还款已处理，不能驳回。"), code="not_open")
        audit_record(
            action="money.payment.rejected",
            actor=actor,
            organisation=payment.organisation_id,
            case_id=payment.case_id,
            object_type="payment",
            object_id=payment.pk,
            data={"transaction_id": payment.transaction_id, "reason": reason[:300]},
        )
    payment.refresh_from_db()
    return payment


def payment_reverse(*, actor: User, payment: Payment, reason: str) -> Payment:
    """Undo a posted payment (the bank's reversal, a wrong match): an opposite ledger entry.

    A case it had paid off reopens (催收中 with a collector, else 待分配); promises it kept
    give the amount back, latest first, and reopen or break by their dates."""
    if payment.case is None:
        raise NotFound(_("还款不存在。"))
    _require(actor, payment.case)
    reason = reason.strip()
    if not reason:
        raise ValidationError(_("请说明冲正原因。"), field="reason")
    with transaction.atomic():
        lock_contract_money(payment.contract_id)
        locked_payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked_payment.status != Payment.Status.POSTED:
            raise ValidationError(
                _("只有已入账的还款可以冲正（当前：%(status)s）。")
                % {"status": locked_payment.get_status_display()},
                code="not_posted",
            )
        case = Case.objects.select_for_update().get(pk=payment.case.pk)
        at = now()
        ledger.append(
            case=case,
            kind=LedgerEntry.Kind.REVERSAL,
            amount=locked_payment.amount,
            effective_on=timezone.localdate(at),
            source_type="payment",
            source_id=locked_payment.pk,
            idempotency_key=None,
            actor=actor,
            memo=reason,
        )
        Payment.objects.filter(pk=payment.pk).update(
            status=Payment.Status.REVERSED, reversed_at=at, reversed_by=actor, reason=reason[:300]
        )
        _replay_promises(case)
        plans_replay([case.pk])
        reductions_undo_if_unpaid(case)
        if case.status == Case.Status.PAID_OFF:
            back = Case.Status.IN_COLLECTION if case.assignee_id else Case.Status.PENDING_ALLOCATION
            Case.objects.filter(pk=case.pk).update(
                status=back, status_changed_at=at, closed_at=None, updated_at=at
            )
            audit_record(
                action="money.case.reopened",
                actor=actor,
                organisation=case.organisation_id,
                case_id=case.pk,
                object_type="payment",
                object_id=payment.pk,
                data={"status": back, "reason": reason[:300]},
            )
        audit_record(
            action="money.payment.reversed",
            actor=actor,
            organisation=case.organisation_id,
            case_id=case.pk,
            object_type="payment",
            object_id=payment.pk,
            data={
                "transaction_id": locked_payment.transaction_id,
                "amount": str(locked_payment.amount),
                "reason": reason[:300],
            },
        )
    payment.refresh_from_db()
    return payment


def _replay_promises(case: Case) -> None:
    """Promises judged again from the payments that still stand."""
    facts = [
        PaymentFact(case.pk, amount, paid_on)
        for amount, paid_on in Payment.objects.filter(
            case_id=case.pk, status=Payment.Status.POSTED
        ).values_list("amount", "paid_on")
    ]
    replay(case.pk, facts, today=timezone.localdate())


def payment_evidence_open(*, actor: User, payment: Payment) -> IO[bytes]:
    """The stored receipt, for download; every opening is audited (it may show bank data)."""
    if not payment.evidence:
        raise NotFound(_("这笔还款没有凭证。"))
    audit_record(
        action="money.payment.evidence_viewed",
        actor=actor,
        organisation=payment.organisation_id,
        case_id=payment.case_id,
        object_type="payment",
        object_id=payment.pk,
        data={"sha256": payment.evidence_sha256},
    )
    return payment.evidence.open("rb")


def payment_from_statement(
    *,
    actor: User,
    case: Case,
    transaction_id: str,
    amount: Decimal,
    paid_on: date,
    statement_sha256: str,
    note: str,
) -> Payment:
    """Record a payment the client's statement has and Recoup had not (a reconciliation break
    approved by a supervisor): the statement is the evidence. Same checks as by hand."""
    _require(actor, case)
    return _record(
        actor=actor,
        case=case,
        source=Payment.Source.STATEMENT,
        transaction_id=transaction_id,
        amount=_clean_amount(amount),
        paid_on=paid_on,
        channel="",
        note=note,
        evidence=None,
        digest=statement_sha256,
    )


def _record(
    *,
    actor: User,
    case: Case,
    source: str,
    transaction_id: str,
    amount: Decimal,
    paid_on: date,
    channel: str,
    note: str,
    evidence: ContentFile[bytes] | None,
    digest: str,
) -> Payment:
    """Store one payment for the case (checks under the contract and case locks) and post it."""
    with transaction.atomic():
        lock_contract_money(case.contract_id)
        locked = Case.objects.select_for_update().get(pk=case.pk)
        _check_post(locked, amount, paid_on)
        try:
            with transaction.atomic():
                payment = Payment.objects.create(
                    organisation_id=locked.organisation_id,
                    contract_id=locked.contract_id,
                    case=locked,
                    source=source,
                    status=Payment.Status.PENDING,
                    transaction_id=transaction_id,
                    amount=amount,
                    currency=locked.currency,
                    paid_on=paid_on,
                    channel=channel,
                    match_method=source,
                    client_case_number=locked.client_case_number,
                    note=note[:500],
                    evidence=evidence or "",
                    evidence_sha256=digest,
                    created_at=now(),
                    created_by=actor,
                )
        except IntegrityError:
            raise ValidationError(
                _("交易流水号 %(txn)s 已经登记过，不能重复入账。") % {"txn": transaction_id},
                field="transaction_id",
                code="duplicate_transaction",
            ) from None
        _post(payment, locked, actor)
        audit_record(
            action="money.payment.recorded",
            actor=actor,
            organisation=locked.organisation_id,
            case_id=locked.pk,
            object_type="payment",
            object_id=payment.pk,
            data={
                "transaction_id": transaction_id,
                "amount": str(amount),
                "paid_on": paid_on.isoformat(),
                "channel": channel,
                "source": source,
                "evidence_sha256": digest,
            },
        )
    payment.refresh_from_db()
    return payment

"""The money API under /api/v1/money: payments and case ledgers.

- ``GET /payments`` (filters: status, contract, case, paid dates) and ``GET /payments/{id}``;
- ``POST /payments`` records a payment reported outside the files (multipart, with the
  receipt), idempotent by the client's transaction id: a repeat is refused (400,
  ``duplicate_transaction``), never posted twice;
- ``POST /payments/{id}/match``, ``/reject``, ``/reverse`` resolve the queue;
- ``GET /cases/{case_id}/ledger``: the entrusted amount, every entry and the balance;
- ``GET /plans`` and ``/plans/{id}``: repayment plans with their instalments;
- ``GET /statements``, ``/statements/{id}``; ``POST /statements`` uploads a month's statement.

Repayment *files* come in through ``/api/v1/intake`` like every other client file.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import File, Form, Query, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import Status
from pydantic import Field

from recoup.accounts.models import User
from recoup.cases.selectors import case_get_for_user, ledger_entries
from recoup.clients.selectors import contracts_for_user
from recoup.core.exceptions import NotFound, PermissionDenied
from recoup.money import reconcile, selectors, services
from recoup.money.models import Payment, RepaymentPlan, Statement

router = Router(tags=["money"])


class ErrorOut(Schema):
    error: str
    code: str


class PaymentOut(Schema):
    id: int
    transaction_id: str
    contract: str
    case_id: int | None
    client_case_number: str
    amount: Decimal
    currency: str
    paid_on: date
    channel: str
    source: str
    status: str
    exception_code: str
    match_method: str
    posted_at: datetime | None
    reason: str


class PaymentFilters(Schema):
    status: str = ""
    contract: str = ""  # the contract number
    case_id: int | None = None
    paid_from: date | None = None
    paid_to: date | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)


class PaymentPage(Schema):
    count: int
    results: list[PaymentOut]


class MatchIn(Schema):
    case_id: int | None = None
    client_case_number: str = Field(default="", max_length=80)
    note: str = Field(default="", max_length=500)


class ReasonIn(Schema):
    reason: str = Field(max_length=300)


class EntryOut(Schema):
    id: int
    kind: str
    amount: Decimal
    effective_on: date
    source_type: str
    source_id: int | None
    memo: str
    created_at: datetime


class LedgerOut(Schema):
    case_id: int
    currency: str
    entrusted_amount: Decimal
    balance: Decimal
    entries: list[EntryOut]


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _out(p: Payment) -> dict[str, Any]:
    return {
        "id": p.pk,
        "transaction_id": p.transaction_id,
        "contract": p.contract.number,
        "case_id": p.case_id,
        "client_case_number": p.case.client_case_number if p.case else p.client_case_number,
        "amount": p.amount,
        "currency": p.currency,
        "paid_on": p.paid_on,
        "channel": p.channel,
        "source": p.source,
        "status": p.status,
        "exception_code": p.exception_code,
        "match_method": p.match_method,
        "posted_at": p.posted_at,
        "reason": p.reason,
    }


def _allowed(user: User) -> None:
    if not services.can_handle_payments(user):
        raise PermissionDenied(_("您无权处理还款。"))


@router.get("/payments", response=PaymentPage, operation_id="api_payments")
def api_payments(request: HttpRequest, filters: Query[PaymentFilters]) -> dict[str, Any]:
    user = _user(request)
    _allowed(user)
    qs = selectors.payments_for(user)
    if filters.status == "open":
        qs = qs.filter(status__in=Payment.OPEN_STATES)
    elif filters.status:
        qs = qs.filter(status=filters.status)
    if filters.contract:
        qs = qs.filter(contract__number=filters.contract)
    if filters.case_id:
        qs = qs.filter(case_id=filters.case_id)
    if filters.paid_from:
        qs = qs.filter(paid_on__gte=filters.paid_from)
    if filters.paid_to:
        qs = qs.filter(paid_on__lte=filters.paid_to)
    qs = qs.order_by("-paid_on", "-id")
    rows = qs[filters.offset : filters.offset + filters.limit]
    return {"count": qs.count(), "results": [_out(p) for p in rows]}


@router.get(
    "/payments/{payment_id}", response={200: PaymentOut, 404: ErrorOut}, operation_id="api_payment"
)
def api_payment(request: HttpRequest, payment_id: int) -> dict[str, Any]:
    return _out(selectors.payment_get(_user(request), payment_id))


@router.post(
    "/payments",
    response={201: PaymentOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    operation_id="api_payment_record",
)
def api_payment_record(
    request: HttpRequest,
    evidence: File[UploadedFile],
    client_case_number: Form[str],
    transaction_id: Form[str],
    amount: Form[Decimal],
    paid_on: Form[date],
    channel: Form[str],
    contract: Form[str] = "",
    note: Form[str] = "",
) -> Status[dict[str, Any]]:
    """Record a payment with its receipt (multipart) and post it to the case."""
    user = _user(request)
    _allowed(user)
    case = selectors.payable_case_by_number(
        user, client_case_number, contract_number=contract or None
    )
    payment = services.payment_record(
        actor=user,
        case=case,
        data=services.ManualPayment(transaction_id, amount, paid_on, channel, note),
        evidence=services.Evidence(evidence.name or "evidence", evidence),
    )
    return Status(201, _out(payment))


@router.post(
    "/payments/{payment_id}/match",
    response={200: PaymentOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    operation_id="api_payment_match",
)
def api_payment_match(request: HttpRequest, payment_id: int, body: MatchIn) -> dict[str, Any]:
    user = _user(request)
    payment = selectors.payment_get(user, payment_id)
    if body.case_id:
        case = selectors.payable_case(user, body.case_id)
    else:
        case = selectors.payable_case_by_number(
            user, body.client_case_number, contract_id=payment.contract_id
        )
    return _out(services.payment_match(actor=user, payment=payment, case=case, note=body.note))


@router.post(
    "/payments/{payment_id}/reject",
    response={200: PaymentOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    operation_id="api_payment_reject",
)
def api_payment_reject(request: HttpRequest, payment_id: int, body: ReasonIn) -> dict[str, Any]:
    user = _user(request)
    payment = selectors.payment_get(user, payment_id)
    return _out(services.payment_reject(actor=user, payment=payment, reason=body.reason))


@router.post(
    "/payments/{payment_id}/reverse",
    response={200: PaymentOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    operation_id="api_payment_reverse",
)
def api_payment_reverse(request: HttpRequest, payment_id: int, body: ReasonIn) -> dict[str, Any]:
    user = _user(request)
    payment = selectors.payment_get(user, payment_id)
    return _out(services.payment_reverse(actor=user, payment=payment, reason=body.reason))


@router.get(
    "/cases/{case_id}/ledger",
    response={200: LedgerOut, 404: ErrorOut},
    operation_id="api_case_ledger",
)
def api_case_ledger(request: HttpRequest, case_id: int) -> dict[str, Any]:
    """A case's ledger, for anyone who may see the case."""
    case = case_get_for_user(_user(request), case_id)
    entries = ledger_entries(case)
    return {
        "case_id": case.pk,
        "currency": case.currency,
        "entrusted_amount": case.entrusted_amount,
        "balance": case.total_owed,
        "entries": [
            {
                "id": e.pk,
                "kind": e.kind,
                "amount": e.amount,
                "effective_on": e.effective_on,
                "source_type": e.source_type,
                "source_id": e.source_id,
                "memo": e.memo,
                "created_at": e.created_at,
            }
            for e in entries
        ],
    }


class InstalmentOut(Schema):
    number: int
    due_on: date
    amount: Decimal
    paid_amount: Decimal
    paid_on: date | None
    status: str


class PlanOut(Schema):
    id: int
    case_id: int
    status: str
    total: Decimal
    payer: str
    proposed_at: datetime
    approved_at: datetime | None
    consent_reference: str
    signed_on: date | None
    end_reason: str
    instalments: list[InstalmentOut]


def _plan_out(plan: RepaymentPlan) -> dict[str, Any]:
    return {
        "id": plan.pk,
        "case_id": plan.case_id,
        "status": plan.status,
        "total": plan.total,
        "payer": plan.payer,
        "proposed_at": plan.proposed_at,
        "approved_at": plan.approved_at,
        "consent_reference": plan.consent_reference,
        "signed_on": plan.signed_on,
        "end_reason": plan.end_reason,
        "instalments": [
            {
                "number": i.number,
                "due_on": i.due_on,
                "amount": i.amount,
                "paid_amount": i.paid_amount,
                "paid_on": i.paid_on,
                "status": i.status,
            }
            for i in plan.instalments.order_by("number")
        ],
    }


@router.get("/plans", response=list[PlanOut], operation_id="api_plans")
def api_plans(
    request: HttpRequest, case_id: int | None = None, status: str = ""
) -> list[dict[str, Any]]:
    """Repayment plans of the cases the caller may see (at most 200, newest first)."""
    qs = selectors.plans_for(_user(request))
    if case_id:
        qs = qs.filter(case_id=case_id)
    if status:
        qs = qs.filter(status=status)
    return [_plan_out(p) for p in qs.prefetch_related("instalments")[:200]]


@router.get("/plans/{plan_id}", response={200: PlanOut, 404: ErrorOut}, operation_id="api_plan")
def api_plan(request: HttpRequest, plan_id: int) -> dict[str, Any]:
    return _plan_out(selectors.plan_get(_user(request), plan_id))


class StatementOut(Schema):
    id: int
    contract: str
    month: date
    version: int
    status: str
    currency: str
    declared_count: int
    declared_total: Decimal
    lines_count: int
    matched_count: int
    matched_total: Decimal
    ours_count: int
    ours_total: Decimal
    breaks_open: int
    locked_at: datetime | None
    summary: dict[str, Any]


def _statement_out(s: Statement) -> dict[str, Any]:
    return {
        "id": s.pk,
        "contract": s.contract.number,
        "month": s.month,
        "version": s.version,
        "status": s.status,
        "currency": s.currency,
        "declared_count": s.declared_count,
        "declared_total": s.declared_total,
        "lines_count": s.lines_count,
        "matched_count": s.matched_count,
        "matched_total": s.matched_total,
        "ours_count": s.ours_count,
        "ours_total": s.ours_total,
        "breaks_open": s.breaks_open,
        "locked_at": s.locked_at,
        "summary": s.summary,
    }


@router.get("/statements", response=list[StatementOut], operation_id="api_statements")
def api_statements(request: HttpRequest, contract: str = "") -> list[dict[str, Any]]:
    user = _user(request)
    _allowed(user)
    qs = selectors.statements_for(user)
    if contract:
        qs = qs.filter(contract__number=contract)
    return [_statement_out(s) for s in qs[:200]]


@router.get(
    "/statements/{statement_id}",
    response={200: StatementOut, 404: ErrorOut},
    operation_id="api_statement",
)
def api_statement(request: HttpRequest, statement_id: int) -> dict[str, Any]:
    return _statement_out(selectors.statement_get(_user(request), statement_id))


@router.post(
    "/statements",
    response={201: StatementOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    operation_id="api_statement_upload",
)
def api_statement_upload(
    request: HttpRequest,
    file: File[UploadedFile],
    contract: Form[str],
    month: Form[date],
    currency: Form[str],
    declared_count: Form[int],
    declared_total: Form[Decimal],
) -> Status[dict[str, Any]]:
    """Upload the client's monthly statement (multipart) with its cover figures; it is
    matched at once. Refused whole, nothing stored, if it cannot be used."""
    user = _user(request)
    found = contracts_for_user(user).filter(number=contract).first()
    if found is None:
        raise NotFound(_("合作协议不存在。"))
    statement = reconcile.statement_upload(
        actor=user,
        data=reconcile.StatementUpload(
            contract=found,
            month=month,
            file_name=file.name or "statement.csv",
            stream=file,
            currency=currency,
            declared_count=declared_count,
            declared_total=declared_total,
        ),
    )
    return Status(201, _statement_out(statement))

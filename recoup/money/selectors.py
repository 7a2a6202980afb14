"""What a person may see of payments."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.fields.files import FieldFile
from django.utils.translation import gettext as _

from recoup.accounts.roles import PAYMENTS, VIEW
from recoup.cases.models import Case
from recoup.cases.permissions import cases_user_can
from recoup.core.db import dangling_keys
from recoup.core.exceptions import NotFound
from recoup.money.models import (
    Payment,
    Reduction,
    RepaymentPlan,
    Scorecard,
    Statement,
    StatementLayout,
    WaiverAuthority,
)
from recoup.money.services import can_handle_payments

if TYPE_CHECKING:
    from recoup.accounts.models import User


def payments_for(user: User) -> QuerySet[Payment]:
    """Payments of the cases the person handles payments for, plus the unmatched ones (no
    case yet: everyone who matches payments works that queue)."""
    if not can_handle_payments(user) or user.organisation_id is None:
        return Payment.objects.none()
    cases = cases_user_can(user, PAYMENTS).values("pk")
    return (
        Payment.objects.for_org(user.organisation_id)
        .filter(Q(case__isnull=True) | Q(case_id__in=cases))
        .select_related("case", "contract")
    )


def payment_summary(qs: QuerySet[Payment]) -> dict[str, dict[str, object]]:
    """Count and amount per status."""
    return {
        row["status"]: {"count": row["n"], "amount": row["amount"]}
        for row in qs.order_by().values("status").annotate(n=Count("id"), amount=Sum("amount"))
    }


def case_payments(case_id: int) -> QuerySet[Payment]:
    return Payment.objects.filter(case_id=case_id).order_by("-paid_on", "-id")


def payable_case_by_number(
    user: User, number: str, contract_id: int | None = None, contract_number: str | None = None
) -> Case:
    """The case the person handles payments for, by the client's case number (one contract,
    or any contract when the number is unique among the person's cases)."""
    qs = cases_user_can(user, PAYMENTS).filter(client_case_number=number.strip())
    if contract_id is not None:
        qs = qs.filter(contract_id=contract_id)
    if contract_number:
        qs = qs.filter(contract__number=contract_number.strip())
    found = list(qs.select_related("contract")[:2])
    if not found:
        raise NotFound(_("找不到案件号为“%(number)s”的案件。") % {"number": number.strip()})
    if len(found) > 1:
        raise NotFound(
            _("多个合作协议下都有案件号“%(number)s”，请指明合作协议。") % {"number": number}
        )
    return found[0]


def payable_case(user: User, case_id: int) -> Case:
    case = cases_user_can(user, PAYMENTS).select_related("contract").filter(pk=case_id).first()
    if case is None:
        raise NotFound(_("案件不存在。"))
    return case


def payment_get(user: User, payment_id: int) -> Payment:
    payment = payments_for(user).filter(pk=payment_id).first()
    if payment is None:
        raise NotFound(_("还款不存在。"))
    return payment


def plans_for(user: User) -> QuerySet[RepaymentPlan]:
    """Plans of the cases the person may see."""
    if user.organisation_id is None:
        return RepaymentPlan.objects.none()
    cases = cases_user_can(user, VIEW).values("pk")
    return (
        RepaymentPlan.objects.for_org(user.organisation_id)
        .filter(case_id__in=cases)
        .select_related("case", "case__contract", "proposed_by")
    )


def plan_get(user: User, plan_id: int) -> RepaymentPlan:
    plan = plans_for(user).filter(pk=plan_id).first()
    if plan is None:
        raise NotFound(_("还款计划不存在。"))
    return plan


def plan_file(plan: RepaymentPlan, which: str) -> tuple[FieldFile, str]:
    """One of a plan's documents: consent, debtor or payer."""
    files = {
        "consent": (plan.consent_evidence, plan.consent_sha256),
        "debtor": (plan.debtor_document, plan.debtor_document_sha256),
        "payer": (plan.payer_document, plan.payer_document_sha256),
    }
    found = files.get(which)
    if found is None or not found[0]:
        raise NotFound(_("文件不存在。"))
    return found


def reductions_for(user: User) -> QuerySet[Reduction]:
    """Reductions of the cases the person may see."""
    if user.organisation_id is None:
        return Reduction.objects.none()
    cases = cases_user_can(user, VIEW).values("pk")
    return (
        Reduction.objects.for_org(user.organisation_id)
        .filter(case_id__in=cases)
        .select_related("case", "case__contract", "requested_by")
    )


def reduction_get(user: User, reduction_id: int) -> Reduction:
    found = reductions_for(user).filter(pk=reduction_id).first()
    if found is None:
        raise NotFound(_("减免申请不存在。"))
    return found


def authority_rows(organisation_id: int) -> QuerySet[WaiverAuthority]:
    return WaiverAuthority.objects.for_org(organisation_id).select_related("client")


def authority_row_get(organisation_id: int, row_id: int) -> WaiverAuthority:
    row = authority_rows(organisation_id).filter(pk=row_id).first()
    if row is None:
        raise NotFound(_("授权规则不存在。"))
    return row


def statements_for(user: User) -> QuerySet[Statement]:
    """Statements of the contracts the person reconciles (payments role)."""
    if not can_handle_payments(user) or user.organisation_id is None:
        return Statement.objects.none()
    return (
        Statement.objects.for_org(user.organisation_id)
        .select_related("contract", "contract__client", "created_by", "locked_by")
        .order_by("-month", "contract_id", "-version")
    )


def statement_get(user: User, statement_id: int) -> Statement:
    found = statements_for(user).filter(pk=statement_id).first()
    if found is None:
        raise NotFound(_("对账单不存在。"))
    return found


def scorecards(organisation_id: int) -> QuerySet[Scorecard]:
    return Scorecard.objects.for_org(organisation_id).select_related("created_by")[:20]


def statement_layout(client_id: int) -> StatementLayout | None:
    return StatementLayout.objects.filter(client_id=client_id).first()


def payments_naming_no_case(*, limit: int = 100) -> list[int]:
    """Payments whose case does not exist (ids): the check the foreign key does not make in
    the database (``Payment.case``); run daily by ``money_daily``."""
    return dangling_keys("money_payment", "case_id", "cases_case", limit=limit)


def statement_lines_naming_no_payment(*, limit: int = 100) -> list[int]:
    """Statement lines matched to a payment that does not exist (ids): the check
    ``StatementLine.payment`` does not make in the database; run daily by ``money_daily``."""
    return dangling_keys("money_statementline", "payment_id", "money_payment", limit=limit)

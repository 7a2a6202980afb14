"""The money panel on the case page and in the collector's workspace: plans and payments."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from recoup.accounts.roles import PAYMENTS, WORK
from recoup.cases.panels import CasePanel
from recoup.cases.permissions import user_can
from recoup.contact.panels import Panel
from recoup.money.models import Payment, Reduction, RepaymentPlan

if TYPE_CHECKING:
    from recoup.accounts.models import User
    from recoup.cases.models import Case


def _context(user: User, case: Case) -> dict[str, Any]:
    plans = list(RepaymentPlan.objects.filter(case_id=case.pk).order_by("-proposed_at")[:5])
    open_plan = next((p for p in plans if p.status in RepaymentPlan.OPEN_STATES), None)
    reductions = list(Reduction.objects.filter(case_id=case.pk).order_by("-requested_at")[:5])
    open_reduction = any(r.status in Reduction.OPEN_STATES for r in reductions)
    works = user_can(user, WORK, case) and not case.is_terminal
    return {
        "case": case,
        "plans": plans,
        "can_propose": works and open_plan is None,
        "reductions": reductions,
        "can_request_reduction": works and not open_reduction,
        "payments": list(Payment.objects.filter(case_id=case.pk).order_by("-paid_on", "-id")[:5]),
        "can_see_payments": user_can(user, PAYMENTS, case),
    }


def case_panel(user: User, case: Case) -> CasePanel | None:
    return CasePanel("money/_case_panel.html", _context(user, case))


def workspace_panel(user: User, case: Case) -> Panel | None:
    return Panel("money/_case_panel.html", _context(user, case))

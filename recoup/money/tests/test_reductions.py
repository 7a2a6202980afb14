"""Reductions (减免): the authority matrix, approvals, effect only once the remainder is paid."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
import time_machine

from recoup.cases import ledger
from recoup.cases.models import Case, LedgerEntry
from recoup.core.exceptions import PermissionDenied, ValidationError
from recoup.money import plans, reductions, services
from recoup.money.models import Payment, Reduction
from recoup.money.tests.helpers import balance, placed_early, post_file

pytestmark = pytest.mark.django_db

BALANCE = Decimal("10573.45")  # ada's case, 45 days overdue: M2


@pytest.fixture
def today():
    with time_machine.travel(date(2026, 11, 23), tick=False):
        yield


def pdf() -> io.BytesIO:
    return io.BytesIO(b"%PDF-1.4 proof")


def matrix(world, pct="30", stage="M2"):  # type: ignore[no-untyped-def]
    return reductions.authority_set(
        actor=world.people["hal"],
        client=world.bank_a,
        stage=stage,
        min_balance=Decimal(0),
        max_balance=Decimal("50000"),
        max_pct=Decimal(pct),
    )


def request(world, waived="2000.00", pay_by=date(2026, 12, 31)):  # type: ignore[no-untyped-def]
    return reductions.reduction_request(
        actor=world.people["ada"],
        case=world.cases["ada_case"],
        waived=Decimal(waived),
        pay_by=pay_by,
        reason="失业，家人代为筹款",
        evidence_name="失业证明.pdf",
        evidence=pdf(),
    )


def test_within_the_matrix_the_supervisor_approves_and_payment_settles_the_case(world, today):
    placed_early()
    matrix(world)
    red = request(world)
    assert (red.pct, red.authority_pct, red.needs_client) == (
        Decimal("18.92"),
        Decimal("30.00"),
        False,
    )
    red = reductions.reduction_approve(actor=world.people["sue"], reduction=red)
    assert red.status == "approved"
    # Nothing is waived before the money comes in.
    assert balance(world.cases["ada_case"]) == BALANCE
    post_file(world, [["R1", "A0001", "5000.00", "2026-11-23", ""]])
    red.refresh_from_db()
    assert red.status == "approved"
    post_file(world, [["R2", "A0001", "3573.45", "2026-11-23", ""]], name="r2.csv")
    red.refresh_from_db()
    assert red.status == "effective"
    assert red.waived_applied == Decimal("2000.00")
    case = Case.objects.get(pk=world.cases["ada_case"].pk)
    assert (case.total_owed, case.status) == (Decimal("0.00"), "settled")
    assert LedgerEntry.objects.get(case=case, kind="reduction").amount == Decimal("-2000.00")
    assert ledger.mismatches() == []


def test_above_the_matrix_the_client_must_approve_too(world, today):
    placed_early()
    matrix(world, pct="10")
    red = request(world)
    assert red.needs_client
    red = reductions.reduction_approve(actor=world.people["sue"], reduction=red)
    assert red.status == "client"
    with pytest.raises(ValidationError):
        reductions.reduction_client_approve(
            actor=world.people["amy"],
            reduction=red,
            reference="",
            evidence_name="x.pdf",
            evidence=pdf(),
        )
    with pytest.raises(PermissionDenied):
        reductions.reduction_client_approve(
            actor=world.people["ada"],
            reduction=red,
            reference="函",
            evidence_name="x.pdf",
            evidence=pdf(),
        )
    red = reductions.reduction_client_approve(
        actor=world.people["amy"],
        reduction=red,
        reference="甲银行减免批复 77",
        evidence_name="批复.pdf",
        evidence=pdf(),
    )
    assert red.status == "approved"


def test_without_a_matrix_row_every_reduction_goes_to_the_client(world, today):
    placed_early()
    matrix(world, stage="M6+")  # another stage only
    assert request(world).needs_client


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"waived": "10573.45"}, "waived"),
        ({"waived": "0"}, "waived"),
        ({"pay_by": date(2026, 11, 1)}, "pay_by"),
        ({"pay_by": date(2027, 12, 31)}, "pay_by"),
    ],
)
def test_bad_requests_are_refused_and_store_nothing(world, today, kwargs, field):
    placed_early()
    with pytest.raises(ValidationError) as err:
        request(world, **kwargs)
    assert err.value.field == field
    assert not Reduction.objects.exists()


def test_approvals_by_the_wrong_person_or_out_of_order_are_refused(world, today):
    placed_early()
    matrix(world, pct="10")
    with pytest.raises(PermissionDenied):  # only the case's collector (or above) requests
        reductions.reduction_request(
            actor=world.people["ben"],
            case=world.cases["ada_case"],
            waived=Decimal(1),
            pay_by=date(2026, 12, 1),
            reason="x",
            evidence_name="a.pdf",
            evidence=pdf(),
        )
    red = request(world)
    with pytest.raises(ValidationError) as err:  # the client's approval before the supervisor's
        reductions.reduction_client_approve(
            actor=world.people["amy"],
            reduction=red,
            reference="函",
            evidence_name="x.pdf",
            evidence=pdf(),
        )
    assert err.value.code == "out_of_order"
    for who in ("ada", "tom", "amy"):
        with pytest.raises(PermissionDenied):
            reductions.reduction_approve(actor=world.people[who], reduction=red)
    with pytest.raises(ValidationError):  # one open request per case
        request(world)
    with pytest.raises(PermissionDenied):  # only HQ / system admins keep the matrix
        reductions.authority_set(
            actor=world.people["sue"],
            client=world.bank_a,
            stage="",
            min_balance=Decimal(0),
            max_balance=None,
            max_pct=Decimal(10),
        )


def test_an_unpaid_reduction_lapses_and_changes_nothing(world, today):
    placed_early()
    matrix(world)
    red = reductions.reduction_approve(actor=world.people["sue"], reduction=request(world))
    post_file(world, [["L1", "A0001", "1000", "2026-11-23", ""]])
    assert reductions.reductions_lapse(today=date(2026, 12, 31)) == 0
    assert reductions.reductions_lapse(today=date(2027, 1, 1)) == 1
    red.refresh_from_db()
    assert red.status == "lapsed"
    assert balance(world.cases["ada_case"]) == BALANCE - 1000
    assert not LedgerEntry.objects.filter(kind="reduction").exists()


def test_a_plan_pays_a_reductions_remainder_and_a_reversal_undoes_it(world, today):
    placed_early()
    matrix(world)
    red = reductions.reduction_approve(
        actor=world.people["sue"],
        reduction=request(world, waived="573.45", pay_by=date(2027, 3, 1)),
    )
    schedule = plans.schedule_build(
        total=Decimal("10000.00"),
        count=2,
        first_amount=Decimal("5000"),
        first_due_on=date(2026, 12, 1),
    )
    plan = plans.plan_propose(
        actor=world.people["ada"],
        case=world.cases["ada_case"],
        total=Decimal("10000.00"),
        schedule=schedule,
    )
    assert plan.reduction_id == red.pk
    plans.plan_approve(actor=world.people["sue"], plan=plan)
    plans.plan_consent(
        actor=world.people["amy"],
        plan=plan,
        reference="函",
        evidence=plans.Document("c.pdf", pdf()),
    )
    plans.plan_sign(
        actor=world.people["ada"],
        plan=plan,
        signed_on=date(2026, 11, 23),
        debtor_document=plans.Document("s.pdf", pdf()),
    )
    post_file(world, [["Q1", "A0001", "10000.00", "2026-11-23", ""]])
    plan.refresh_from_db()
    assert plan.status == "completed"
    red.refresh_from_db()
    assert red.status == "effective"
    assert Case.objects.get(pk=world.cases["ada_case"].pk).status == "settled"
    services.payment_reverse(
        actor=world.people["amy"], payment=Payment.objects.get(transaction_id="Q1"), reason="退票"
    )
    red.refresh_from_db()
    assert red.status == "approved"
    case = Case.objects.get(pk=world.cases["ada_case"].pk)
    assert case.total_owed == BALANCE
    assert case.status == "collecting"
    plan.refresh_from_db()
    assert plan.status == "active"  # reopened: its instalments are unpaid again
    assert ledger.mismatches() == []


def test_a_plan_below_the_balance_needs_the_reduction_first(world, today):
    placed_early()
    schedule = plans.schedule_build(
        total=Decimal("10000.00"),
        count=2,
        first_amount=Decimal("5000"),
        first_due_on=date(2026, 12, 1),
    )
    with pytest.raises(ValidationError) as err:
        plans.plan_propose(
            actor=world.people["ada"],
            case=world.cases["ada_case"],
            total=Decimal("10000.00"),
            schedule=schedule,
        )
    assert "减免" in err.value.message

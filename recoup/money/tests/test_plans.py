"""Repayment plans: the rules, the approvals in order by the right roles, instalments kept,
late or missed, and what a broken plan does to the case."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from hypothesis import given, settings
from hypothesis import strategies as st

from recoup.audit.models import AuditEvent
from recoup.cases.models import Case, LedgerEntry
from recoup.core.exceptions import PermissionDenied, ValidationError
from recoup.money import plans
from recoup.money.models import Payment, PlanInstalment, RepaymentPlan
from recoup.money.plans import Document, Instalment, PlanRules, add_months, schedule_build
from recoup.money.tests.helpers import balance, placed_early, post_file

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 23)
BALANCE = Decimal("10573.45")


def doc(name: str = "plan.pdf") -> Document:
    return Document(name, io.BytesIO(b"%PDF-1.4 signed"))


def three_months(first: str = "3000.00") -> list[Instalment]:
    return schedule_build(
        total=BALANCE, count=3, first_amount=Decimal(first), first_due_on=date(2026, 12, 1)
    )


@pytest.fixture
def today():
    with time_machine.travel(date(2026, 11, 23), tick=False):
        yield


def running_plan(world, payer="debtor", payer_doc=True):  # type: ignore[no-untyped-def]
    case = world.cases["ada_case"]
    plan = plans.plan_propose(
        actor=world.people["ada"],
        case=case,
        total=BALANCE,
        schedule=three_months(),
        payer=payer,
        payer_name="王小红" if payer != "debtor" else "",
    )
    plans.plan_approve(actor=world.people["sue"], plan=plan)
    plans.plan_consent(
        actor=world.people["amy"],
        plan=plan,
        reference="甲银行函 2026-118",
        evidence=doc("consent.pdf"),
    )
    return plans.plan_sign(
        actor=world.people["ada"],
        plan=plan,
        signed_on=TODAY,
        debtor_document=doc(),
        payer_document=doc("payer.pdf") if payer_doc and payer != "debtor" else None,
    )


def test_a_plan_goes_through_its_steps_and_the_case_is_on_plan(world, today):
    placed_early()
    plan = running_plan(world)
    assert plan.status == "active"
    assert Case.objects.get(pk=world.cases["ada_case"].pk).status == "on_plan"
    amounts = list(plan.instalments.values_list("amount", flat=True))
    assert amounts == [Decimal("3000.00"), Decimal("3786.72"), Decimal("3786.73")]
    assert sum(amounts) == BALANCE
    actions = set(
        AuditEvent.objects.filter(object_type="repayment_plan").values_list("action", flat=True)
    )
    assert actions == {
        "money.plan.proposed",
        "money.plan.approved",
        "money.plan.consented",
        "money.plan.signed",
    }
    assert plan.rules["plan_max_months"] == 6
    assert plan.consent_sha256
    assert plan.debtor_document_sha256


def test_payments_fill_the_instalments_and_complete_the_plan(world, today):
    placed_early()
    plan = running_plan(world)
    post_file(world, [["P1", "A0001", "3000.00", "2026-11-23", ""]])
    first = plan.instalments.get(number=1)
    assert (first.status, first.paid_amount) == ("paid", Decimal("3000.00"))
    with time_machine.travel(date(2027, 1, 5), tick=False):
        # The second instalment paid four days late; then the rest.
        post_file(world, [["P2", "A0001", "3786.72", "2027-01-05", ""]], name="p2.csv")
        second = plan.instalments.get(number=2)
        assert (second.status, second.paid_on) == ("late", date(2027, 1, 5))
        post_file(world, [["P3", "A0001", "3786.73", "2027-01-05", ""]], name="p3.csv")
    plan.refresh_from_db()
    assert plan.status == "completed"
    case = Case.objects.get(pk=world.cases["ada_case"].pk)
    assert case.total_owed == 0
    assert case.status == "paid_off"


def test_a_missed_instalment_breaks_the_plan_and_the_case_returns_to_collection(world, today):
    placed_early()
    plan = running_plan(world)
    post_file(world, [["P1", "A0001", "2999.99", "2026-11-30", ""]])  # one cent short
    assert plans.plans_mark_missed(today=date(2026, 12, 6)) == 0  # within the 5 grace days
    assert plans.plans_mark_missed(today=date(2026, 12, 7)) == 1
    plan.refresh_from_db()
    assert plan.status == "broken"
    assert "第 1 期" in plan.end_reason
    assert plan.instalments.get(number=1).status == "missed"
    case = Case.objects.get(pk=world.cases["ada_case"].pk)
    assert case.status == "collecting"
    assert case.next_follow_up_at is not None
    assert AuditEvent.objects.filter(action="money.plan.broken", case_id=case.pk).exists()


def test_a_reversal_takes_the_payment_out_of_the_instalments(world, today):
    from recoup.money import services
    from recoup.money.models import Payment

    placed_early()
    plan = running_plan(world)
    post_file(world, [["P1", "A0001", "3000.00", "2026-11-23", ""]])
    services.payment_reverse(
        actor=world.people["amy"], payment=Payment.objects.get(), reason="银行退票"
    )
    first = plan.instalments.get(number=1)
    assert (first.status, first.paid_amount) == ("due", Decimal("0.00"))
    assert balance(world.cases["ada_case"]) == BALANCE


@pytest.mark.parametrize(
    ("schedule", "total", "words"),
    [
        (lambda: three_months("2114.69"), BALANCE, "20%"),  # exactly 20 % is not more than 20 %
        (
            lambda: schedule_build(
                total=BALANCE,
                count=7,
                first_amount=Decimal("3000"),
                first_due_on=date(2026, 12, 1),
            ),
            BALANCE,
            "6 个月",
        ),
        (lambda: [Instalment(date(2026, 12, 1), Decimal("10000.00"))], BALANCE, "不符"),
        (lambda: three_months(), BALANCE + 1, "超过案件余额"),
        (
            lambda: schedule_build(
                total=Decimal("9000"),
                count=2,
                first_amount=Decimal("3000"),
                first_due_on=date(2026, 12, 1),
            ),
            Decimal("9000.00"),
            "减免",
        ),
        (
            lambda: [
                Instalment(date(2026, 12, 1), Decimal("6000.00")),
                Instalment(date(2026, 12, 1), Decimal("4573.45")),
            ],
            BALANCE,
            "逐期推后",
        ),
        (lambda: [Instalment(date(2026, 11, 1), BALANCE)], BALANCE, "首期日期"),
    ],
)
def test_a_plan_breaking_a_rule_is_refused_with_the_reason(world, today, schedule, total, words):
    with pytest.raises(ValidationError) as err:
        plans.plan_propose(
            actor=world.people["ada"],
            case=world.cases["ada_case"],
            total=total,
            schedule=schedule(),
        )
    assert words in err.value.message
    assert not RepaymentPlan.objects.exists()
    assert not PlanInstalment.objects.exists()


def test_no_plan_may_run_longer_than_60_months_whatever_a_profile_says(world):
    case = world.cases["ada_case"]
    rules = PlanRules(
        max_months=min(72, plans.CEILING_MONTHS), first_min_pct=20, grace_days=5, versions={}
    )
    schedule = schedule_build(
        total=BALANCE,
        count=60,
        first_amount=Decimal("2500"),
        first_due_on=TODAY + timedelta(days=30),
    )
    ok = plans.check_schedule(case=case, total=BALANCE, schedule=schedule, rules=rules, start=TODAY)
    longer = [*schedule[:-1], Instalment(add_months(schedule[-1].due_on, 2), schedule[-1].amount)]
    too_long = plans.check_schedule(
        case=case, total=BALANCE, schedule=longer, rules=rules, start=TODAY
    )
    assert ok == []
    assert any("60 个月" in p for p in too_long)
    with pytest.raises(ValidationError):
        schedule_build(total=BALANCE, count=61, first_amount=Decimal("3000"), first_due_on=TODAY)


def test_steps_out_of_order_or_by_the_wrong_role_are_refused(world, today):
    placed_early()
    case = world.cases["ada_case"]
    with pytest.raises(PermissionDenied):  # not ada's colleague's case
        plans.plan_propose(
            actor=world.people["ben"], case=case, total=BALANCE, schedule=three_months()
        )
    plan = plans.plan_propose(
        actor=world.people["ada"], case=case, total=BALANCE, schedule=three_months()
    )
    with pytest.raises(ValidationError) as err:  # a second plan while one is open
        plans.plan_propose(
            actor=world.people["ada"], case=case, total=BALANCE, schedule=three_months()
        )
    assert err.value.code == "plan_exists"
    with pytest.raises(ValidationError) as err:  # consent before approval
        plans.plan_consent(actor=world.people["amy"], plan=plan, reference="x", evidence=doc())
    assert err.value.code == "out_of_order"
    with pytest.raises(ValidationError):  # signing before consent
        plans.plan_sign(
            actor=world.people["ada"], plan=plan, signed_on=TODAY, debtor_document=doc()
        )
    for who in ("ada", "tom", "amy"):  # collectors, team leaders, the liaison do not approve
        with pytest.raises(PermissionDenied):
            plans.plan_approve(actor=world.people[who], plan=plan)
    plans.plan_approve(actor=world.people["sue"], plan=plan)
    with pytest.raises(PermissionDenied):  # a collector does not record the client's consent
        plans.plan_consent(actor=world.people["ada"], plan=plan, reference="x", evidence=doc())
    with pytest.raises(ValidationError):  # consent needs its evidence
        plans.plan_consent(actor=world.people["amy"], plan=plan, reference="x", evidence=None)
    plan.refresh_from_db()
    assert plan.status == "approved"


def test_the_proposer_may_not_approve_their_own_plan(world, today):
    placed_early()
    plan = plans.plan_propose(
        actor=world.people["sue"],
        case=world.cases["ada_case"],
        total=BALANCE,
        schedule=three_months(),
    )
    with pytest.raises(PermissionDenied):
        plans.plan_approve(actor=world.people["sue"], plan=plan)


def test_a_relative_paying_must_sign_too(world, today):
    placed_early()
    case = world.cases["ada_case"]
    plan = plans.plan_propose(
        actor=world.people["ada"],
        case=case,
        total=BALANCE,
        schedule=three_months(),
        payer="spouse",
        payer_name="王小红",
    )
    plans.plan_approve(actor=world.people["sue"], plan=plan)
    plans.plan_consent(actor=world.people["amy"], plan=plan, reference="函", evidence=doc())
    with pytest.raises(ValidationError) as err:
        plans.plan_sign(
            actor=world.people["ada"], plan=plan, signed_on=TODAY, debtor_document=doc()
        )
    assert err.value.field == "payer_document"
    plan.refresh_from_db()
    assert plan.status == "consented"
    assert b"\xe7\x8e\x8b" not in bytes(plan.payer_name_sealed)  # the name is sealed


@settings(max_examples=200, deadline=None)
@given(
    cents=st.integers(min_value=100, max_value=10**11),
    count=st.integers(min_value=1, max_value=60),
    share=st.integers(min_value=1, max_value=99),
)
def test_a_built_schedule_adds_up_to_the_total_to_the_cent(cents, count, share):
    total = Decimal(cents) / 100
    first = (total * share / 100).quantize(Decimal("0.01"))
    try:
        schedule = schedule_build(
            total=total, count=count, first_amount=first, first_due_on=date(2026, 1, 31)
        )
    except ValidationError:
        return  # too many instalments for the amount, or a first instalment of everything
    assert sum(i.amount for i in schedule) == total
    assert all(i.amount > 0 and i.amount == i.amount.quantize(Decimal("0.01")) for i in schedule)
    assert len(schedule) == count
    dates = [i.due_on for i in schedule]
    assert dates == sorted(set(dates))


def test_the_daily_command_breaks_plans_and_checks_the_ledgers(world, today):
    from io import StringIO

    from django.core.management import CommandError, call_command

    placed_early()
    plan = running_plan(world)
    out = StringIO()
    call_command("money_daily", "--today", "2026-12-07", stdout=out)
    assert "1 plan(s) broken" in out.getvalue()
    assert "every balance matches" in out.getvalue()
    plan.refresh_from_db()
    assert plan.status == "broken"
    Case.objects.filter(pk=world.cases["fay_case"].pk).update(total_owed=1)  # behind the ledger
    with pytest.raises(CommandError, match="differ from their ledger"):
        call_command("money_daily", "--today", "2026-12-08", stdout=StringIO(), stderr=StringIO())


def test_the_daily_command_finds_entries_and_payments_naming_no_case(world, today):
    """The ledger's and payments' case keys have no database check (bulk speed): the daily
    command is that check."""
    from io import StringIO

    from django.core.management import CommandError, call_command
    from django.db import connection

    placed_early()
    post_file(world, [["Q1", "A0001", "300.00", "2026-11-20", ""]])
    ledger_entry = LedgerEntry.objects.order_by("id").first()
    payment = Payment.objects.order_by("id").first()
    assert ledger_entry is not None
    assert payment is not None
    ghost = Case.objects.order_by("-id").values_list("id", flat=True)[0] + 1000
    with connection.cursor() as cursor:  # what no code path does: a key naming nothing
        cursor.execute(
            "UPDATE cases_ledgerentry SET case_id = %s WHERE id = %s", [ghost, ledger_entry.pk]
        )
        cursor.execute("UPDATE money_payment SET case_id = %s WHERE id = %s", [ghost, payment.pk])
    err = StringIO()
    with pytest.raises(CommandError, match="name no existing case"):
        call_command("money_daily", "--today", "2026-12-01", stdout=StringIO(), stderr=err)
    assert f"ledger entry {ledger_entry.pk} names a case" in err.getvalue()
    assert f"payment {payment.pk} names a case" in err.getvalue()

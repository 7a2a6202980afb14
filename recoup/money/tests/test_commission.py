"""Commission from the locked statement, and a scorecard that is never recovery alone."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
import time_machine

from recoup.cases.models import Case
from recoup.clients.services import ContractInput, contract_create
from recoup.core.exceptions import PermissionDenied, ValidationError
from recoup.intake.tests.conftest import csv_bytes
from recoup.money import commission, reconcile
from recoup.money.models import CommissionLine, Scorecard
from recoup.money.tests.helpers import placed_early, post_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def today():
    with time_machine.travel(date(2026, 11, 23), tick=False):
        yield


def lock_november(world, rows):  # type: ignore[no-untyped-def]
    statement = reconcile.statement_upload(
        actor=world.people["amy"],
        data=reconcile.StatementUpload(
            contract=world.contract_a,
            month=date(2026, 11, 1),
            file_name="s.csv",
            stream=io.BytesIO(
                csv_bytes(
                    [r[:4] for r in rows],
                    headers=["交易流水号", "案件编号", "还款金额", "还款日期"],
                )
            ),
            currency="CNY",
            declared_count=len(rows),
            declared_total=sum(Decimal(r[2]) for r in rows),
        ),
    )
    return reconcile.statement_lock(actor=world.people["sue"], statement=statement)


def test_commission_by_stage_with_a_fixed_fee_per_paid_off_case(world, today):
    placed_early()
    world.contract_a.commission_table = {
        "by_stage": {"M2": "0.10", "M6+": "0.28", "*": "0.05"},
        "fixed_per_case": "50.00",
    }
    world.contract_a.save(update_fields=["commission_table"])
    Case.objects.filter(pk=world.cases["fay_case"].pk).update(stage="M6+")
    rows = [
        ["C1", "A0001", "1000.00", "2026-11-10", ""],
        ["C2", "A0002", "10573.45", "2026-11-12", ""],  # fay's case paid off
    ]
    post_file(world, rows)
    statement = lock_november(world, rows)
    run = statement.commission
    lines = {line.case_id: line for line in CommissionLine.objects.filter(run=run)}
    ada, fay = lines[world.cases["ada_case"].pk], lines[world.cases["fay_case"].pk]
    assert (ada.rate, ada.commission, ada.fixed) == (Decimal("0.1"), Decimal("100.00"), 0)
    assert (fay.rate, fay.commission, fay.fixed) == (
        Decimal("0.28"),
        Decimal("2960.57"),
        Decimal("50.00"),
    )
    assert (run.recovered, run.commission, run.fixed) == (
        Decimal("11573.45"),
        Decimal("3060.57"),
        Decimal("50.00"),
    )
    by_name = {c["name"]: c for c in run.summary["collectors"]}
    assert by_name[world.people["fay"].display_name]["commission"] == "3010.57"


def test_commission_by_recovery_tier(world, today):
    placed_early()
    world.contract_a.commission_table = {
        "tiers": [{"from": "0", "rate": "0.05"}, {"from": "0.02", "rate": "0.08"}]
    }
    world.contract_a.save(update_fields=["commission_table"])
    rows = [["K1", "A0001", "600.00", "2026-11-10", ""]]  # 600 of 21 146.90 entrusted: 2.8 %
    post_file(world, rows)
    run = lock_november(world, rows).commission
    assert run.recovery_rate > Decimal("0.02")
    assert CommissionLine.objects.get(run=run).rate == Decimal("0.08")
    assert run.commission == Decimal("48.00")


@pytest.mark.parametrize(
    "table",
    [
        {"by_stage": {"M2": "1.5"}},
        {"by_stage": {"M9": "0.1"}},
        {"bonus": "1"},
        {"tiers": [{"rate": "0.1"}]},
        {"fixed_per_case": "-5"},
    ],
)
def test_a_commission_table_that_cannot_be_used_is_refused_with_the_contract(world, table):
    with pytest.raises(ValidationError):
        contract_create(
            client=world.bank_a,
            data=ContractInput(
                number="A-9", name="x", starts_on=date(2026, 1, 1), commission_table=table
            ),
            actor=world.people["sam"],
        )


def test_a_scorecard_on_recovery_alone_is_refused(world):
    hal = world.people["hal"]
    with pytest.raises(ValidationError) as err:
        commission.scorecard_save(actor=hal, name="只看回款", recovery=100, compliance=0, quality=0)
    assert err.value.code == "recovery_only"
    with pytest.raises(ValidationError):
        commission.scorecard_save(actor=hal, name="x", recovery=50, compliance=30, quality=30)
    with pytest.raises(PermissionDenied):
        commission.scorecard_save(
            actor=world.people["sue"], name="x", recovery=60, compliance=40, quality=0
        )
    card = commission.scorecard_save(actor=hal, name="2026", recovery=60, compliance=25, quality=15)
    assert Scorecard.objects.get(active=True) == card


def test_collector_performance_for_finance(world, today):
    placed_early()
    rows = [
        ["P1", "A0001", "1000.00", "2026-11-10", ""],
        ["P2", "A0002", "500.00", "2026-11-10", ""],
    ]
    post_file(world, rows)
    commission.scorecard_save(
        actor=world.people["hal"], name="2026", recovery=50, compliance=30, quality=20
    )
    statement = lock_november(world, rows)
    table = commission.performance(statement)
    assert [r["name"] for r in table] == [
        world.people["ada"].display_name,
        world.people["fay"].display_name,
    ]
    ada = table[0]
    assert (ada["recovery_score"], ada["compliance_score"], ada["score"]) == (
        "100.0",
        "100.0",
        "100.0",
    )
    assert table[1]["score"] == "75.0"  # 50 × 0.5 + 100 × 0.3 + 100 × 0.2

"""Incremental files: balance updates, recalls, closures and repayments."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.apps import apps

from recoup.cases.models import Case
from recoup.intake import services
from recoup.intake.models import ImportIssue, IncrementalRow
from recoup.intake.tests.conftest import csv_bytes
from tests.fixtures import make_id_number

pytestmark = pytest.mark.django_db


def run_file(world, kind, headers, rows, *, name="update.csv"):
    up = services.Upload(
        contract=world.contract_a,
        kind=kind,
        file=io.BytesIO(csv_bytes(rows, headers=headers)),
        file_name=name,
    )
    job = services.import_upload(upload=up, actor=world.amy)
    services.import_confirm(job=job, columns=job.columns, actor=world.amy)
    return services.import_run(job_id=job.pk)


def test_a_balance_file_updates_amounts_and_keeps_the_previous_total(world):
    job = run_file(
        world,
        "balances",
        ["案件编号", "本金", "利息", "欠款总额"],
        [["A0001", "9,000.00", "100.00", "9,150.00"], ["NOPE", "1", "1", "2"]],
    )
    assert job.status == "succeeded", job.error_message
    case = Case.objects.get(pk=world.cases["ada_case"].pk)
    assert case.total_owed == Decimal("9150.00")
    assert case.principal == Decimal("9000.00")
    assert case.fees == Decimal("50.00")  # not in the file: unchanged
    row = IncrementalRow.objects.get(job=job, client_case_number="A0001")
    assert row.previous_total == Decimal("10573.45")
    assert row.state == "applied"
    assert ImportIssue.objects.filter(job=job, code="no_case_match").exists()


def test_recalls_return_cases_and_closures_close_them(world):
    job = run_file(world, "recalls", ["案件编号", "撤案原因"], [["A0001", "委托方收回"]])
    assert job.status == "succeeded", job.error_message
    assert Case.objects.get(pk=world.cases["ada_case"].pk).status == "returned"
    job = run_file(
        world,
        "closures",
        ["案件编号", "结案原因"],
        [["A0002", "已在行内结清"], ["A0001", "x"]],
        name="close.csv",
    )
    assert Case.objects.get(pk=world.cases["fay_case"].pk).status == "closed"
    assert ImportIssue.objects.filter(job=job, code="case_already_closed").exists()


REPAY_HEADERS = ["交易流水号", "案件编号", "卡号", "身份证号", "还款金额", "还款日期", "还款渠道"]


def _repayment_rows() -> list[list[str]]:
    return [
        ["T1", "A0001", "", "", "500.00", "2026-11-20", "银行柜台"],
        ["T2", "", "6225880000000003", "", "300", "2026/11/21", "APP"],  # fay's card
        ["T3", "", "", make_id_number(1), "200元", "20261121", ""],  # ada's ID number
        ["T4", "", "", "", "100", "2026-11-21", ""],  # no way to match
        ["T1", "A0001", "", "", "500.00", "2026-11-20", "银行柜台"],  # repeated transaction
    ]


def test_repayments_are_matched_by_number_account_or_id_and_posted_once(world):
    """With the money app posting them, the payments are the record of the file's rows (the
    staged rows are not kept twice)."""
    Payment = apps.get_model("money", "Payment")
    Case.objects.update(placed_at=datetime(2026, 11, 1, tzinfo=UTC))
    job = run_file(world, "repayments", REPAY_HEADERS, _repayment_rows())
    assert job.status == "succeeded", job.error_message
    paid = {p.transaction_id: p for p in Payment.objects.filter(job=job)}
    assert set(paid) == {"T1", "T2", "T3", "T4"}
    assert (paid["T1"].case_id, paid["T1"].match_method, paid["T1"].row_number) == (
        world.cases["ada_case"].pk,
        "case_number",
        2,
    )
    assert (paid["T2"].case_id, paid["T2"].match_method) == (
        world.cases["fay_case"].pk,
        "account_number",
    )
    assert (paid["T3"].case_id, paid["T3"].match_method) == (
        world.cases["ada_case"].pk,
        "id_number",
    )
    assert paid["T3"].amount == Decimal("200.00")
    assert paid["T4"].status == "unmatched"
    assert not IncrementalRow.objects.filter(job=job).exists()
    assert job.rows_duplicate == 1
    assert ImportIssue.objects.get(job=job, code="duplicate_transaction").row_number == 6
    assert Case.objects.get(pk=world.cases["ada_case"].pk).total_owed == Decimal("9873.45")
    assert job.rows_loaded == 3
    # The same transaction in a later file is recognised too, and posts nothing.
    again = run_file(
        world,
        "repayments",
        REPAY_HEADERS,
        [["T1", "A0001", "", "", "500.00", "2026-11-20", ""]],
        name="again.csv",
    )
    assert again.status == "succeeded"
    assert again.rows_duplicate == 1
    assert ImportIssue.objects.filter(job=again, code="duplicate_transaction").count() == 1
    assert Payment.objects.filter(transaction_id="T1").count() == 1
    assert Case.objects.get(pk=world.cases["ada_case"].pk).total_owed == Decimal("9873.45")


def test_without_an_app_posting_them_repayment_rows_are_stored_matched(world, monkeypatch):
    from recoup.intake import hooks

    monkeypatch.setattr(hooks, "_HANDLERS", [])
    Case.objects.update(placed_at=datetime(2026, 11, 1, tzinfo=UTC))
    job = run_file(world, "repayments", REPAY_HEADERS, _repayment_rows())
    assert job.status == "succeeded", job.error_message
    stored = {r.transaction_id: r for r in IncrementalRow.objects.filter(job=job)}
    assert stored["T1"].case_id == world.cases["ada_case"].pk
    assert stored["T1"].match_method == "case_number"
    assert stored["T2"].case_id == world.cases["fay_case"].pk
    assert stored["T2"].match_method == "account_number"
    assert stored["T3"].case_id == world.cases["ada_case"].pk
    assert stored["T3"].match_method == "id_number"
    assert stored["T3"].amount == Decimal("200.00")
    assert stored["T4"].state == "unmatched"
    assert IncrementalRow.objects.filter(job=job, transaction_id="T1").count() == 2
    assert (
        IncrementalRow.objects.filter(job=job, transaction_id="T1", state="duplicate").count() == 1
    )
    assert stored["T3"].state == "applied"
    assert not stored["T3"].posted
    assert Case.objects.get(pk=world.cases["ada_case"].pk).total_owed == Decimal("10573.45")
    again = run_file(
        world,
        "repayments",
        REPAY_HEADERS,
        [["T1", "A0001", "", "", "500.00", "2026-11-20", ""]],
        name="again.csv",
    )
    assert IncrementalRow.objects.get(job=again).state == "duplicate"


def test_a_bad_amount_in_a_balance_file_changes_nothing_under_the_reject_policy(world):
    world.contract_a.import_error_policy = "reject"
    world.contract_a.save(update_fields=["import_error_policy"])
    job = run_file(
        world, "balances", ["案件编号", "欠款总额"], [["A0001", "9,150.00"], ["A0002", "-1"]]
    )
    assert job.status == "rejected"
    assert Case.objects.get(pk=world.cases["ada_case"].pk).total_owed == Decimal("10573.45")
    assert not IncrementalRow.objects.filter(job=job).exists()


def test_a_repayment_made_today_is_accepted_just_after_midnight_in_china(world):
    """At 00:30 in Beijing the UTC date is still yesterday: a payment dated today (local) is
    not "in the future". (A browser test failed every night from 00:00 to 08:00.)"""
    Payment = apps.get_model("money", "Payment")
    just_after_midnight = datetime(2026, 11, 24, 0, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    with time_machine.travel(just_after_midnight, tick=False):
        job = run_file(
            world,
            "repayments",
            REPAY_HEADERS,
            [["TX-N1", "A0001", "", "", "300.00", "2026-11-24", ""]],
        )
    assert job.status == "succeeded", job.error_message
    assert not ImportIssue.objects.filter(job=job, code="date_in_future").exists()
    assert Payment.objects.get(transaction_id="TX-N1").paid_on.isoformat() == "2026-11-24"

"""Repayment files and evidence for the money tests."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal

from recoup.cases.models import Case
from recoup.intake import services as intake
from recoup.intake.tests.conftest import csv_bytes
from recoup.money.services import Evidence, ManualPayment

HEADERS = ["交易流水号", "案件编号", "还款金额", "还款日期", "还款渠道"]
PLACED = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def placed_early() -> None:
    """The world's cases were placed on 1 November (payments in November are theirs)."""
    Case.objects.update(placed_at=PLACED)


def post_file(world, rows, *, name="repay.csv", actor=None):  # type: ignore[no-untyped-def]
    up = intake.Upload(
        contract=world.contract_a,
        kind="repayments",
        file=io.BytesIO(csv_bytes(rows, headers=HEADERS)),
        file_name=name,
    )
    job = intake.import_upload(upload=up, actor=actor or world.people["amy"])
    intake.import_confirm(job=job, columns=job.columns, actor=actor or world.people["amy"])
    return intake.import_run(job_id=job.pk)


def pdf() -> Evidence:
    return Evidence("回单.pdf", io.BytesIO(b"%PDF-1.4 receipt"))


def manual(txn: str, amount: str, paid_on: date = date(2026, 11, 20), channel: str = "bank_app"):  # type: ignore[no-untyped-def]
    return ManualPayment(
        transaction_id=txn, amount=Decimal(amount), paid_on=paid_on, channel=channel
    )


def balance(case: Case) -> Decimal:
    return Case.objects.values_list("total_owed", flat=True).get(pk=case.pk)

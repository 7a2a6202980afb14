"""A client's repayment file, posted: balances, exceptions, idempotency, promises, 结清."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from recoup.audit.models import AuditEvent
from recoup.cases import ledger
from recoup.cases.models import Case, LedgerEntry
from recoup.contact.models import Promise
from recoup.money.models import Payment
from recoup.money.tests.helpers import PLACED, balance, placed_early, post_file

pytestmark = pytest.mark.django_db

START = Decimal("10573.45")  # each world case: 10 000.00 + 523.45 + 50.00


def test_a_file_posts_its_payments_and_the_balances_follow(world):
    placed_early()
    ada, fay = world.cases["ada_case"], world.cases["fay_case"]
    job = post_file(
        world,
        [
            ["T1", "A0001", "500.00", "2026-11-20", "手机银行"],
            ["T2", "A0001", "73.45", "2026-11-21", "柜台"],
            ["T3", "A0002", "1,000", "2026-11-21", ""],
            ["T4", "ZZZZ", "10", "2026-11-21", ""],  # unknown case
        ],
    )
    assert job.status == "succeeded", job.error_message
    assert job.rows_loaded == 3
    assert balance(ada) == START - Decimal("573.45")
    assert balance(fay) == START - Decimal("1000.00")
    t1 = Payment.objects.get(transaction_id="T1")
    assert (t1.status, t1.source, t1.case_id) == ("posted", "file", ada.pk)
    assert t1.collector_id == world.people["ada"].pk  # the credit goes to who held the case
    assert t1.team_id == world.n1.pk
    assert Payment.objects.get(transaction_id="T4").status == "unmatched"
    entries = LedgerEntry.objects.filter(case=ada).order_by("id")
    assert [e.amount for e in entries] == [Decimal("-500.00"), Decimal("-73.45")]
    assert ledger.mismatches() == []
    event = AuditEvent.objects.get(action="money.payment.file_posted", object_id=str(job.pk))
    assert event.data["posted"] == 3
    assert event.data["unmatched"] == 1


def test_importing_the_same_payments_again_changes_nothing(world):
    placed_early()
    rows = [["T1", "A0001", "500.00", "2026-11-20", ""], ["T2", "A0002", "10", "2026-11-20", ""]]
    post_file(world, rows)
    before = (balance(world.cases["ada_case"]), LedgerEntry.objects.count())
    # The identical file is refused as already imported; a new file repeating them posts nothing.
    again = post_file(world, [*rows, ["T3", "A0001", "1", "2026-11-21", ""]], name="again.csv")
    assert again.status == "succeeded"
    assert again.rows_duplicate == 2
    assert balance(world.cases["ada_case"]) == before[0] - Decimal("1.00")
    assert LedgerEntry.objects.count() == before[1] + 1
    assert Payment.objects.filter(transaction_id="T1").count() == 1


def test_payments_that_cannot_post_wait_as_exceptions_with_a_reason(world):
    placed_early()
    Case.objects.filter(pk=world.cases["fay_case"].pk).update(status="returned")
    post_file(
        world,
        [
            ["E1", "A0002", "100", "2026-11-20", ""],  # returned case
            ["E2", "A0001", "10000", "2026-11-20", ""],  # fine
            ["E3", "A0001", "600", "2026-11-21", ""],  # 10 600 > 10 573.45 in date order
            ["E4", "A0001", "5", "2026-10-01", ""],  # before the case was placed
        ],
    )
    codes = dict(Payment.objects.values_list("transaction_id", "exception_code"))
    assert codes == {
        "E1": "case_not_open",
        "E2": "",
        "E3": "over_balance",
        "E4": "before_placement",
    }
    assert balance(world.cases["ada_case"]) == START - Decimal("10000.00")
    assert balance(world.cases["fay_case"]) == START
    assert ledger.mismatches() == []


def test_over_the_balance_counts_in_date_order_and_a_later_smaller_payment_still_fits(world):
    """Rows out of date order in the file: 9 000 (20th), then 1 600 (21st) would cross
    10 573.45 and waits; 1 000 (22nd) still fits; 600 (23rd) would cross again."""
    placed_early()
    post_file(
        world,
        [
            ["O4", "A0001", "600", "2026-11-23", ""],
            ["O2", "A0001", "1600", "2026-11-21", ""],
            ["O1", "A0001", "9000", "2026-11-20", ""],
            ["O3", "A0001", "1000", "2026-11-22", ""],
            ["O5", "A0002", "100", "2026-11-20", ""],  # another case, well within
        ],
    )
    got = dict(Payment.objects.values_list("transaction_id", "status"))
    assert got == {
        "O1": "posted",
        "O2": "exception",
        "O3": "posted",
        "O4": "exception",
        "O5": "posted",
    }
    assert set(
        Payment.objects.filter(status="exception").values_list("exception_code", flat=True)
    ) == {"over_balance"}
    assert Payment.objects.filter(status="posted", posted_at__isnull=True).count() == 0
    assert balance(world.cases["ada_case"]) == START - Decimal("10000.00")
    assert LedgerEntry.objects.filter(case=world.cases["ada_case"]).count() == 2
    assert ledger.mismatches() == []


def test_a_case_paid_in_full_closes_itself(world):
    placed_early()
    ada = world.cases["ada_case"]
    Promise.objects.create(
        organisation=world.org,
        case=ada,
        amount=Decimal("5000.00"),
        due_on=date(2026, 11, 30),
        created_by=world.people["ada"],
    )
    post_file(
        world,
        [["P1", "A0001", "10000", "2026-11-20", ""], ["P2", "A0001", "573.45", "2026-11-21", ""]],
    )
    case = Case.objects.get(pk=ada.pk)
    assert case.total_owed == Decimal("0.00")
    assert case.status == "paid_off"
    assert case.closed_at is not None
    assert Promise.objects.get(case=ada).status == "kept"


def test_a_late_reported_payment_keeps_a_promise_already_marked_broken(world):
    placed_early()
    ada = world.cases["ada_case"]
    for due in (date(2026, 11, 10), date(2026, 11, 12)):
        Promise.objects.create(
            organisation=world.org,
            case=ada,
            amount=Decimal("300.00"),
            due_on=due,
            created_by=world.people["ada"],
        )
    Promise.objects.update(created_at=PLACED)
    Promise.objects.update(status="broken")
    Case.objects.filter(pk=ada.pk).update(broken_promises=2, intensive_follow_up=True)
    # The bank's file says the debtor paid on the 12th (reported days later).
    post_file(world, [["L1", "A0001", "300", "2026-11-12", ""]])
    statuses = list(
        Promise.objects.filter(case=ada).order_by("due_on").values_list("status", flat=True)
    )
    assert statuses == ["broken", "kept"]  # paid after the 10th: only the 12th's is kept
    case = Case.objects.get(pk=ada.pk)
    assert case.broken_promises == 1
    assert not case.intensive_follow_up


def test_a_balance_file_moves_the_balance_through_the_ledger(world):
    from recoup.intake.tests.test_incremental import run_file

    placed_early()
    post_file(world, [["B1", "A0001", "500", "2026-11-20", ""]])
    run_file(world, "balances", ["案件编号", "欠款总额"], [["A0001", "10,200.00"]], name="bal.csv")
    ada = world.cases["ada_case"]
    assert balance(ada) == Decimal("10200.00")
    adjustment = LedgerEntry.objects.get(case=ada, kind="adjustment")
    assert adjustment.amount == Decimal("126.55")  # 10 200.00 − (10 573.45 − 500.00)
    assert ledger.mismatches() == []


def test_a_failure_after_posting_leaves_nothing_and_a_retry_posts_once(world, monkeypatch):
    """The file's payments, ledger entries and balances commit with the import or not at
    all; the staged rows are gone either way, and a retry posts each payment once."""
    from recoup.intake import services as intake
    from recoup.money import posting

    placed_early()
    real = posting.after_posting

    def post_then_crash(**kwargs):  # type: ignore[no-untyped-def]
        real(**kwargs)  # everything posted…
        raise RuntimeError("database connection lost")  # …then the connection dies

    monkeypatch.setattr(posting, "after_posting", post_then_crash)
    rows = [["R1", "A0001", "10573.45", "2026-11-20", ""], ["R2", "A0002", "50", "2026-11-20", ""]]
    job = post_file(world, rows)
    assert job.status == "failed"
    assert "RuntimeError" in job.error_message
    assert not Payment.objects.exists()
    assert not LedgerEntry.objects.exists()
    assert balance(world.cases["ada_case"]) == START
    assert Case.objects.get(pk=world.cases["ada_case"].pk).status != "paid_off"
    monkeypatch.setattr(posting, "after_posting", real)
    intake.import_retry(job=job, actor=world.people["amy"])
    job = intake.import_run(job_id=job.pk)
    assert job.status == "succeeded", job.error_message
    assert job.rows_loaded == 2
    assert Payment.objects.filter(status="posted").count() == 2
    assert balance(world.cases["ada_case"]) == Decimal("0.00")
    assert Case.objects.get(pk=world.cases["ada_case"].pk).status == "paid_off"
    assert ledger.mismatches() == []

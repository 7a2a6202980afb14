"""Payments by hand: record with evidence, match, reject, reverse — and every refusal."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest

from recoup.audit.models import AuditEvent
from recoup.cases import ledger
from recoup.cases.models import Case, LedgerEntry
from recoup.contact.models import Promise
from recoup.core.exceptions import PermissionDenied, ValidationError
from recoup.money import services
from recoup.money.models import Payment
from recoup.money.services import Evidence
from recoup.money.tests.helpers import balance, manual, pdf, placed_early, post_file

pytestmark = pytest.mark.django_db

START = Decimal("10573.45")


def test_an_admin_assistant_records_a_payment_with_its_receipt(world):
    placed_early()
    ada = world.cases["ada_case"]
    payment = services.payment_record(
        actor=world.people["amy"], case=ada, data=manual("M1", "800.00"), evidence=pdf()
    )
    assert payment.status == "posted"
    assert payment.source == "manual"
    assert payment.evidence_sha256
    assert balance(ada) == START - Decimal("800.00")
    assert AuditEvent.objects.filter(action="money.payment.recorded", case_id=ada.pk).exists()
    assert ledger.mismatches() == []


@pytest.mark.parametrize(
    ("data", "evidence", "code_or_field"),
    [
        (manual("M1", "0"), True, "amount"),
        (manual("M1", "-5"), True, "amount"),
        (manual("M1", "20000"), True, "over_balance"),
        (manual("M1", "5", paid_on=date(2099, 1, 1)), True, "future_date"),
        (manual("M1", "5", paid_on=date(2026, 10, 1)), True, "before_placement"),
        (manual("M1", "5", channel="cash"), True, "private_collection"),
        (manual("", "5"), True, "transaction_id"),
        (manual("M1", "5"), False, "evidence"),
    ],
)
def test_bad_manual_payments_are_refused_and_change_nothing(world, data, evidence, code_or_field):
    placed_early()
    ada = world.cases["ada_case"]
    with pytest.raises(ValidationError) as err:
        services.payment_record(
            actor=world.people["amy"], case=ada, data=data, evidence=pdf() if evidence else None
        )
    assert code_or_field in (err.value.code, err.value.field)
    assert err.value.message
    assert balance(ada) == START
    assert not Payment.objects.exists()
    assert not LedgerEntry.objects.exists()


def test_cash_in_the_note_and_odd_evidence_are_refused(world):
    placed_early()
    ada = world.cases["ada_case"]
    data = manual("M1", "5")
    with pytest.raises(ValidationError) as err:
        services.payment_record(
            actor=world.people["amy"],
            case=ada,
            data=type(data)("M1", Decimal(5), date(2026, 11, 20), "bank_app", "催收员代收现金"),
            evidence=pdf(),
        )
    assert err.value.code == "private_collection"
    with pytest.raises(ValidationError) as err:
        services.payment_record(
            actor=world.people["amy"],
            case=ada,
            data=data,
            evidence=Evidence("x.exe", io.BytesIO(b"MZ")),
        )
    assert err.value.field == "evidence"
    assert not Payment.objects.exists()


def test_a_transaction_id_is_recorded_once(world):
    placed_early()
    ada = world.cases["ada_case"]
    services.payment_record(
        actor=world.people["amy"], case=ada, data=manual("M1", "5"), evidence=pdf()
    )
    with pytest.raises(ValidationError) as err:
        services.payment_record(
            actor=world.people["amy"], case=ada, data=manual("M1", "5"), evidence=pdf()
        )
    assert err.value.code == "duplicate_transaction"
    assert balance(ada) == START - Decimal("5.00")
    # The bank's file carrying the same transaction later posts nothing more.
    job = post_file(world, [["M1", "A0001", "5", "2026-11-20", ""]])
    assert job.rows_duplicate == 1
    assert balance(ada) == START - Decimal("5.00")


def test_collectors_and_other_branches_may_not_record_payments(world):
    placed_early()
    for who in ("ada", "quinn", "max", "cli", "sam"):
        with pytest.raises(PermissionDenied):
            services.payment_record(
                actor=world.people[who],
                case=world.cases["ada_case"],
                data=manual("M1", "5"),
                evidence=pdf(),
            )
    assert not Payment.objects.exists()


def test_an_unmatched_payment_is_matched_by_hand_or_rejected(world):
    placed_early()
    post_file(
        world, [["U1", "NOPE", "200", "2026-11-20", ""], ["U2", "NOPE2", "1", "2026-11-20", ""]]
    )
    u1, u2 = Payment.objects.get(transaction_id="U1"), Payment.objects.get(transaction_id="U2")
    assert u1.status == "unmatched"
    with pytest.raises(ValidationError):  # ben's case is another contract's
        services.payment_match(actor=world.people["sue"], payment=u1, case=world.cases["ben_case"])
    services.payment_match(actor=world.people["sue"], payment=u1, case=world.cases["ada_case"])
    u1.refresh_from_db()
    assert (u1.status, u1.match_method, u1.resolved_by) == ("posted", "manual", world.people["sue"])
    assert balance(world.cases["ada_case"]) == START - Decimal("200.00")
    with pytest.raises(ValidationError):  # posted: cannot be matched twice
        services.payment_match(actor=world.people["sue"], payment=u1, case=world.cases["fay_case"])
    with pytest.raises(ValidationError):
        services.payment_reject(actor=world.people["sue"], payment=u2, reason="  ")
    services.payment_reject(actor=world.people["sue"], payment=u2, reason="非本机构委案")
    u2.refresh_from_db()
    assert u2.status == "rejected"
    assert ledger.mismatches() == []


def test_a_reversal_restores_the_balance_reopens_the_case_and_the_promise(world):
    placed_early()
    ada = world.cases["ada_case"]
    Promise.objects.create(
        organisation=world.org,
        case=ada,
        amount=Decimal("573.45"),
        due_on=date(2099, 12, 31),
        created_by=world.people["ada"],
    )
    post_file(world, [["R1", "A0001", "10000", "2026-11-20", ""]])
    paid = services.payment_record(
        actor=world.people["amy"], case=ada, data=manual("R2", "573.45"), evidence=pdf()
    )
    assert Case.objects.get(pk=ada.pk).status == "paid_off"
    with pytest.raises(ValidationError):
        services.payment_reverse(actor=world.people["amy"], payment=paid, reason="")
    services.payment_reverse(actor=world.people["amy"], payment=paid, reason="银行退票")
    case = Case.objects.get(pk=ada.pk)
    assert case.total_owed == Decimal("573.45")
    assert case.status == "collecting"
    assert case.closed_at is None
    promise = Promise.objects.get(case=ada)
    assert promise.status == "open"
    assert promise.paid_amount == Decimal("0.00")
    with pytest.raises(ValidationError):  # once only
        services.payment_reverse(actor=world.people["amy"], payment=paid, reason="again")
    assert LedgerEntry.objects.filter(case=ada, kind="reversal").count() == 1
    assert ledger.mismatches() == []

"""Property tests of the money path: no cent lost or created, whatever the order of events.

Hypothesis draws a history for one case — repayment files (several payments each), manual
payments, reversals of earlier payments, the client's balance updates — and drives the real
services through it. A plain-Python model keeps the balance the case should have; after every
step the stored balance equals the model, the ledger adds up to it (entrusted amount plus
entries), it is never negative, and the posted payments minus the reversed ones equal what
the payment entries took off. Each example runs in a savepoint that is rolled back.
"""

from __future__ import annotations

import os
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recoup.cases import ledger
from recoup.cases.models import Case, LedgerEntry
from recoup.core.exceptions import ValidationError
from recoup.core.money import to_money
from recoup.intake.services import DuplicateFile
from recoup.intake.tests.test_incremental import run_file
from recoup.money import services
from recoup.money.models import Payment
from recoup.money.tests.helpers import manual, pdf, placed_early, post_file

pytestmark = pytest.mark.django_db

PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("RECOUP_PROPERTY_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
START = Decimal("10573.45")
HEAD = ["案件编号", "欠款总额"]

cents = st.integers(min_value=1, max_value=600_000).map(lambda n: Decimal(n) / 100)
step = st.one_of(
    st.tuples(st.just("file"), st.lists(cents, min_size=1, max_size=4)),
    st.tuples(st.just("manual"), cents),
    st.tuples(st.just("reverse"), st.integers(min_value=0, max_value=20)),
    st.tuples(
        st.just("balance"),
        st.integers(min_value=0, max_value=2_000_000).map(lambda n: Decimal(n) / 100),
    ),
)


@PROPERTY_SETTINGS
@given(steps=st.lists(step, min_size=1, max_size=8))
def test_no_cent_is_lost_or_created(world, steps):
    with transaction.atomic():
        placed_early()
        case = Case.objects.get(pk=world.cases["ada_case"].pk)
        amy = world.people["amy"]
        model = START
        posted: list[Payment] = []
        serial = 0
        sent: set[Decimal] = set()
        for n, (kind, arg) in enumerate(steps):
            status = Case.objects.values_list("status", flat=True).get(pk=case.pk)
            if kind == "file":
                rows = []
                for amount in arg:
                    serial += 1
                    rows.append([f"F{serial}", "A0001", str(amount), "2026-11-20", ""])
                post_file(world, rows, name=f"f{n}.csv")
                for amount, row in zip(arg, rows, strict=True):
                    payment = Payment.objects.get(transaction_id=row[0])
                    fits = amount <= model and status not in ("returned", "closed")
                    assert (payment.status == "posted") == fits, (amount, model, payment.status)
                    if fits:
                        model -= amount
                        posted.append(payment)
                        status = "paid_off" if model == 0 else status
            elif kind == "manual":
                serial += 1
                fits = arg <= model and status not in ("returned", "closed")
                if fits:
                    payment = services.payment_record(
                        actor=amy, case=case, data=manual(f"M{serial}", str(arg)), evidence=pdf()
                    )
                    model -= arg
                    posted.append(payment)
                else:
                    with pytest.raises(ValidationError):
                        services.payment_record(
                            actor=amy,
                            case=case,
                            data=manual(f"M{serial}", str(arg)),
                            evidence=pdf(),
                        )
            elif kind == "reverse" and posted:
                payment = posted.pop(arg % len(posted))
                services.payment_reverse(actor=amy, payment=payment, reason="退票")
                model += payment.amount
            elif kind == "balance":
                if arg in sent:  # the very same file again: refused, nothing changes
                    with pytest.raises(DuplicateFile):
                        run_file(world, "balances", HEAD, [["A0001", str(arg)]], name="b.csv")
                else:
                    sent.add(arg)
                    run_file(world, "balances", HEAD, [["A0001", str(arg)]], name=f"b{n}.csv")
                    if status not in ("paid_off", "settled", "returned", "closed"):
                        model = arg
            stored = Case.objects.get(pk=case.pk)
            assert stored.total_owed == model
            assert stored.total_owed >= 0
            assert ledger.balance(stored) == model
            assert ledger.mismatches() == []
            if stored.total_owed == 0 and any(k != "balance" for k, _ in steps[: n + 1]):
                assert stored.status in ("paid_off", "collecting", "pending"), stored.status
        taken = -(
            LedgerEntry.objects.filter(case=case, kind__in=["payment", "reversal"]).aggregate(
                s=Sum("amount")
            )["s"]
            or Decimal(0)
        )
        still_posted = Payment.objects.filter(case=case, status="posted").aggregate(
            s=Sum("amount")
        )["s"] or Decimal(0)
        # SQLite sums decimals as binary floats: compare in cents.
        assert to_money(taken) == to_money(still_posted)
        transaction.set_rollback(True)

"""Monthly reconciliation: the client's statement against Recoup's payments, breaks, the lock
and new versions — and every statement that cannot be used refused whole."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
import time_machine

from recoup.audit.models import AuditEvent
from recoup.core.exceptions import PermissionDenied, ValidationError
from recoup.intake.tests.conftest import csv_bytes
from recoup.money import reconcile
from recoup.money.models import Payment, Statement, StatementBreak
from recoup.money.reconcile import StatementUpload
from recoup.money.tests.helpers import balance, placed_early, post_file

pytestmark = pytest.mark.django_db

NOV = date(2026, 11, 1)
HEAD = ["交易流水号", "案件编号", "还款金额", "还款日期"]


@pytest.fixture
def today():
    with time_machine.travel(date(2026, 11, 23), tick=False):
        yield


def upload(world, rows, *, count=None, total=None, currency="CNY", headers=HEAD, actor="amy"):  # type: ignore[no-untyped-def]
    declared_total = total if total is not None else sum(Decimal(r[2]) for r in rows)
    return reconcile.statement_upload(
        actor=world.people[actor],
        data=StatementUpload(
            contract=world.contract_a,
            month=NOV,
            file_name="甲银行-202611-对账单.csv",
            stream=io.BytesIO(csv_bytes(rows, headers=headers)),
            currency=currency,
            declared_count=len(rows) if count is None else count,
            declared_total=Decimal(declared_total),
        ),
    )


def posted(world):  # type: ignore[no-untyped-def]
    placed_early()
    post_file(
        world,
        [
            ["T1", "A0001", "500.00", "2026-11-10", ""],
            ["T2", "A0001", "300.00", "2026-11-12", ""],
            ["T3", "A0002", "200.00", "2026-11-15", ""],
        ],
    )


def test_a_statement_is_matched_line_by_line_and_the_breaks_listed(world, today):
    posted(world)
    st = upload(
        world,
        [
            ["T1", "A0001", "500.00", "2026-11-10"],  # matched
            ["T2", "A0001", "310.00", "2026-11-12"],  # amount differs
            ["T9", "A0002", "50.00", "2026-11-18"],  # only the client has it
        ],  # T3 only in Recoup
    )
    assert (st.lines_count, st.matched_count, st.ours_count) == (3, 1, 3)
    assert st.matched_total == Decimal("500.00")
    kinds = sorted(StatementBreak.objects.filter(statement=st).values_list("kind", flat=True))
    assert kinds == ["differs", "only_client", "only_ours"]
    assert st.breaks_open == 3
    assert AuditEvent.objects.filter(action="money.statement.uploaded").exists()


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"currency": "USD"}, "currency"),
        ({"total": "999.00"}, "totals"),
        ({"count": 5}, "totals"),
        ({"rows": [["T1", "A0001", "5", "2026-10-31"]]}, "bad_statement"),
        (
            {"rows": [["T1", "A0001", "5", "2026-11-02"], ["T1", "A0001", "5", "2026-11-03"]]},
            "bad_statement",
        ),
        ({"rows": [["T1", "A0001", "五元", "2026-11-02"]], "total": "0"}, "bad_statement"),
        (
            {
                "rows": [["T1", "A0001", "5", "2026-11-02", "USD"]],
                "headers": [*HEAD, "币种"],
            },
            "bad_statement",
        ),
    ],
)
def test_a_statement_that_cannot_be_used_is_refused_whole(world, today, kwargs, code):
    rows = kwargs.pop("rows", [["T1", "A0001", "5", "2026-11-02"]])
    with pytest.raises(ValidationError) as err:
        upload(world, rows, **kwargs)
    assert err.value.code == code
    assert err.value.message
    assert not Statement.objects.exists()


def test_breaks_are_explained_or_adjusted_with_a_supervisors_approval(world, today):
    posted(world)
    st = upload(
        world,
        [
            ["T1", "A0001", "500.00", "2026-11-10"],
            ["T2", "A0001", "310.00", "2026-11-12"],
            ["T9", "A0002", "50.00", "2026-11-18"],
        ],
    )
    breaks = {b.kind: b for b in StatementBreak.objects.filter(statement=st)}
    with pytest.raises(ValidationError):
        reconcile.break_explain(actor=world.people["amy"], brk=breaks["only_ours"], text=" ")
    reconcile.break_explain(
        actor=world.people["amy"], brk=breaks["only_ours"], text="11 月 30 日到账，列入 12 月对账单"
    )
    # The client's missing payment and the differing amount: adjusted after approval.
    for kind in ("only_client", "differs"):
        reconcile.break_propose(actor=world.people["amy"], brk=breaks[kind], note="以委托方为准")
    with pytest.raises(PermissionDenied):  # the liaison does not approve
        reconcile.break_approve(actor=world.people["amy"], brk=breaks["only_client"])
    with pytest.raises(ValidationError):  # locking with breaks awaiting approval
        reconcile.statement_lock(actor=world.people["sue"], statement=st)
    for kind in ("only_client", "differs"):
        reconcile.break_approve(actor=world.people["sue"], brk=breaks[kind])
    t9 = Payment.objects.get(transaction_id="T9")
    assert (t9.source, t9.status, t9.amount) == ("statement", "posted", Decimal("50.00"))
    t2 = Payment.objects.filter(transaction_id="T2").order_by("id")
    assert [(p.status, p.amount) for p in t2] == [
        ("reversed", Decimal("300.00")),
        ("posted", Decimal("310.00")),
    ]
    assert balance(world.cases["ada_case"]) == Decimal("10573.45") - 500 - 310
    st = reconcile.statement_lock(actor=world.people["sue"], statement=st)
    assert st.status == "locked"
    assert st.summary["total"] == {"count": 4, "amount": "1060.00"}
    names = {c["name"] for c in st.summary["collectors"]}
    assert world.people["ada"].display_name in names


def test_a_locked_statement_changes_only_by_a_new_version(world, today):
    posted(world)
    rows = [
        ["T1", "A0001", "500.00", "2026-11-10"],
        ["T2", "A0001", "300.00", "2026-11-12"],
        ["T3", "A0002", "200.00", "2026-11-15"],
    ]
    st = upload(world, rows)
    assert st.breaks_open == 0
    st = reconcile.statement_lock(actor=world.people["sue"], statement=st)
    with pytest.raises(ValidationError):  # the same month again
        upload(world, rows)
    # A payment reversed after the lock: the locked figures stay; a new version shows it.
    from recoup.money import services

    services.payment_reverse(
        actor=world.people["amy"], payment=Payment.objects.get(transaction_id="T3"), reason="退票"
    )
    st.refresh_from_db()
    assert st.summary["total"]["count"] == 3
    with pytest.raises(ValidationError):
        reconcile.statement_new_version(actor=world.people["amy"], statement=st, reason="")
    v2 = reconcile.statement_new_version(actor=world.people["amy"], statement=st, reason="T3 退票")
    st.refresh_from_db()
    assert (st.status, v2.version, v2.previous_id) == ("superseded", 2, st.pk)
    assert list(StatementBreak.objects.filter(statement=v2).values_list("kind", flat=True)) == [
        "only_client"
    ]
    brk = StatementBreak.objects.get(statement=v2)
    with pytest.raises(ValidationError):  # nothing on the superseded version can change
        reconcile.break_explain(
            actor=world.people["amy"],
            brk=StatementBreak.objects.create(statement=st, kind="only_ours"),
            text="x",
        )
    reconcile.break_explain(actor=world.people["amy"], brk=brk, text="委托方已退票，待其更正")
    assert reconcile.statement_lock(actor=world.people["sue"], statement=v2).status == "locked"
    actions = list(
        AuditEvent.objects.filter(action__startswith="money.statement").values_list(
            "action", flat=True
        )
    )
    assert "money.statement.new_version" in actions


def test_collectors_cannot_reconcile(world, today):
    with pytest.raises(PermissionDenied):
        upload(world, [["T1", "A0001", "5", "2026-11-02"]], actor="ada")


def test_a_payment_recorded_from_the_statement_is_not_posted_again_by_a_later_file(world, today):
    posted(world)
    st = upload(
        world,
        [
            ["T1", "A0001", "500.00", "2026-11-10"],
            ["T2", "A0001", "300.00", "2026-11-12"],
            ["T3", "A0002", "200.00", "2026-11-15"],
            ["T9", "A0002", "50.00", "2026-11-18"],
        ],
    )
    brk = StatementBreak.objects.get(statement=st, kind="only_client")
    reconcile.break_propose(actor=world.people["amy"], brk=brk, note="委托方有此笔")
    reconcile.break_approve(actor=world.people["sue"], brk=brk)
    before = balance(world.cases["fay_case"])
    # The client's repayment file lists T9 afterwards: reported as a duplicate, not posted.
    job = post_file(world, [["T9", "A0002", "50.00", "2026-11-18", ""]], name="late.csv")
    assert job.status == "succeeded"
    assert job.rows_duplicate == 1
    assert balance(world.cases["fay_case"]) == before
    assert Payment.objects.filter(transaction_id="T9").count() == 1


def test_line_amounts_are_kept_to_the_cent_and_the_daily_check_finds_a_lost_payment(world, today):
    from io import StringIO

    from django.core.management import CommandError, call_command
    from django.db import connection

    from recoup.money.models import StatementLine

    posted(world)
    st = upload(
        world,
        [
            ["T1", "A0001", "500.00", "2026-11-10"],
            ["T2", "A0001", "299.99", "2026-11-12"],
            ["T9", "A0002", "0.05", "2026-11-18"],
        ],
    )
    amounts = dict(
        StatementLine.objects.filter(statement=st).values_list("transaction_id", "amount")
    )
    assert amounts == {"T1": Decimal("500.00"), "T2": Decimal("299.99"), "T9": Decimal("0.05")}
    line = StatementLine.objects.get(statement=st, transaction_id="T1")
    assert line.payment is not None
    assert line.payment.transaction_id == "T1"
    ghost = Payment.objects.order_by("-id").values_list("id", flat=True)[0] + 1000
    with connection.cursor() as cursor:  # what no code path does: a line naming nothing
        cursor.execute(
            "UPDATE money_statementline SET payment_id = %s WHERE id = %s", [ghost, line.pk]
        )
    err = StringIO()
    with pytest.raises(CommandError, match="name no existing payment"):
        call_command("money_daily", "--today", "2026-11-23", stdout=StringIO(), stderr=err)
    assert f"statement line {line.pk} names a payment" in err.getvalue()

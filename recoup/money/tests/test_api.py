"""The money API: list and resolve payments, record one with its receipt, read a ledger."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from recoup.accounts.services import api_token_create
from recoup.money.models import Payment
from recoup.money.tests.helpers import balance, placed_early, post_file

pytestmark = pytest.mark.django_db


def _auth(world: Any, user: Any, role: str) -> dict[str, str]:
    _token, raw = api_token_create(
        organisation=world.org, user=user, role=role, name="finance", expires_at=None, actor=None
    )
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def test_payments_are_listed_matched_and_reversed(world, client):
    placed_early()
    post_file(
        world, [["T1", "A0001", "50", "2026-11-20", ""], ["T2", "NOPE", "7", "2026-11-20", ""]]
    )
    auth = _auth(world, world.people["amy"], "admin_assistant")
    page = client.get("/api/v1/money/payments?status=open", **auth).json()
    assert page["count"] == 1
    (row,) = page["results"]
    assert (row["transaction_id"], row["status"]) == ("T2", "unmatched")
    bad = client.post(
        f"/api/v1/money/payments/{row['id']}/match",
        {"client_case_number": "A0001"},
        content_type="application/json",
        **_auth(world, world.people["ada"], "collector"),
    )
    assert bad.status_code in (403, 404)
    done = client.post(
        f"/api/v1/money/payments/{row['id']}/match",
        {"client_case_number": "A0001"},
        content_type="application/json",
        **auth,
    )
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "posted"
    assert balance(world.cases["ada_case"]) == Decimal("10516.45")
    again = client.post(
        f"/api/v1/money/payments/{row['id']}/reverse",
        {"reason": ""},
        content_type="application/json",
        **auth,
    )
    assert again.status_code == 400
    assert again.json()["code"] == "invalid"


def test_a_payment_is_recorded_with_its_receipt_once(world, client):
    placed_early()
    auth = _auth(world, world.people["amy"], "admin_assistant")
    form = {
        "client_case_number": "A0001",
        "contract": "A-1",
        "transaction_id": "API-1",
        "amount": "73.45",
        "paid_on": "2026-11-20",
        "channel": "bank_app",
    }
    from django.core.files.uploadedfile import SimpleUploadedFile

    first = client.post(
        "/api/v1/money/payments",
        {**form, "evidence": SimpleUploadedFile("r.pdf", b"%PDF-1.4 x")},
        **auth,
    )
    assert first.status_code == 201, first.content
    second = client.post(
        "/api/v1/money/payments",
        {**form, "evidence": SimpleUploadedFile("r.pdf", b"%PDF-1.4 x")},
        **auth,
    )
    assert second.status_code == 400
    assert second.json()["code"] == "duplicate_transaction"
    assert Payment.objects.count() == 1
    ledger = client.get(f"/api/v1/money/cases/{world.cases['ada_case'].pk}/ledger", **auth).json()
    assert ledger["balance"] == "10500.00"
    assert [e["amount"] for e in ledger["entries"]] == ["-73.45"]


def test_plans_and_statements_through_the_api(world, client):
    from datetime import date

    import time_machine

    from recoup.intake.tests.conftest import csv_bytes
    from recoup.money import plans

    placed_early()
    auth = _auth(world, world.people["amy"], "admin_assistant")
    with time_machine.travel(date(2026, 11, 23), tick=False):
        plans.plan_propose(
            actor=world.people["ada"],
            case=world.cases["ada_case"],
            total=Decimal("10573.45"),
            schedule=plans.schedule_build(
                total=Decimal("10573.45"),
                count=2,
                first_amount=Decimal("5000"),
                first_due_on=date(2026, 12, 1),
            ),
        )
        listed = client.get(
            f"/api/v1/money/plans?case_id={world.cases['ada_case'].pk}", **auth
        ).json()
        assert [p["status"] for p in listed] == ["proposed"]
        assert [i["amount"] for i in listed[0]["instalments"]] == ["5000.00", "5573.45"]
        post_file(world, [["S1", "A0001", "100.00", "2026-11-10", ""]])
        body = csv_bytes(
            [["S1", "A0001", "100.00", "2026-11-10"]],
            headers=["交易流水号", "案件编号", "还款金额", "还款日期"],
        )
        from django.core.files.uploadedfile import SimpleUploadedFile

        form = {
            "contract": "A-1",
            "month": "2026-11-01",
            "currency": "CNY",
            "declared_count": "1",
            "declared_total": "100.00",
        }
        bad = client.post(
            "/api/v1/money/statements",
            {**form, "currency": "USD", "file": SimpleUploadedFile("s.csv", body)},
            **auth,
        )
        assert bad.status_code == 400
        assert bad.json()["code"] == "currency"
        made = client.post(
            "/api/v1/money/statements", {**form, "file": SimpleUploadedFile("s.csv", body)}, **auth
        )
        assert made.status_code == 201, made.content
        assert (made.json()["matched_count"], made.json()["breaks_open"]) == (1, 0)
        assert client.get("/api/v1/money/statements", **auth).json()[0]["status"] == "open"

"""The payment screens: list and queue, manual entry with a receipt, match, reject, reverse."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from recoup.money.models import Payment
from recoup.money.tests.helpers import balance, placed_early, post_file

pytestmark = pytest.mark.django_db


def _receipt() -> SimpleUploadedFile:
    return SimpleUploadedFile("回单.pdf", b"%PDF-1.4 receipt", content_type="application/pdf")


def test_the_list_shows_the_queue_to_resolve(client, login, world):
    placed_early()
    post_file(
        world,
        [
            ["TXN-LIST-1", "A0001", "50", "2026-11-20", ""],
            ["TXN-LIST-2", "NOPE", "7", "2026-11-20", ""],
        ],
    )
    login(world.people["amy"])
    body = client.get(reverse("money:payment-list")).content.decode()
    assert "TXN-LIST-1" in body
    assert "TXN-LIST-2" in body
    assert 'data-testid="count-unmatched">1<' in body
    body = client.get(reverse("money:payment-list"), {"status": "open"}).content.decode()
    assert "TXN-LIST-2" in body
    assert "TXN-LIST-1" not in body


def test_collectors_do_not_see_payment_screens(client, login, world):
    login(world.people["ada"])
    assert client.get(reverse("money:payment-list")).status_code == 403
    assert client.get(reverse("money:payment-new")).status_code == 403


def test_a_payment_entered_on_the_screen_posts_and_the_case_page_shows_it(client, login, world):
    placed_early()
    ada = world.cases["ada_case"]
    login(world.people["amy"])
    page = client.get(reverse("cases:case-detail", args=[ada.pk])).content.decode()
    assert 'data-testid="record-payment"' in page
    url = reverse("money:payment-new") + f"?case={ada.pk}"
    response = client.post(
        url,
        {
            "case": ada.pk,
            "case_number": "A0001",
            "transaction_id": "W1",
            "amount": "一千元",
            "paid_on": "2026-11-20",
            "channel": "counter",
            "evidence": _receipt(),
        },
    )
    # Not a number: refused with the reason, nothing stored.
    assert response.status_code == 200
    assert "金额格式不正确" in response.content.decode()
    assert not Payment.objects.exists()
    response = client.post(
        url,
        {
            "case": ada.pk,
            "case_number": "A0001",
            "transaction_id": "W1",
            "amount": "¥1,000.00",
            "paid_on": "2026-11-20",
            "channel": "counter",
            "evidence": _receipt(),
        },
    )
    payment = Payment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("money:payment-detail", args=[payment.pk])
    assert balance(ada) == Decimal("9573.45")
    page = client.get(reverse("cases:case-detail", args=[ada.pk])).content.decode()
    assert 'data-testid="ledger-balance">9,573.45<' in page
    evidence = client.get(reverse("money:payment-evidence", args=[payment.pk]))
    assert b"".join(evidence.streaming_content) == b"%PDF-1.4 receipt"


def test_an_over_balance_entry_shows_the_reason_on_the_form(client, login, world):
    placed_early()
    login(world.people["amy"])
    response = client.post(
        reverse("money:payment-new"),
        {
            "case_number": "A0001",
            "transaction_id": "W1",
            "amount": "99999.00",
            "paid_on": "2026-11-20",
            "channel": "counter",
            "evidence": _receipt(),
        },
    )
    assert response.status_code == 200
    assert "超过案件余额" in response.content.decode()
    assert not Payment.objects.exists()


def test_unmatched_payment_matched_then_reversed_on_screen(client, login, world):
    placed_early()
    post_file(world, [["U1", "NOPE", "70", "2026-11-20", ""]])
    payment = Payment.objects.get()
    login(world.people["sue"])
    detail = reverse("money:payment-detail", args=[payment.pk])
    assert 'data-testid="match-form"' in client.get(detail).content.decode()
    client.post(reverse("money:payment-match", args=[payment.pk]), {"case_number": "NOPE2"})
    payment.refresh_from_db()
    assert payment.status == "unmatched"
    client.post(reverse("money:payment-match", args=[payment.pk]), {"case_number": "A0001"})
    payment.refresh_from_db()
    assert payment.status == "posted"
    assert 'data-testid="reverse-form"' in client.get(detail).content.decode()
    client.post(reverse("money:payment-reverse", args=[payment.pk]), {"reason": "退票"})
    payment.refresh_from_db()
    assert payment.status == "reversed"
    assert balance(world.cases["ada_case"]) == Decimal("10573.45")


def test_other_organisations_payments_are_not_found(client, login, world):
    placed_early()
    post_file(world, [["U1", "NOPE", "70", "2026-11-20", ""]])
    payment = Payment.objects.get()
    login(world.people["ola"])
    assert client.get(reverse("money:payment-detail", args=[payment.pk])).status_code == 404

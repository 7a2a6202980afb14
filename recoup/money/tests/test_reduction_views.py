"""Reduction screens: request with the matrix limit, approve, record the client's approval;
the matrix kept by HQ."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from recoup.money.models import Reduction, WaiverAuthority
from recoup.money.tests.helpers import placed_early

pytestmark = pytest.mark.django_db


@pytest.fixture
def today():
    with time_machine.travel(date(2026, 11, 23), tick=False):
        yield


def pdf() -> SimpleUploadedFile:
    return SimpleUploadedFile("proof.pdf", b"%PDF-1.4 p", content_type="application/pdf")


def test_hq_keeps_the_matrix_and_others_only_read_it(client, login, world):
    login(world.people["sue"])
    assert client.get(reverse("money:authority")).status_code == 200
    row = {
        "client": world.bank_a.pk,
        "stage": "M2",
        "min_balance": "0",
        "max_balance": "",
        "max_pct": "20",
    }
    assert client.post(reverse("money:authority"), row).status_code == 403
    login(world.people["hal"])
    client.post(reverse("money:authority"), row)
    assert WaiverAuthority.objects.get().max_pct == 20
    bad = client.post(reverse("money:authority"), {**row, "max_pct": "120"})
    assert bad.status_code == 200
    assert WaiverAuthority.objects.count() == 1


def test_a_reduction_requested_approved_and_sent_to_the_client_on_screen(
    client, login, world, today
):
    placed_early()
    WaiverAuthority.objects.create(
        organisation=world.org,
        client=world.bank_a,
        stage="",
        min_balance=0,
        max_pct=10,
        created_by=world.people["hal"],
        created_at=world.org.created_at,
    )
    case = world.cases["ada_case"]
    login(world.people["ada"])
    page = client.get(reverse("cases:case-detail", args=[case.pk])).content.decode()
    assert 'data-testid="request-reduction"' in page
    form = client.get(reverse("money:reduction-new"), {"case": case.pk}).content.decode()
    assert "不超过 10.00%" in form
    response = client.post(
        reverse("money:reduction-new"),
        {
            "case": case.pk,
            "waived": "3,000",
            "pay_by": "2026-12-20",
            "reason": "重病住院",
            "evidence": pdf(),
        },
    )
    red = Reduction.objects.get()
    assert response["Location"] == reverse("money:reduction-detail", args=[red.pk])
    assert red.needs_client  # 28 % > 10 %
    login(world.people["sue"])
    client.post(reverse("money:reduction-step", args=[red.pk, "approve"]))
    red.refresh_from_db()
    assert red.status == "client"
    login(world.people["amy"])
    client.post(
        reverse("money:reduction-step", args=[red.pk, "client"]),
        {"reference": "甲银行批复 9", "evidence": pdf()},
    )
    red.refresh_from_db()
    assert red.status == "approved"
    evidence = client.get(reverse("money:reduction-file", args=[red.pk, "evidence"]))
    assert b"".join(evidence.streaming_content) == b"%PDF-1.4 p"


def test_the_reduction_queue_lists_requests_by_status(client, login, world, today):
    placed_early()
    login(world.people["ada"])
    client.post(
        reverse("money:reduction-new"),
        {
            "case": world.cases["ada_case"].pk,
            "waived": "1000",
            "pay_by": "2026-12-20",
            "reason": "重病住院",
            "evidence": pdf(),
        },
    )
    login(world.people["sue"])
    assert "A0001" in client.get(reverse("money:reduction-list")).content.decode()
    lapsed = client.get(reverse("money:reduction-list"), {"status": "lapsed"}).content.decode()
    assert "A0001" not in lapsed

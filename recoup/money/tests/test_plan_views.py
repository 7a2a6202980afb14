"""Plan screens: propose with a previewed schedule, then each step by its role."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from recoup.cases.models import Case
from recoup.money.models import RepaymentPlan
from recoup.money.tests.helpers import placed_early

pytestmark = pytest.mark.django_db


def pdf(name: str = "x.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"%PDF-1.4 x", content_type="application/pdf")


@pytest.fixture
def today():
    with time_machine.travel(date(2026, 11, 23), tick=False):
        yield


def _propose(client, case, **over):  # type: ignore[no-untyped-def]
    data = {
        "case": case.pk,
        "total": "10,573.45",
        "count": "3",
        "first_amount": "3000",
        "first_due_on": "2026-12-01",
        "payer": "debtor",
        "payer_name": "",
        "note": "",
        "submit": "propose",
        **over,
    }
    return client.post(reverse("money:plan-new"), data)


def test_a_collector_previews_and_proposes_a_plan(client, login, world, today):
    placed_early()
    case = world.cases["ada_case"]
    login(world.people["ada"])
    page = client.get(reverse("cases:case-detail", args=[case.pk])).content.decode()
    assert 'data-testid="propose-plan"' in page
    form = client.get(reverse("money:plan-new"), {"case": case.pk}).content.decode()
    assert "最长 6 个月" in form
    bad = _propose(client, case, first_amount="1000", submit="preview")
    assert "须超过欠款总额的 20%" in bad.content.decode()
    preview = _propose(client, case, submit="preview").content.decode()
    assert 'data-testid="schedule"' in preview
    assert "3,786.73" in preview
    response = _propose(client, case)
    plan = RepaymentPlan.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("money:plan-detail", args=[plan.pk])
    assert plan.status == "proposed"


def test_each_step_on_the_plan_page_by_its_role(client, login, world, today):
    placed_early()
    case = world.cases["ada_case"]
    login(world.people["ada"])
    _propose(client, case)
    plan = RepaymentPlan.objects.get()
    detail = reverse("money:plan-detail", args=[plan.pk])
    assert 'data-testid="approve"' not in client.get(detail).content.decode()
    # The collector cannot approve by posting either.
    assert client.post(reverse("money:plan-step", args=[plan.pk, "approve"])).status_code == 403
    login(world.people["sue"])
    assert 'data-testid="approve"' in client.get(detail).content.decode()
    client.post(reverse("money:plan-step", args=[plan.pk, "approve"]))
    plan.refresh_from_db()
    assert plan.status == "approved"
    login(world.people["amy"])
    client.post(
        reverse("money:plan-step", args=[plan.pk, "consent"]),
        {"reference": "甲银行函 118", "evidence": pdf("consent.pdf")},
    )
    plan.refresh_from_db()
    assert plan.status == "consented"
    login(world.people["ada"])
    response = client.post(
        reverse("money:plan-step", args=[plan.pk, "sign"]),
        {"signed_on": "2026-11-23", "debtor_document": pdf("signed.pdf")},
        follow=True,
    )
    assert "还款计划已生效" in response.content.decode()
    plan.refresh_from_db()
    assert plan.status == "active"
    assert Case.objects.get(pk=case.pk).status == "on_plan"
    signed = client.get(reverse("money:plan-file", args=[plan.pk, "debtor"]))
    assert b"".join(signed.streaming_content) == b"%PDF-1.4 x"


def test_another_collectors_plan_is_not_found(client, login, world, today):
    placed_early()
    login(world.people["ada"])
    _propose(client, world.cases["ada_case"])
    plan = RepaymentPlan.objects.get()
    login(world.people["ben"])
    assert client.get(reverse("money:plan-detail", args=[plan.pk])).status_code == 404
    response = client.get(reverse("money:plan-new"), {"case": world.cases["ada_case"].pk})
    assert response.status_code == 404


def test_the_plan_queue_lists_plans_by_status(client, login, world, today):
    placed_early()
    login(world.people["ada"])
    _propose(client, world.cases["ada_case"])
    login(world.people["sue"])
    waiting = client.get(reverse("money:plan-list")).content.decode()
    assert "A0001" in waiting
    running = client.get(reverse("money:plan-list"), {"status": "active"}).content.decode()
    assert "A0001" not in running

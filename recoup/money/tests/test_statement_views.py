"""Reconciliation screens: upload, breaks handled on the page, lock, XLSX and PDF exports."""

from __future__ import annotations

import io
from datetime import date

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import load_workbook

from recoup.audit.models import AuditEvent
from recoup.intake.tests.conftest import csv_bytes
from recoup.money.models import Statement, StatementBreak
from recoup.money.tests.helpers import placed_early, post_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def today():
    with time_machine.travel(date(2026, 11, 23), tick=False):
        yield


def _file(rows):  # type: ignore[no-untyped-def]
    data = csv_bytes(rows, headers=["交易流水号", "案件编号", "还款金额", "还款日期"])
    return SimpleUploadedFile("对账单.csv", data, content_type="text/csv")


def test_a_statement_is_reconciled_locked_and_exported_on_screen(client, login, world, today):
    placed_early()
    post_file(
        world,
        [["T1", "A0001", "500.00", "2026-11-10", ""], ["T2", "A0002", "20", "2026-11-11", ""]],
    )
    login(world.people["amy"])
    form = {
        "contract": world.contract_a.pk,
        "month": "2026-11",
        "currency": "CNY",
        "declared_count": "1",
        "declared_total": "600.00",
        "file": _file([["T1", "A0001", "500.00", "2026-11-10"]]),
    }
    bad = client.post(reverse("money:statement-list"), form)
    assert "合计不符" in bad.content.decode()
    assert not Statement.objects.exists()
    form["declared_total"] = "500.00"
    form["file"] = _file([["T1", "A0001", "500.00", "2026-11-10"]])
    response = client.post(reverse("money:statement-list"), form)
    st = Statement.objects.get()
    assert response["Location"] == reverse("money:statement-detail", args=[st.pk])
    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="breaks-open">1<' in page  # T2: only ours
    brk = StatementBreak.objects.get(statement=st)
    client.post(
        reverse("money:statement-step", args=[st.pk, "explain"]),
        {"break": brk.pk, "text": "委托方系统延迟，12 月补列"},
    )
    # The liaison cannot lock; the supervisor can.
    assert client.post(reverse("money:statement-step", args=[st.pk, "lock"])).status_code == 403
    login(world.people["sue"])
    client.post(reverse("money:statement-step", args=[st.pk, "lock"]))
    st.refresh_from_db()
    assert st.status == "locked"
    xlsx = client.get(reverse("money:statement-download", args=[st.pk, "xlsx"]))
    book = load_workbook(io.BytesIO(xlsx.content))
    cells = [c.value for row in book.worksheets[0].iter_rows() for c in row if c.value]
    assert "T1" in cells
    assert any("导出" in str(c) for c in cells)  # who exported it, and when
    pdf = client.get(reverse("money:statement-download", args=[st.pk, "pdf"]))
    assert pdf.content.startswith(b"%PDF")
    assert AuditEvent.objects.filter(action="money.statement.exported").count() == 2


def test_collectors_do_not_see_statements(client, login, world):
    login(world.people["ada"])
    assert client.get(reverse("money:statement-list")).status_code == 403


def test_the_scorecard_screen_refuses_recovery_alone(client, login, world):
    from recoup.money.models import Scorecard

    login(world.people["hal"])
    page = client.post(
        reverse("money:scorecard"),
        {"name": "只看回款", "recovery": "100", "compliance": "0", "quality": "0"},
    )
    assert "不能只按回款金额考核" in page.content.decode()
    assert not Scorecard.objects.exists()
    client.post(
        reverse("money:scorecard"),
        {"name": "2026", "recovery": "60", "compliance": "25", "quality": "15"},
    )
    assert Scorecard.objects.get().recovery_weight == 60
    login(world.people["sue"])
    assert client.post(reverse("money:scorecard"), {}).status_code == 403


def test_the_clients_layout_shapes_the_export(client, login, world, today):
    placed_early()
    post_file(world, [["T1", "A0001", "500.00", "2026-11-10", ""]])
    login(world.people["amy"])
    bad = client.post(
        reverse("money:statement-layout"),
        {"client": world.bank_a.pk, "title": "甲银行对账", "columns": "iban=账号"},
        follow=True,
    )
    assert "未知字段" in bad.content.decode()
    client.post(
        reverse("money:statement-layout"),
        {
            "client": world.bank_a.pk,
            "title": "甲银行催收回款对账表",
            "columns": "amount=入账金额\ntransaction_id=银行流水",
        },
    )
    client.post(
        reverse("money:statement-list"),
        {
            "contract": world.contract_a.pk,
            "month": "2026-11",
            "currency": "CNY",
            "declared_count": "1",
            "declared_total": "500.00",
            "file": _file([["T1", "A0001", "500.00", "2026-11-10"]]),
        },
    )
    st = Statement.objects.get()
    xlsx = client.get(reverse("money:statement-download", args=[st.pk, "xlsx"]))
    rows = list(load_workbook(io.BytesIO(xlsx.content)).worksheets[0].iter_rows(values_only=True))
    assert str(rows[0][0]).startswith("甲银行催收回款对账表")
    assert rows[2][:2] == ("入账金额", "银行流水")
    assert rows[3][1] == "T1"

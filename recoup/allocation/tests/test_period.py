"""The case period: return at period end (退案), extension with approval (留案/延期)."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from recoup.allocation import period, services
from recoup.allocation.models import PeriodExtension
from recoup.allocation.tests.test_services import pending_cases
from recoup.audit.models import AuditEvent
from recoup.cases.models import Case
from recoup.core.clock import now
from recoup.core.exceptions import PermissionDenied, RecoupError
from recoup.intake.models import ColumnMapping
from recoup.workdays.calendar import local_date

pytestmark = pytest.mark.django_db


def ending_soon(world, n, *, days=3):
    ids = pending_cases(world, n)
    services.cases_allocate(actor=world.sue, case_ids=ids, collector=world.ada)
    Case.objects.filter(pk__in=ids).update(period_ends_on=local_date(now()) + timedelta(days=days))
    return ids


def test_a_new_case_gets_its_period_from_the_contract(world):
    case = world.cases["ada_case"]
    assert case.period_ends_on == local_date(case.placed_at) + timedelta(
        days=world.contract_a.case_period_days
    )


def test_the_collector_asks_a_supervisor_approves_and_the_period_moves(world):
    (cid,) = ending_soon(world, 1)
    case = Case.objects.get(pk=cid)
    before = case.period_ends_on
    extension = period.extension_request(
        case=case, actor=world.ada, days=30, reason="已承诺下月还款", plan="每周跟进两次"
    )
    with pytest.raises(RecoupError, match="待审批"):
        period.extension_request(case=case, actor=world.ada, days=10, reason="x", plan="y")
    with pytest.raises(PermissionDenied):
        period.extension_decide(extension=extension, actor=world.ada, approve=True)
    period.extension_decide(extension=extension, actor=world.sue, approve=True)
    case.refresh_from_db()
    assert case.period_ends_on == before + timedelta(days=30)
    assert AuditEvent.objects.filter(action="allocation.extension.approved").exists()


def test_a_supervisor_cannot_approve_their_own_request_and_a_rejection_needs_a_reason(world):
    (cid,) = ending_soon(world, 1)
    case = Case.objects.get(pk=cid)
    extension = period.extension_request(
        case=case, actor=world.sue, days=15, reason="诉讼准备", plan="律师函"
    )
    with pytest.raises(PermissionDenied):
        period.extension_decide(extension=extension, actor=world.sue, approve=True)
    with pytest.raises(RecoupError):
        period.extension_decide(extension=extension, actor=world.hal, approve=False)
    period.extension_decide(extension=extension, actor=world.hal, approve=False, note="证据不足")
    assert PeriodExtension.objects.get(pk=extension.pk).status == "rejected"


@pytest.mark.parametrize(
    ("days", "reason", "plan", "message"),
    [
        (0, "r", "p", "1 到 90"),
        (91, "r", "p", "1 到 90"),
        (5, "", "p", "原因"),
        (5, "r", "", "计划"),
    ],
)
def test_bad_extension_requests_are_refused(world, days, reason, plan, message):
    (cid,) = ending_soon(world, 1)
    with pytest.raises(RecoupError, match=message):
        period.extension_request(
            case=Case.objects.get(pk=cid), actor=world.ada, days=days, reason=reason, plan=plan
        )
    assert not PeriodExtension.objects.exists()


def test_returned_cases_leave_the_collectors_view_and_the_export_uses_the_clients_columns(
    world, client, login
):
    ids = ending_soon(world, 3)
    ColumnMapping.objects.create(
        organisation=world.org,
        client=world.bank_a,
        kind="cases",
        name="甲银行格式",
        columns={"合同号": "client_case_number", "欠款金额": "total_owed"},
        created_by=world.amy,
    )
    # one case has a pending extension: it stays
    period.extension_request(
        case=Case.objects.get(pk=ids[2]), actor=world.ada, days=10, reason="r", plan="p"
    )
    run = period.cases_return(actor=world.sue, case_ids=ids, note="月末退案")
    assert run.kind == "return"
    assert run.placed_count == 2
    returned = Case.objects.filter(pk__in=ids[:2])
    assert {c.status for c in returned} == {"returned"}
    assert all(c.assignee_id is None and c.previous_assignee_id == world.ada.pk for c in returned)
    assert Case.objects.get(pk=ids[2]).status == "assigned"
    login(world.ada)
    listing = client.get("/cases/").content.decode()
    assert "P0100" not in listing
    assert "P0102" in listing
    client.logout()
    login(world.sue)
    response = client.get(f"/allocation/runs/{run.pk}/returned.xlsx")
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "合同号"
    assert rows[0][3] == "欠款金额"
    assert sorted(r[0] for r in rows[1:]) == ["P0100", "P0101"]


def test_the_return_export_never_carries_a_live_formula_and_is_in_case_number_order(
    world, client, login
):
    ids = ending_soon(world, 3)
    numbers = ["Z-9", '=HYPERLINK("http://x.example","点此")', "+1+2"]  # id order ≠ sorted
    for cid, number in zip(ids, numbers, strict=True):
        Case.objects.filter(pk=cid).update(client_case_number=number)
    ColumnMapping.objects.create(
        organisation=world.org,
        client=world.bank_a,
        kind="cases",
        name="甲银行格式",
        columns={"=cmd|' /C calc'!A0": "client_case_number"},
        created_by=world.amy,
    )
    run = period.cases_return(actor=world.sue, case_ids=ids, note="月末退案")
    login(world.sue)

    response = client.get(f"/allocation/runs/{run.pk}/returned.xlsx")

    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    cells = [row[0] for row in sheet.iter_rows()]
    assert all(cell.data_type == "s" for cell in cells)  # text, never a formula
    assert [cell.value for cell in cells] == [
        "'=cmd|' /C calc'!A0",
        "'+1+2",
        '\'=HYPERLINK("http://x.example","点此")',
        "Z-9",
    ]


def test_the_period_page_lists_cases_ending_this_week_and_returns_the_chosen(world, client, login):
    ids = ending_soon(world, 2)
    later = pending_cases(world, 1, start=400)
    Case.objects.filter(pk__in=later).update(period_ends_on=local_date(now()) + timedelta(days=20))
    login(world.sue)
    page = client.get("/allocation/period/").content.decode()
    assert "P0100" in page
    assert "P0400" not in page
    response = client.post("/allocation/period/", {"case": [ids[0]], "note": "退案"})
    assert response.status_code == 302
    assert Case.objects.get(pk=ids[0]).status == "returned"
    assert Case.objects.get(pk=ids[1]).status == "assigned"


def test_the_collector_requests_an_extension_from_the_case_page(world, client, login):
    (cid,) = ending_soon(world, 1)
    login(world.ada)
    page = client.get(f"/cases/{cid}/").content.decode()
    assert 'data-testid="extension-link"' in page
    response = client.post(
        f"/allocation/period/cases/{cid}/extend/",
        {"days": 20, "reason": "债务人住院", "plan": "出院后上门"},
    )
    assert response.status_code == 302
    assert PeriodExtension.objects.get(case_id=cid).status == "pending"
    # ben may not ask for ada's case
    client.logout()
    login(world.ben)
    assert client.get(f"/allocation/period/cases/{cid}/extend/").status_code == 404

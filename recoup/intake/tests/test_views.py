"""Intake screens and API: upload, mapping with preview and live check, progress, report."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from recoup.accounts.services import api_token_create
from recoup.cases.models import Case, StopListEntry
from recoup.intake import services
from recoup.intake.models import ImportJob
from recoup.intake.tests.conftest import HEADERS, csv_bytes, row
from tests.fixtures import make_id_number

pytestmark = pytest.mark.django_db


def _file(rows, name="bank.csv", **kw):
    f = io.BytesIO(csv_bytes(rows, **kw))
    f.name = name
    return f


def test_upload_map_run_and_report_through_the_screens(world, client, login):
    login(world.amy)
    assert client.get("/intake/").status_code == 200
    page = client.get("/intake/upload/")
    assert page.status_code == 200
    response = client.post(
        "/intake/upload/",
        {
            "contract": world.contract_a.pk,
            "kind": "cases",
            "file": _file([row(1), row(2, principal="x")]),
            "batch_reference": "A-2026-11",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    job = ImportJob.objects.get()
    mapping = client.get(f"/intake/jobs/{job.pk}/mapping/")
    body = mapping.content.decode()
    assert mapping.status_code == 200
    assert "王***" in body  # preview of a personal column is masked
    assert "王小明" not in body
    assert "必填字段齐全" in body
    # Live check: unmap the ID-number column and the fragment says what is missing.
    headers = services.job_headers(job)
    post = {f"col{i}": job.columns[h] for i, h in enumerate(headers)}
    post[f"col{headers.index('身份证号')}"] = "ignore"
    fragment = client.post(f"/intake/jobs/{job.pk}/mapping/check/", post, HTTP_HX_REQUEST="true")
    assert "证件号码" in fragment.content.decode()
    assert "<html" not in fragment.content.decode()
    # Confirming a broken mapping is refused and nothing is queued.
    assert client.post(f"/intake/jobs/{job.pk}/mapping/", post).status_code == 400
    assert ImportJob.objects.get(pk=job.pk).status == "draft"
    post[f"col{headers.index('身份证号')}"] = "id_number"
    post["save_as"] = "甲银行标准格式"
    assert client.post(f"/intake/jobs/{job.pk}/mapping/", post).status_code == 302
    services.import_run(job_id=job.pk)  # the worker's part
    detail = client.get(f"/intake/jobs/{job.pk}/").content.decode()
    assert 'data-testid="summary"' in detail
    assert "A-2026-11" in detail
    progress = client.get(f"/intake/jobs/{job.pk}/progress/")
    assert progress["HX-Refresh"] == "true"
    report = client.get(f"/intake/jobs/{job.pk}/report.xlsx")
    assert report.status_code == 200
    sheet = load_workbook(io.BytesIO(report.content)).active
    texts = [str(c.value) for r in sheet.iter_rows() for c in r if c.value is not None]
    assert any("金额无法识别" in t for t in texts)


def test_the_report_neutralises_formulas_from_the_bank_file(world):
    evil = row(1, name='=HYPERLINK("http://x","y")', principal="=cmd|' /C calc'!A0")
    job = services.import_upload(
        upload=services.Upload(
            contract=world.contract_a,
            kind="cases",
            file=_file([evil]),
            file_name="evil.csv",
            branch=world.north,
        ),
        actor=world.amy,
    )
    services.import_confirm(job=job, columns=job.columns, actor=world.amy)
    services.import_run(job_id=job.pk)
    from recoup.intake.report import issues_workbook

    sheet = load_workbook(io.BytesIO(issues_workbook(job))).active
    for r in sheet.iter_rows():
        for c in r:
            assert not (isinstance(c.value, str) and c.value.startswith("=")), c.value


def test_a_collector_has_no_intake_screens(world, client, login):
    login(world.ada)
    assert client.get("/intake/upload/").status_code == 403


def test_risk_officers_keep_the_stop_list(world, client, login):
    login(world.rick)
    response = client.post(
        "/intake/stop-list/",
        {"id_number": make_id_number(5, "19900101"), "reason": "fraud", "note": "公安通报"},
    )
    assert response.status_code == 302
    entry = StopListEntry.objects.get()
    assert entry.id_number_masked.startswith("1101")
    assert make_id_number(5, "19900101") not in client.get("/intake/stop-list/").content.decode()
    bad = client.post("/intake/stop-list/", {"id_number": "123", "reason": "fraud"})
    assert bad.status_code == 400


def test_a_supervisor_reads_but_does_not_edit_the_stop_list(world, client, login):
    login(world.sue)
    assert client.get("/intake/stop-list/").status_code == 200
    assert (
        client.post(
            "/intake/stop-list/", {"id_number": make_id_number(5), "reason": "fraud"}
        ).status_code
        == 403
    )


def test_a_bank_pushes_a_file_through_the_api(world, client):
    _token, raw = api_token_create(
        organisation=world.org,
        user=world.cli,
        role="client_user",
        name="sftp",
        expires_at=None,
        actor=None,
    )
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    response = client.post(
        "/api/v1/intake/files",
        {
            "file": _file([row(1), row(2)]),
            "contract": world.contract_a.pk,
            "kind": "cases",
            "batch_reference": "PUSH-1",
        },
        **auth,
    )
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    assert response.json()["status"] == "queued"
    services.import_run(job_id=job_id)
    status = client.get(f"/api/v1/intake/jobs/{job_id}", **auth).json()
    assert status["status"] == "succeeded"
    assert status["rows_loaded"] == 2
    assert Case.objects.filter(batch__reference="PUSH-1").count() == 2
    report = client.get(f"/api/v1/intake/jobs/{job_id}/report.xlsx", **auth)
    assert report.status_code == 200
    again = client.post(
        "/api/v1/intake/files",
        {
            "file": _file([row(1), row(2)]),
            "contract": world.contract_a.pk,
            "kind": "cases",
        },
        **auth,
    )
    assert again.status_code == 409
    assert "PUSH-1" in again.json()["error"]
    other = client.post(
        "/api/v1/intake/files",
        {
            "file": _file([row(3)]),
            "contract": world.contract_b.pk,
            "kind": "cases",
        },
        **auth,
    )
    assert other.status_code == 404


def test_api_upload_with_a_missing_column_is_a_400_naming_it(world, client):
    _token, raw = api_token_create(
        organisation=world.org,
        user=world.amy,
        role="admin_assistant",
        name="x",
        expires_at=None,
        actor=None,
    )
    response = client.post(
        "/api/v1/intake/files",
        {
            "file": _file([["N1", "王五"]], headers=HEADERS[:2]),
            "contract": world.contract_a.pk,
        },
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    assert response.status_code == 400
    assert "证件号码" in response.json()["error"]
    assert not Case.objects.filter(client_case_number="N1").exists()


def test_issue_messages_render_in_english(world):
    from django.utils import translation

    from recoup.intake.messages import issue_message

    with translation.override("en"):
        assert issue_message("stop_listed", {"reason": "deceased"}) == (
            "The debtor is on the stop list (Deceased); the case was imported and put on hold."
        )
        assert "ID number" in issue_message("id_checksum", {})
    assert "停催名单" in issue_message("stop_listed", {"reason": "deceased"})


def test_quarantined_rows_download_in_full_are_corrected_and_resubmitted(world, client, login):
    from openpyxl import Workbook

    from recoup.audit.models import AuditEvent
    from recoup.intake.models import QuarantinedRow

    evil = "=cmd|' /C calc'!A0"
    job = services.import_upload(
        upload=services.Upload(
            contract=world.contract_a,
            kind="cases",
            file=_file([row(1), row(2, principal="oops"), row(3, principal=evil)]),
            file_name="bank.csv",
            branch=world.north,
        ),
        actor=world.amy,
    )
    services.import_confirm(job=job, columns=job.columns, actor=world.amy)
    services.import_run(job_id=job.pk)
    login(world.amy)
    detail = client.get(f"/intake/jobs/{job.pk}/").content.decode()
    assert 'data-testid="download-quarantine"' in detail
    response = client.get(f"/intake/jobs/{job.pk}/quarantine.xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    kept, why = book.worksheets
    rows = [[c.value for c in r] for r in kept.iter_rows()]
    assert rows[0] == HEADERS  # the file's own headers, in its order
    principal = HEADERS.index("本金")
    assert [r[0] for r in rows[1:]] == ["N00002", "N00003"]
    assert rows[1][HEADERS.index("客户姓名")] == "王小明"  # in full: it is for correcting
    assert rows[1][principal] == "oops"
    # As sent, but typed as text: never a live formula, and "+86 …" phones survive the trip.
    assert rows[2][principal] == evil
    assert kept.cell(row=3, column=principal + 1).data_type == "s"
    assert rows[1][HEADERS.index("手机号")] == "+86 139-0000-0001"
    reasons = [[c.value for c in r] for r in why.iter_rows()][1:]
    assert len(reasons) == 2
    assert all("金额" in str(r[2]) for r in reasons)
    event = AuditEvent.objects.get(action="intake.quarantine.downloaded")
    assert (event.actor, event.data) == (world.amy, {"rows": 2})
    # A collector may not have them.
    login(world.ada)
    assert client.get(f"/intake/jobs/{job.pk}/quarantine.xlsx").status_code in (403, 404)
    assert AuditEvent.objects.filter(action="intake.quarantine.downloaded").count() == 1
    # Corrected in the sheet and sent back as it is: both rows load into the same batch.
    fixed = Workbook()
    sheet = fixed.active
    for r in rows[:1] + [[*r[:principal], "100.00", *r[principal + 1 :]] for r in rows[1:]]:
        sheet.append(r)
    buffer = io.BytesIO()
    fixed.save(buffer)
    buffer.seek(0)
    buffer.name = "fixed.xlsx"
    again = services.import_upload(
        upload=services.Upload(
            contract=world.contract_a,
            kind="cases",
            file=buffer,
            file_name="fixed.xlsx",
            branch=world.north,
            columns=job.columns,
            resubmission_of=job,
        ),
        actor=world.amy,
    )
    services.import_confirm(job=again, columns=job.columns, actor=world.amy)
    again = services.import_run(job_id=again.pk)
    assert again.status == "succeeded", again.error_message
    assert again.batch_id == job.batch_id
    assert Case.objects.filter(batch_id=job.batch_id).count() == 3
    assert not QuarantinedRow.objects.filter(job=job, resolved_by__isnull=True).exists()

"""Intake API for banks that push by system: upload a file, poll its job, fetch the report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import File, Form, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import Status

from recoup.accounts.models import User
from recoup.intake import selectors, services
from recoup.intake.messages import issue_message
from recoup.intake.models import FileKind, ImportJob
from recoup.intake.report import issues_workbook

router = Router(tags=["intake"])


class JobOut(Schema):
    id: int
    status: str
    kind: str
    file_name: str
    sha256: str
    batch: str | None
    received_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    rows_total: int | None
    rows_read: int
    rows_valid: int
    rows_invalid: int
    rows_duplicate: int
    rows_existing: int
    rows_held: int
    rows_loaded: int
    percent: int
    sla_deadline: datetime
    sla_breached: bool
    error: str
    mapping_problems: list[str]


class ErrorOut(Schema):
    error: str
    code: str


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _out(job: ImportJob, problems: list[str] | None = None) -> dict[str, Any]:
    p = selectors.job_progress(job)
    return {
        "id": job.pk,
        "status": job.status,
        "kind": job.kind,
        "file_name": job.file_name,
        "sha256": job.sha256,
        "batch": job.batch.reference if job.batch else None,
        "received_at": job.received_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "rows_total": job.rows_total,
        "rows_read": job.rows_read,
        "rows_valid": job.rows_valid,
        "rows_invalid": job.rows_invalid,
        "rows_duplicate": job.rows_duplicate,
        "rows_existing": job.rows_existing,
        "rows_held": job.rows_held,
        "rows_loaded": job.rows_loaded,
        "percent": p.percent,
        "sla_deadline": p.sla_deadline,
        "sla_breached": p.sla_breached,
        "error": job.error_message or (issue_message(job.error_code, {}) if job.error_code else ""),
        "mapping_problems": problems or [],
    }


@router.post(
    "/files",
    response={202: JobOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    operation_id="api_intake_upload",
)
def api_intake_upload(
    request: HttpRequest,
    file: File[UploadedFile],
    contract: Form[int],
    kind: Form[FileKind] = FileKind.CASES,
    batch_reference: Form[str] = "",
    received_at: Form[datetime | None] = None,
    encoding: Form[str] = "",
    sheet: Form[str] = "",
) -> Status[dict[str, Any]]:
    """Upload a bank file; it is mapped with the client's saved mapping (or the built-in
    synonyms) and queued at once. Poll ``GET /jobs/{id}`` for progress."""
    user = _user(request)
    target = selectors.contract_get_for_import(user, contract)
    try:
        job = services.import_upload(
            upload=services.Upload(
                contract=target,
                kind=kind,
                file=file,
                file_name=file.name or "upload",
                received_at=received_at,
                batch_reference=batch_reference,
                encoding=encoding,
                sheet=sheet,
            ),
            actor=user,
            confirm=True,
        )
    except services.DuplicateFile as exc:
        return Status(409, {"error": exc.message, "code": exc.code})
    except services.MappingProblems as exc:
        return Status(400, {"error": exc.message, "code": exc.code})
    job.refresh_from_db()
    return Status(202, _out(job))


@router.get("/jobs/{job_id}", response={200: JobOut, 404: ErrorOut}, operation_id="api_intake_job")
def api_intake_job(request: HttpRequest, job_id: int) -> dict[str, Any]:
    return _out(selectors.job_get_for_user(_user(request), job_id))


@router.get(
    "/jobs/{job_id}/report.xlsx", response={404: ErrorOut}, operation_id="api_intake_report"
)
def api_intake_report(request: HttpRequest, job_id: int) -> HttpResponse:
    job = selectors.job_get_for_user(_user(request), job_id)
    response = HttpResponse(
        issues_workbook(job),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-issues.xlsx"'
    return response

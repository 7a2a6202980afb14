"""Reads of import jobs for a user."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from recoup.accounts.models import Role
from recoup.cases.models import StopListEntry
from recoup.clients.models import Contract
from recoup.core.clock import now
from recoup.core.exceptions import NotFound
from recoup.intake.models import ImportIssue, ImportJob
from recoup.intake.permissions import STAFF_IMPORTERS, STOP_LIST_KEEPERS, client_id_of

if TYPE_CHECKING:
    from recoup.accounts.models import User

INTAKE_SLA = timedelta(hours=2)  # SPEC §3.1: in the system within 2 hours of receipt


def jobs_for_user(user: User) -> QuerySet[ImportJob]:
    """Staff importers see the agency's jobs; a client user those of their own client."""
    if user.organisation_id is None:
        return ImportJob.objects.none()
    qs = ImportJob.objects.for_org(user.organisation_id).select_related(
        "contract__client", "batch", "created_by", "branch"
    )
    if user.has_role(*STAFF_IMPORTERS):
        return qs
    if user.has_role(Role.Code.CLIENT_USER):
        client_id = client_id_of(user)
        return qs.filter(contract__client_id=client_id) if client_id else qs.none()
    return qs.none()


def job_get_for_user(user: User, job_id: int) -> ImportJob:
    job = jobs_for_user(user).filter(pk=job_id).first()
    if job is None:
        raise NotFound(_("导入任务不存在。"))
    return job


def importable_contracts(user: User) -> QuerySet[Contract]:
    if user.organisation_id is None:
        return Contract.objects.none()
    qs = (
        Contract.objects.for_org(user.organisation_id)
        .filter(status="active")
        .select_related("client")
    )
    if user.has_role(*STAFF_IMPORTERS):
        return qs
    client_id = client_id_of(user)
    return qs.filter(client_id=client_id) if client_id else qs.none()


def contract_get_for_import(user: User, contract_id: int) -> Contract:
    contract = importable_contracts(user).filter(pk=contract_id).first()
    if contract is None:
        raise NotFound(_("合作协议不存在。"))
    return contract


@dataclass(frozen=True)
class Progress:
    status: str
    status_label: str
    rows_total: int | None
    rows_read: int
    rows_valid: int
    rows_invalid: int
    percent: int
    rate_per_s: float
    eta_s: int | None
    running: bool
    sla_deadline: datetime
    sla_breached: bool
    elapsed_s: int


def job_progress(job: ImportJob) -> Progress:
    at = now()
    running = job.status in (ImportJob.Status.QUEUED, ImportJob.Status.RUNNING)
    elapsed = ((job.finished_at or at) - job.started_at).total_seconds() if job.started_at else 0.0
    rate = job.rows_read / elapsed if elapsed > 0 else 0.0
    total = job.rows_total
    if job.status == ImportJob.Status.SUCCEEDED:
        percent = 100
    elif total:
        percent = min(99, int(job.rows_read * 100 / total))
    else:
        percent = 0
    eta = int((total - job.rows_read) / rate) if running and total and rate > 0 else None
    deadline = job.received_at + INTAKE_SLA
    done_at = job.finished_at if job.status == ImportJob.Status.SUCCEEDED else at
    return Progress(
        status=job.status,
        status_label=job.get_status_display(),
        rows_total=total,
        rows_read=job.rows_read,
        rows_valid=job.rows_valid,
        rows_invalid=job.rows_invalid,
        percent=percent,
        rate_per_s=round(rate, 1),
        eta_s=eta,
        running=running,
        sla_deadline=deadline,
        sla_breached=bool(done_at and done_at > deadline),
        elapsed_s=int(elapsed),
    )


def job_issues(job: ImportJob) -> QuerySet[ImportIssue]:
    return ImportIssue.objects.filter(job=job).order_by("row_number", "id")


def stop_list_for_user(user: User) -> QuerySet[StopListEntry]:
    if not user.has_role(*STOP_LIST_KEEPERS, Role.Code.SUPERVISOR) or user.organisation_id is None:
        return StopListEntry.objects.none()
    return StopListEntry.objects.for_org(user.organisation_id).select_related("added_by")

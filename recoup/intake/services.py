"""Intake services: upload a file, confirm its mapping, run it, retry, re-submit, stop list."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import DatabaseError, transaction
from django.db.models import Count, Q, Sum
from django.utils.translation import gettext as _

from recoup.accounts.models import OrgUnit
from recoup.audit.services import audit_record
from recoup.cases import pii
from recoup.cases.models import StopListEntry
from recoup.clients.locks import lock_contract_money
from recoup.clients.models import Batch
from recoup.core.clock import now
from recoup.core.db import analyze_tables, bulk_session
from recoup.core.exceptions import PermissionDenied, RecoupError
from recoup.core.identity import IdentifierError, mask_id_number, normalise_id_number
from recoup.intake import hooks, incremental, switchover
from recoup.intake.fields import check_mapping, suggest_mapping
from recoup.intake.models import (
    ColumnMapping,
    FileKind,
    ImportIssue,
    ImportJob,
    IncrementalRow,
    QuarantinedRow,
)
from recoup.intake.permissions import STOP_LIST_KEEPERS, can_import
from recoup.intake.pipeline import Counters, stage_cases
from recoup.intake.readers import ReadError, ReadLimits, open_table
from recoup.intake.report import quarantine_workbook

if TYPE_CHECKING:
    from recoup.accounts.models import User
    from recoup.clients.models import Contract

logger = logging.getLogger(__name__)
CHUNK = 1 << 20


class DuplicateFile(RecoupError):
    code = "duplicate_file"


class MappingProblems(RecoupError):
    code = "mapping"

    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


def read_limits() -> ReadLimits:
    return ReadLimits(
        max_bytes=settings.RECOUP_IMPORT_MAX_BYTES,
        max_rows=settings.RECOUP_IMPORT_MAX_ROWS,
    )


def _store(upload: IO[bytes], name: str) -> tuple[str, str, int]:
    """Copy the upload into storage while hashing it; refuse it past the size limit."""
    limit = settings.RECOUP_IMPORT_MAX_BYTES
    digest, size = hashlib.sha256(), 0
    with tempfile.NamedTemporaryFile(delete=False, suffix=Path(name).suffix[:10]) as tmp:
        while chunk := upload.read(CHUNK):
            size += len(chunk)
            if size > limit:
                tmp.close()
                os.unlink(tmp.name)
                raise RecoupError(
                    _("文件超过大小上限（%(mb)d MB）。") % {"mb": limit // (1 << 20)},
                    code="too_large",
                )
            digest.update(chunk)
            tmp.write(chunk)
    sha = digest.hexdigest()
    try:
        with open(tmp.name, "rb") as fh:
            stored = default_storage.save(
                f"intake/{sha[:2]}/{sha}{Path(name).suffix[:10]}", File(fh)
            )
    finally:
        os.unlink(tmp.name)
    return stored, sha, size


def local_path(job: ImportJob) -> Path:
    name = job.file.name
    assert name, "an import job always has its file"
    return Path(default_storage.path(name))


@dataclass(frozen=True)
class Upload:
    contract: Contract
    kind: str
    file: IO[bytes]
    file_name: str
    received_at: datetime | None = None
    batch_reference: str = ""
    branch: OrgUnit | None = None
    encoding: str = ""
    sheet: str = ""
    columns: dict[str, str] | None = None
    resubmission_of: ImportJob | None = None


def import_upload(*, upload: Upload, actor: User, confirm: bool = False) -> ImportJob:
    """Store a bank file as an import job (status draft: the mapping is checked next).

    The file is the backup of record and is stored with its SHA-256; the same file uploaded
    again is refused, naming the batch that already holds it. With ``confirm`` (API pushes)
    the saved or suggested mapping is used at once and the job is queued.
    """
    contract = upload.contract
    if not can_import(actor, contract):
        raise PermissionDenied(_("你没有权限为该合作协议导入文件。"))
    if contract.status != "active":
        raise RecoupError(_("合作协议未生效，不能接收案件。"))
    if upload.kind not in FileKind.values:
        raise RecoupError(_("未知的文件类型。"), code="kind_unknown")
    stored, sha, size = _store(upload.file, upload.file_name)
    try:
        return _create_job(upload, actor, stored, sha, size, confirm)
    except Exception:
        if not ImportJob.objects.filter(file=stored).exists():
            default_storage.delete(stored)
        raise


def _create_job(
    upload: Upload, actor: User, stored: str, sha: str, size: int, confirm: bool
) -> ImportJob:
    contract = upload.contract
    org_id = contract.organisation_id
    existing = (
        ImportJob.objects.for_org(org_id)
        .filter(kind=upload.kind, sha256=sha)
        .select_related("batch")
        .first()
    )
    if existing is not None:
        where = existing.batch.reference if existing.batch else existing.file_name
        raise DuplicateFile(
            _("该文件已导入过：批次 %(batch)s（导入任务 %(job)d，%(status)s）。")
            % {"batch": where, "job": existing.pk, "status": existing.get_status_display()}
        )
    try:
        with open_table(
            Path(default_storage.path(stored)),
            encoding=upload.encoding or None,
            sheet=upload.sheet or None,
            limits=read_limits(),
            head=True,
        ) as table:
            headers = table.headers
            detected = table.encoding or ""
    except ReadError as exc:
        raise RecoupError(exc.message(), code=exc.code) from exc
    columns = upload.columns
    if columns is None:
        saved = (
            ColumnMapping.objects.for_org(org_id)
            .filter(client_id=contract.client_id, kind=upload.kind)
            .order_by("-updated_at")
            .first()
        )
        base = saved.columns if saved else {}
        suggested = suggest_mapping(headers, upload.kind)
        columns = {h: base.get(h, suggested[h]) for h in headers}
    branch = upload.branch or _default_branch(actor, contract)
    received = upload.received_at or now()
    if received > now():
        raise RecoupError(_("接收时间不能晚于现在。"))
    with transaction.atomic():
        batch: Batch | None = None
        if upload.kind != FileKind.CASES:
            pass  # incremental files change existing cases: no new batch
        elif upload.resubmission_of is not None:
            batch = upload.resubmission_of.batch
            branch = upload.resubmission_of.branch or branch
        else:
            reference = upload.batch_reference.strip()
            if not reference:
                # A generated reference never collides: two files received in the same second
                # get -2, -3, … (a reference the user typed must be unique as typed).
                stem = f"{contract.number}-{received:%Y%m%d-%H%M%S}"
                reference, n = stem, 1
                while Batch.objects.filter(contract=contract, reference=reference).exists():
                    n += 1
                    reference = f"{stem}-{n}"
            elif Batch.objects.filter(contract=contract, reference=reference).exists():
                raise RecoupError(_("批次号 %(ref)s 已存在。") % {"ref": reference})
            batch = Batch.objects.create(
                organisation_id=org_id,
                contract=contract,
                reference=reference,
                status=Batch.Status.RECEIVED,
                received_at=received,
                file_name=upload.file_name[:255],
                file_sha256=sha,
            )
        job = ImportJob.objects.create(
            organisation_id=org_id,
            contract=contract,
            batch=batch,
            kind=upload.kind,
            branch=branch,
            resubmission_of=upload.resubmission_of,
            file=stored,
            file_name=upload.file_name[:255],
            file_size=size,
            sha256=sha,
            encoding=upload.encoding or detected,
            headers=headers,
            sheet=upload.sheet,
            columns=columns,
            error_policy=contract.import_error_policy,
            received_at=received,
            created_by=actor,
        )
        audit_record(
            action="intake.job.uploaded",
            actor=actor,
            organisation=org_id,
            object_type="import_job",
            object_id=job.pk,
            data={
                "file": job.file_name,
                "sha256": sha,
                "bytes": size,
                "batch": batch.reference if batch else "",
                "kind": upload.kind,
                "received_at": received,
            },
        )
        if confirm:
            import_confirm(job=job, columns=columns, actor=actor)
    return job


def _default_branch(actor: User, contract: Contract) -> OrgUnit | None:
    if actor.unit is not None and actor.unit.kind == OrgUnit.Kind.BRANCH:
        return actor.unit
    return (
        OrgUnit.objects.filter(organisation_id=contract.organisation_id, kind=OrgUnit.Kind.BRANCH)
        .order_by("name")
        .first()
    )


def job_headers(job: ImportJob) -> list[str]:
    """The file's headers, read once at upload (opening a large XLSX takes seconds)."""
    return list(job.headers)


@transaction.atomic
def import_confirm(
    *, job: ImportJob, columns: dict[str, str], actor: User, save_as: str = ""
) -> ImportJob:
    """Accept the column mapping and queue the job for a worker."""
    if not can_import(actor, job.contract):
        raise PermissionDenied(_("你没有权限为该合作协议导入文件。"))
    if job.status != ImportJob.Status.DRAFT:
        raise RecoupError(_("该导入任务已确认。"))
    if job.kind == FileKind.CASES and job.branch is None:
        raise RecoupError(_("请选择接收案件的分公司。"))
    headers = job_headers(job)
    problems = check_mapping(columns, headers, job.kind)
    if problems:
        raise MappingProblems(problems)
    if save_as.strip():
        ColumnMapping.objects.update_or_create(
            organisation_id=job.organisation_id,
            client_id=job.contract.client_id,
            kind=job.kind,
            name=save_as.strip()[:100],
            defaults={"columns": columns, "created_by": actor},
        )
    job.columns = columns
    job.status = ImportJob.Status.QUEUED
    job.save(update_fields=["columns", "status"])
    audit_record(
        action="intake.job.queued",
        actor=actor,
        organisation=job.organisation_id,
        object_type="import_job",
        object_id=job.pk,
        data={"columns": columns},
    )
    transaction.on_commit(lambda: _enqueue(job.pk))
    return job


@transaction.atomic
def quarantine_export(*, job: ImportJob, actor: User) -> tuple[bytes, int]:
    """The job's quarantined rows in full, for correction and re-submission: for those who
    may import the contract's files (they held the file itself); audited."""
    if not can_import(actor, job.contract):
        raise PermissionDenied(_("你没有权限下载该导入任务的隔离数据。"))
    content, rows = quarantine_workbook(job)
    audit_record(
        action="intake.quarantine.downloaded",
        actor=actor,
        organisation=job.organisation_id,
        object_type="import_job",
        object_id=job.pk,
        data={"rows": rows},
    )
    return content, rows


def _enqueue(job_id: int) -> None:
    from recoup.intake.tasks import run_import

    run_import.enqueue(job_id)


@transaction.atomic
def import_retry(*, job: ImportJob, actor: User) -> ImportJob:
    """Run a failed import again from the start (the previous attempt left nothing behind)."""
    if not can_import(actor, job.contract):
        raise PermissionDenied(_("你没有权限为该合作协议导入文件。"))
    if job.status != ImportJob.Status.FAILED:
        raise RecoupError(_("只有失败的导入任务可以重试。"))
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.QUEUED, error_code="", error_message=""
    )
    audit_record(
        action="intake.job.retried",
        actor=actor,
        organisation=job.organisation_id,
        object_type="import_job",
        object_id=job.pk,
    )
    transaction.on_commit(lambda: _enqueue(job.pk))
    job.refresh_from_db()
    return job


def _progress(job: ImportJob) -> object:
    def save(c: Counters) -> None:
        ImportJob.objects.filter(pk=job.pk).update(
            rows_read=c.read, rows_valid=c.valid, rows_invalid=c.invalid, updated_at=now()
        )

    return save


def _estimate_rows(path: Path) -> int | None:
    """Lines in a CSV (minus the header), counted in chunks: good enough for an ETA."""
    try:
        with path.open("rb") as fh:
            if fh.read(4) == b"PK\x03\x04":
                return None
            fh.seek(0)
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(CHUNK), b""))
        return max(0, lines - 1)
    except OSError:
        return None


def import_run(*, job_id: int) -> ImportJob:
    """Run a queued import (the task body). Safe to call twice: only one run takes the job."""
    taken = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.RUNNING, started_at=now(), finished_at=None
    )
    job = ImportJob.objects.select_related("contract", "batch", "created_by").get(pk=job_id)
    if not taken:
        return job
    ImportJob.objects.filter(pk=job.pk).update(attempts=job.attempts + 1)
    _reset(job)
    path = local_path(job)
    job.rows_total = _estimate_rows(path)
    ImportJob.objects.filter(pk=job.pk).update(rows_total=job.rows_total)
    if job.batch_id is not None:
        Batch.objects.filter(pk=job.batch_id, status__in=["received", "failed"]).update(
            status="importing"
        )
    succeeded = False
    try:
        with bulk_session():
            if job.kind == FileKind.CASES:
                succeeded = _run_cases(job, path)
            else:
                succeeded = _run_incremental(job, path)
    except ReadError as exc:
        _fail(job, exc.code, exc.message())
    except Exception as exc:
        logger.exception("import job %s failed", job.pk)
        _fail(
            job,
            "internal",
            _("导入时发生内部错误（%(error)s），未导入任何数据，可重试。")
            % {"error": exc.__class__.__name__},
        )
    finally:
        if job.kind != FileKind.CASES:
            # A session's temporary table: if even dropping it fails, the session's end does.
            with contextlib.suppress(DatabaseError):
                incremental.stage_clear(job)
        if not succeeded:
            switchover.clear_staging(job)
            IncrementalRow.objects.filter(job=job).delete()
    job.refresh_from_db()
    return job


def _run_cases(job: ImportJob, path: Path) -> bool:
    counters = stage_cases(job, path=path, limits=read_limits(), progress=_progress(job))  # type: ignore[arg-type]
    number_header = next(h for h, f in job.columns.items() if f == "client_case_number")
    filtered = switchover.filter_staged(job, number_header=number_header)
    if job.error_policy == "reject" and counters.invalid + filtered.duplicate:
        # The contract says one bad row rejects the batch: nothing is loaded.
        with transaction.atomic():
            _finish(job, ImportJob.Status.REJECTED, counters, filtered, 0)
        return False
    with transaction.atomic():
        actor_id = job.created_by_id
        assert actor_id is not None
        loaded = switchover.switch_over(job, actor_id=actor_id, at=now())
        _finish(job, ImportJob.Status.SUCCEEDED, counters, filtered, loaded)
    # After the commit: the batch is in; emptying the staging tables is housekeeping.
    switchover.clear_staging(job)
    # Statistics for the tables the batch grew, sampled (SQLite: a full ANALYZE read all
    # 5.5M contact points of a 1M-row file, 6 s); `manage.py db_analyze` does them all.
    analyze_tables(*switchover.LOADED_TABLES)
    return True


def _run_incremental(job: ImportJob, path: Path) -> bool:
    counters = incremental.stage_incremental(
        job,
        path=path,
        limits=read_limits(),
        progress=_progress(job),  # type: ignore[arg-type]
    )
    counts = incremental.filter_incremental(job)
    unmatched = counts.get("unmatched", 0)
    errors = counters.invalid + counts.get("duplicate", 0)
    if job.kind != FileKind.REPAYMENTS:
        errors += unmatched  # a balance or closure for an unknown case is an error
    status = ImportJob.Status.SUCCEEDED
    if job.error_policy == "reject" and errors:
        status = ImportJob.Status.REJECTED
    with transaction.atomic():
        if job.kind == FileKind.BALANCES:
            lock_contract_money(job.contract_id)  # balances move only one writer at a time
        posted = None
        if (
            status != ImportJob.Status.REJECTED
            and job.kind == FileKind.REPAYMENTS
            and hooks.posting_registered()
        ):
            # Matched and unmatched rows go to the money app, which posts them in this same
            # transaction (it may find transactions entered by hand before the file: those
            # rows become duplicates).
            posted = hooks.repayments_applied(job)
            counts["duplicate"] = incremental.count_state(job, "duplicate")
        changed = (
            0
            if status == ImportJob.Status.REJECTED
            else incremental.apply_incremental(job, at=now())
        )
        if posted is not None:
            changed = posted
        at = now()
        fields = {
            "status": status,
            "finished_at": at,
            "rows_read": counters.read,
            "rows_valid": counts.get("valid", 0),
            "rows_invalid": counters.invalid,
            "rows_duplicate": counts.get("duplicate", 0),
            "rows_existing": counts.get("skipped", 0),
            "rows_held": unmatched,
            "rows_loaded": changed,
            "updated_at": at,
        }
        ImportJob.objects.filter(pk=job.pk).update(**fields)
        audit_record(
            action=f"intake.job.{status}",
            actor=job.created_by,
            organisation=job.organisation_id,
            object_type="import_job",
            object_id=job.pk,
            data={k: v for k, v in fields.items() if k.startswith("rows_")}
            | {"kind": job.kind, "sha256": job.sha256},
        )
    return status == ImportJob.Status.SUCCEEDED


def _reset(job: ImportJob) -> None:
    """A retry starts clean: earlier staging, issues and quarantine of this job go."""
    switchover.clear_staging(job)
    ImportIssue.objects.filter(job=job).delete()
    QuarantinedRow.objects.filter(job=job).delete()
    IncrementalRow.objects.filter(job=job).delete()


def _finish(
    job: ImportJob, status: str, c: Counters, f: switchover.FilterCounts, loaded: int
) -> None:
    at = now()
    fields = {
        "status": status,
        "finished_at": at,
        "rows_read": c.read,
        "rows_valid": f.valid + f.held,
        "rows_invalid": c.invalid,
        "rows_duplicate": f.duplicate,
        "rows_existing": f.existing,
        "rows_held": f.held,
        "rows_loaded": loaded,
        "updated_at": at,
    }
    ImportJob.objects.filter(pk=job.pk).update(**fields)
    if status == ImportJob.Status.SUCCEEDED and job.batch_id:
        totals = (
            job.batch.cases.aggregate(n=Count("id"), amount=Sum("entrusted_amount"))
            if job.batch
            else {}
        )
        Batch.objects.filter(pk=job.batch_id).update(
            status="imported",
            imported_at=at,
            case_count=totals.get("n") or 0,
            total_entrusted=totals.get("amount") or 0,
        )
        if job.resubmission_of_id:
            numbers = job.batch.cases.values("client_case_number") if job.batch else []
            QuarantinedRow.objects.filter(
                Q(job_id=job.resubmission_of_id) & Q(client_case_number__in=numbers)
            ).update(resolved_by=job)
    elif status == ImportJob.Status.REJECTED and job.batch_id:
        Batch.objects.filter(pk=job.batch_id).update(status="failed")
    audit_record(
        action=f"intake.job.{status}",
        actor=job.created_by,
        organisation=job.organisation_id,
        object_type="import_job",
        object_id=job.pk,
        data={k: v for k, v in fields.items() if k.startswith("rows_")}
        | {"batch": job.batch.reference if job.batch else "", "sha256": job.sha256},
    )


def _fail(job: ImportJob, code: str, message: str) -> None:
    at = now()
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.FAILED,
        finished_at=at,
        error_code=code[:40],
        error_message=message,
        updated_at=at,
    )
    if job.batch_id is not None:
        Batch.objects.filter(pk=job.batch_id, status="importing").update(status="failed")
    with transaction.atomic():
        audit_record(
            action="intake.job.failed",
            actor=job.created_by,
            organisation=job.organisation_id,
            object_type="import_job",
            object_id=job.pk,
            data={"code": code},
        )


# ---------------------------------------------------------------------------- stop list


@transaction.atomic
def stop_list_add(*, id_number: str, reason: str, note: str = "", actor: User) -> StopListEntry:
    """Put a person on the stop list (risk officers): future imports hold their cases."""
    if not actor.has_role(*STOP_LIST_KEEPERS) or actor.organisation_id is None:
        raise PermissionDenied(_("只有风控人员可以维护停催名单。"))
    try:
        normalised = normalise_id_number(id_number)
    except IdentifierError as exc:
        raise RecoupError(_("证件号码无效：%(reason)s") % {"reason": exc}) from exc
    if reason not in StopListEntry.Reason.values:
        raise RecoupError(_("停催名单原因无效。"))
    bidx = pii.crypto.blind_index(pii.BIDX_ID, normalised)
    if (
        StopListEntry.objects.for_org(actor.organisation_id)
        .filter(id_number_bidx=bidx, removed_at__isnull=True)
        .exists()
    ):
        raise RecoupError(_("此人已在停催名单上。"))
    entry = StopListEntry.objects.create(
        organisation_id=actor.organisation_id,
        id_number_bidx=bidx,
        id_number_masked=mask_id_number(normalised),
        reason=reason,
        note=note[:500],
        added_by=actor,
    )
    audit_record(
        action="cases.stop_list.added",
        actor=actor,
        organisation=actor.organisation_id,
        object_type="stop_list_entry",
        object_id=entry.pk,
        data={"reason": reason, "id_number": entry.id_number_masked},
    )
    return entry


@transaction.atomic
def stop_list_remove(*, entry: StopListEntry, actor: User) -> None:
    if not actor.has_role(*STOP_LIST_KEEPERS) or actor.organisation_id != entry.organisation_id:
        raise PermissionDenied(_("只有风控人员可以维护停催名单。"))
    StopListEntry.objects.filter(pk=entry.pk, removed_at__isnull=True).update(
        removed_at=now(), removed_by=actor
    )
    audit_record(
        action="cases.stop_list.removed",
        actor=actor,
        organisation=entry.organisation_id,
        object_type="stop_list_entry",
        object_id=entry.pk,
    )

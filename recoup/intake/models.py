"""Intake: column mappings, import jobs, their reported problems, quarantine and staging.

A bank file becomes an ``ImportJob``. The job streams the file, normalises and seals each row
into the staging tables (``StagedCase``, ``StagedContact``) outside any long transaction,
then moves everything into the case core in ONE switch-over transaction, so a crash at any
moment leaves either the whole batch or nothing, and a failed job can simply be run again.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from recoup.core.models import TenantQuerySet, TimeStampedModel


class FileKind(models.TextChoices):
    CASES = "cases", _("新委案")  # a new batch of accounts
    BALANCES = "balances", _("余额更新")  # updated amounts for open cases
    RECALLS = "recalls", _("撤案")  # the client takes cases back
    CLOSURES = "closures", _("结案")  # cases closed by the client (paid at the bank, written off)
    REPAYMENTS = "repayments", _("还款明细")  # repayments the client received


class ColumnMapping(TimeStampedModel):
    """How one client's file headers map onto Recoup fields, per file kind.

    ``columns`` maps each header of the bank's file to a Recoup field name, to
    ``"custom"`` (kept as a custom field) or to ``"ignore"``.
    """

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT)
    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("文件类型"), max_length=12, choices=FileKind.choices)
    name = models.CharField(_("名称"), max_length=100)
    columns = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["client", "kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["client", "kind", "name"], name="mapping_name_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class ImportJob(TimeStampedModel):
    """One uploaded file and its way into the system."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("待确认映射")  # stored; the uploader is checking the column mapping
        QUEUED = "queued", _("排队中")  # mapping confirmed, waiting for a worker
        RUNNING = "running", _("导入中")  # a worker is reading and staging it
        SUCCEEDED = "succeeded", _("已完成")  # switched over: the rows are in the system
        REJECTED = "rejected", _("已拒绝")  # bad rows and the contract says reject the batch
        FAILED = "failed", _("失败")  # unreadable file or an error; nothing loaded; may retry

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT)
    contract = models.ForeignKey("clients.Contract", on_delete=models.PROTECT, related_name="+")
    batch = models.ForeignKey(
        "clients.Batch", null=True, blank=True, on_delete=models.PROTECT, related_name="jobs"
    )
    kind = models.CharField(_("文件类型"), max_length=12, choices=FileKind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    # The branch whose supervisors receive the new cases (allocation moves them on).
    branch = models.ForeignKey(
        "accounts.OrgUnit", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resubmission_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="resubmissions"
    )
    # The original file is the backup of record (SPEC §3.1): kept with its SHA-256.
    file = models.FileField(upload_to="intake/%Y/%m/", max_length=300)
    file_name = models.CharField(max_length=255)
    file_size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    encoding = models.CharField(max_length=20, blank=True)  # chosen by the user, else detected
    sheet = models.CharField(max_length=100, blank=True)
    headers = models.JSONField(default=list)  # read once at upload (an XLSX opens slowly)
    columns = models.JSONField(default=dict)  # the mapping used, frozen at upload
    error_policy = models.CharField(max_length=12)  # the contract's policy at upload
    received_at = models.DateTimeField(_("接收时间"))
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveIntegerField(null=True, blank=True)  # estimate until read
    rows_read = models.PositiveIntegerField(default=0)
    rows_valid = models.PositiveIntegerField(default=0)
    rows_invalid = models.PositiveIntegerField(default=0)
    rows_duplicate = models.PositiveIntegerField(default=0)
    rows_existing = models.PositiveIntegerField(default=0)
    rows_held = models.PositiveIntegerField(default=0)
    rows_loaded = models.PositiveIntegerField(default=0)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # The same file imported again creates nothing: one job per file and kind.
            models.UniqueConstraint(
                fields=["organisation", "kind", "sha256"], name="import_file_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"


class ImportIssue(models.Model):
    """One problem found in one row (or the whole file when ``row_number`` is null).

    The value is stored masked: reports go to staff and to the bank, never the full data.
    The message is rendered at display time from ``code`` and ``params`` (zh-hans or en).
    """

    class Severity(models.TextChoices):
        ERROR = "error", _("错误")  # the row was not loaded (quarantined or the batch rejected)
        NOTICE = "notice", _("提示")  # the row was loaded or held; something to know about it
        WARNING = "warning", _("警告")  # the row loaded without one bad optional value

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="issues")
    severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.ERROR)
    row_number = models.PositiveIntegerField(null=True, blank=True)
    column = models.CharField(max_length=100, blank=True)
    value_masked = models.CharField(max_length=100, blank=True)
    code = models.CharField(max_length=40)
    params = models.JSONField(default=dict)

    class Meta:
        ordering = ["job", "row_number", "id"]
        indexes = [models.Index(fields=["job", "row_number"], name="issue_job_row")]

    def __str__(self) -> str:
        return f"row {self.row_number}: {self.code}"


class QuarantinedRow(models.Model):
    """A rejected row kept (sealed) for correction and re-submission into the same batch."""

    # Sealed with the active data key; ``reseal_personal_data`` re-seals them after a key change.
    SEALED_FIELDS: ClassVar[dict[str, str]] = {"sealed": "aad"}

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="quarantine")
    row_number = models.PositiveIntegerField()
    client_case_number = models.CharField(max_length=80, blank=True)
    sealed = models.BinaryField()  # the raw row {header: value}, AES-GCM, AAD = job + row
    resolved_by = models.ForeignKey(
        ImportJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["job", "row_number"]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.row_number}"

    def aad(self) -> bytes:
        return b"quarantine:%d:%d" % (self.job_id, self.row_number)


class StagedCase(models.Model):
    """One normalised, sealed row of a new-case file, waiting for the switch-over."""

    class State(models.TextChoices):
        VALID = "valid", "valid"  # will become a case
        STOP_LISTED = "held", "held"  # will become a case with a stop-list hold
        DUPLICATE = "duplicate", "duplicate"  # repeats an earlier row of the same file
        EXISTING = "existing", "existing"  # the case number is already open under the contract

    # No database constraint: staging rows are transient, written by the million and deleted
    # with their job (the ORM cascades); a per-row foreign-key check costs more than the row.
    job = models.ForeignKey(
        ImportJob, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    row_number = models.PositiveIntegerField()
    state = models.CharField(max_length=10, default=State.VALID)
    hold_reason = models.CharField(max_length=12, blank=True)
    client_case_number = models.CharField(max_length=80)
    product = models.CharField(max_length=10)
    debtor_uid = models.UUIDField()
    debtor_pii = models.BinaryField()
    id_number_bidx = models.CharField(max_length=32)
    name_bidx = models.CharField(max_length=32)
    birth_year = models.PositiveSmallIntegerField(null=True)
    gender = models.CharField(max_length=1, blank=True)
    province = models.CharField(max_length=20, blank=True)
    city = models.CharField(max_length=40, blank=True)
    account_sealed = models.BinaryField()
    account_bidx = models.CharField(max_length=32)
    key_id = models.CharField(max_length=32)
    principal = models.DecimalField(max_digits=16, decimal_places=2)
    interest = models.DecimalField(max_digits=16, decimal_places=2)
    fees = models.DecimalField(max_digits=16, decimal_places=2)
    total_owed = models.DecimalField(max_digits=16, decimal_places=2)
    overdue_days = models.PositiveIntegerField()
    stage = models.CharField(max_length=3)
    region = models.CharField(max_length=60, blank=True)
    custom_sealed = models.BinaryField(null=True)

    class Meta:
        ordering = ["job", "row_number"]
        # One index, in the order the rows are written. The set-based filters group by case
        # number and by person with one sort each, after staging; an index on either, kept
        # while a million rows arrive in random order, cost more than the sorts (ADR 0008,
        # addendum "staging without random indexes").
        indexes = [models.Index(fields=["job", "row_number"], name="staged_job_row")]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.row_number}"


class StagedContact(models.Model):
    """A contact point of a staged row (the debtor's phone and addresses, third parties)."""

    job = models.ForeignKey(
        ImportJob, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    row_number = models.PositiveIntegerField()
    uid = models.UUIDField()
    kind = models.CharField(max_length=10)
    role = models.CharField(max_length=12)
    label = models.CharField(max_length=40, blank=True)
    sealed = models.BinaryField()
    value_bidx = models.CharField(max_length=32, blank=True)
    key_id = models.CharField(max_length=32)

    class Meta:
        ordering = ["job", "row_number"]
        indexes = [models.Index(fields=["job", "row_number"], name="staged_contact_row")]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.row_number}:{self.kind}"


class IncrementalRow(models.Model):
    """One row of an incremental file (balances, recalls, closures, repayments), kept as the
    record of what the client sent and what it did to which case.

    Repayment rows are stored here, matched to their case, only when no app posts them;
    when the money app does, they are staged in a temporary table and the payments are the
    record (``incremental.staged_table``). ``posted`` marks rows of files posted before that.
    """

    class State(models.TextChoices):
        VALID = "valid", "valid"  # matched, waiting for the switch-over
        APPLIED = "applied", "applied"  # done (a repayment: stored, matched)
        UNMATCHED = "unmatched", "unmatched"  # no case found: reported, kept for manual matching
        DUPLICATE = "duplicate", "duplicate"  # a transaction id already received
        SKIPPED = "skipped", "skipped"  # the case is already closed: nothing to change

    # Written only in bulk by the job's own pipeline: tenant, contract and job are the job's,
    # the case is found among the contract's cases. No database constraint and no index of
    # their own (the composite indexes below lead with them): a deferred check per row and
    # per key cost a 500k-row repayment file ~16 s at commit, more than writing the rows
    # (ADR 0008, bench/payments.py). Deletes still go through Django's on_delete.
    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, db_index=False, db_constraint=False
    )
    contract = models.ForeignKey(
        "clients.Contract",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    job = models.ForeignKey(
        ImportJob,
        on_delete=models.CASCADE,
        related_name="rows",
        db_index=False,
        db_constraint=False,
    )
    kind = models.CharField(max_length=12, choices=FileKind.choices)
    row_number = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.VALID)
    client_case_number = models.CharField(max_length=80, blank=True)
    account_bidx = models.CharField(max_length=32, blank=True)
    id_number_bidx = models.CharField(max_length=32, blank=True)
    case = models.ForeignKey(
        "cases.Case",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    match_method = models.CharField(max_length=16, blank=True)
    principal = models.DecimalField(max_digits=16, decimal_places=2, null=True)
    interest = models.DecimalField(max_digits=16, decimal_places=2, null=True)
    fees = models.DecimalField(max_digits=16, decimal_places=2, null=True)
    total_owed = models.DecimalField(max_digits=16, decimal_places=2, null=True)
    previous_total = models.DecimalField(max_digits=16, decimal_places=2, null=True)
    amount = models.DecimalField(max_digits=16, decimal_places=2, null=True)
    paid_at = models.DateField(null=True)
    effective_on = models.DateField(null=True)
    reason = models.CharField(max_length=200, blank=True)
    transaction_id = models.CharField(max_length=80, blank=True)
    channel = models.CharField(max_length=40, blank=True)
    posted = models.BooleanField(default=False)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["job", "row_number"]
        indexes = [
            # Not (job, state): the state changes once per row (valid → applied), and with no
            # indexed column changing that update stays on the page (PostgreSQL HOT update,
            # fillfactor 60: migration 0012); a job's rows are read through this index.
            models.Index(fields=["job", "row_number"], name="incr_job_row"),
            models.Index(fields=["contract", "transaction_id"], name="incr_contract_txn"),
            models.Index(fields=["case"], name="incr_case"),
        ]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.row_number} {self.kind}"

"""Money: payments (回款) as received from the client or entered with evidence.

A payment is the record of money the debtor paid to the client (the bank) through one of the
client's official channels; the agency never takes money itself (seed 001: no private
collection of cash). Posting a payment appends a ``cases.LedgerEntry`` that lowers the case
balance; a reversal appends the opposite entry. Nothing here is edited after posting except
its status and the people who acted on it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from recoup.core.models import TenantQuerySet
from recoup.core.money import money_field


def _someone(**kwargs: Any) -> models.ForeignKey[Any, Any]:
    """A person who did something to the row, once it is done (e.g. who approved it)."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        **kwargs,
    )


class Channel(models.TextChoices):
    """Official repayment channels a manual entry may name. There is deliberately no "cash to
    the agency" or "collector's account": such a payment is refused (seed 001, CN-10)."""

    BANK_APP = "bank_app", _("委托方手机银行/网银")
    COUNTER = "counter", _("委托方柜台")
    TRANSFER = "transfer", _("转账至委托方官方账户")
    AUTO_DEBIT = "auto_debit", _("委托方自动扣款")
    OFFICIAL = "official", _("其他委托方官方渠道")


class Payment(models.Model):
    """One payment, matched to a case or waiting to be.

    Example: the client's file says transaction ``TX20261120-0042`` paid 1 200.00 on
    2026-11-20 for case ``CC-000123``. It is stored once per contract (a second file carrying
    the same transaction changes nothing), matched by case number, posted: the case balance
    falls by 1 200.00 and the collector holding the case then is credited (``collector``).
    """

    class Source(models.TextChoices):
        FILE = "file", _("委托方还款文件")
        MANUAL = "manual", _("手工录入")
        STATEMENT = "statement", _("对账调整")  # recorded from a statement break, approved

    class Status(models.TextChoices):
        PENDING = "pending", _("处理中")  # inside a posting transaction only; never seen
        UNMATCHED = "unmatched", _("未匹配")  # no case found: waits for manual matching
        EXCEPTION = "exception", _("待处理")  # matched but cannot post (see exception_code)
        POSTED = "posted", _("已入账")  # the case balance fell by the amount
        REVERSED = "reversed", _("已冲正")  # posted, then undone by a reversal entry
        REJECTED = "rejected", _("已驳回")  # not the agency's to post (reason recorded)

    class Exception_(models.TextChoices):
        CASE_NOT_OPEN = "case_not_open", _("案件已退案或关闭")
        OVER_BALANCE = "over_balance", _("金额超过案件余额")
        NOT_POSITIVE = "not_positive", _("金额不是正数")
        BEFORE_PLACEMENT = "before_placement", _("还款日期早于委案日期")
        FUTURE_DATE = "future_date", _("还款日期在未来")

    OPEN_STATES: ClassVar[frozenset[str]] = frozenset({"unmatched", "exception"})

    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, db_index=False, db_constraint=False
    )
    # Indexed by payment_txn_once and payment_contract_paid, which lead with it. The contract
    # and the job are always the case's or the file's own (a file's payments are written in
    # bulk from its rows), and the case one just matched: no per-row database check, which
    # cost a 500k-row file ~12 s at commit (bench/payments.py); deletes still go through
    # Django's on_delete, and ``money_daily`` looks for a payment naming no case.
    contract = models.ForeignKey(
        "clients.Contract",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    case = models.ForeignKey(
        "cases.Case",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
        db_index=False,
        db_constraint=False,
    )
    job = models.ForeignKey(
        "intake.ImportJob",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    row_number = models.PositiveIntegerField(null=True, blank=True)
    source = models.CharField(_("来源"), max_length=10, choices=Source.choices)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices)
    exception_code = models.CharField(
        _("异常原因"), max_length=20, choices=Exception_.choices, blank=True
    )
    transaction_id = models.CharField(_("交易流水号"), max_length=80)
    amount = money_field(_("还款金额"))
    currency = models.CharField(max_length=3, default="CNY")
    paid_on = models.DateField(_("还款日期"))
    channel = models.CharField(_("还款渠道"), max_length=40, blank=True)
    # How the case was found: case_number, account_number, id_number, manual.
    match_method = models.CharField(max_length=16, blank=True)
    # What the client's file said, kept to match later (blind indexes, never plaintext).
    client_case_number = models.CharField(_("委托方案件号"), max_length=80, blank=True)
    account_bidx = models.CharField(max_length=32, blank=True)
    id_number_bidx = models.CharField(max_length=32, blank=True)
    # Credit for the recovery: who held the case when the payment was posted (commission).
    collector = _someone(db_constraint=False)
    team = models.ForeignKey(
        "accounts.Team",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    evidence = models.FileField(_("凭证"), upload_to="payments/%Y/%m/", blank=True, max_length=300)
    evidence_sha256 = models.CharField(max_length=64, blank=True)
    note = models.CharField(_("说明"), max_length=500, blank=True)
    created_at = models.DateTimeField()
    created_by = _someone(db_constraint=False)
    posted_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)  # matched or rejected by hand
    resolved_by = _someone(db_constraint=False)
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversed_by = _someone(db_constraint=False)
    reason = models.CharField(_("原因"), max_length=300, blank=True)  # rejection or reversal

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-paid_on", "-id"]
        constraints = [
            # The client's transaction id stands once per contract (STYLE §4.7); a reversed or
            # rejected one may be followed by its corrected payment (a reconciliation break).
            models.UniqueConstraint(
                fields=["contract", "transaction_id"],
                name="payment_txn_once",
                condition=~Q(status__in=["reversed", "rejected"]),
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["posted", "reversed"])
                | (Q(amount__gt=0) & Q(case__isnull=False)),
                name="payment_posted_positive",
            ),
        ]
        indexes = [
            # Look-ups by transaction id whatever the status (the unique index is partial, and
            # SQLite uses a partial index only for a query repeating its condition).
            models.Index(fields=["contract", "transaction_id"], name="payment_contract_txn"),
            models.Index(fields=["case", "paid_on"], name="payment_case"),
            models.Index(fields=["contract", "paid_on"], name="payment_contract_paid"),
            models.Index(fields=["job", "status"], name="payment_job"),
            models.Index(
                fields=["organisation", "status", "paid_on"],
                name="payment_open",
                condition=Q(status__in=["unmatched", "exception"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.transaction_id} {self.amount}"


class RepaymentPlan(models.Model):
    """A repayment plan (还款计划书): proposed → approved → the client's consent → signed → runs.

    Example: a case owes 12 000.00. The collector proposes 3 000.00 on 1 December, then
    4 500.00 on 1 January and 1 February (first instalment 25 % > 20 %, last date within 6
    months). The supervisor approves; the bank liaison records the client's consent with its
    reference and evidence; the signed plan (and the paying relative's signature) is
    uploaded: the plan runs and the case is 分期中. Payments fill the instalments in date
    order; an instalment still short ``plan_grace_days`` after its date breaks the plan and
    the case returns to active collection with the reason.
    """

    # Sealed with the active data key; ``reseal_personal_data`` re-seals them after a key change.
    SEALED_FIELDS: ClassVar[dict[str, str]] = {"payer_name_sealed": "payer_aad"}

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("待主管审批")
        APPROVED = "approved", _("待委托方同意")
        CONSENTED = "consented", _("待签署")
        ACTIVE = "active", _("履行中")
        COMPLETED = "completed", _("已履行完毕")
        BROKEN = "broken", _("已违约")
        REJECTED = "rejected", _("已驳回")
        WITHDRAWN = "withdrawn", _("已撤回")

    class Payer(models.TextChoices):
        DEBTOR = "debtor", _("债务人本人")
        SPOUSE = "spouse", _("配偶")
        PARENT = "parent", _("父母")
        CHILD = "child", _("子女")
        SIBLING = "sibling", _("兄弟姐妹")
        OTHER = "other", _("其他亲属")

    OPEN_STATES: ClassVar[frozenset[str]] = frozenset(
        {"proposed", "approved", "consented", "active"}
    )

    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, db_index=False, db_constraint=False
    )
    case = models.ForeignKey(
        "cases.Case", on_delete=models.PROTECT, related_name="plans", db_index=False
    )
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices)
    total = money_field(_("方案总额"))
    balance_at_proposal = money_field(_("提出时余额"))
    currency = models.CharField(max_length=3, default="CNY")
    payer = models.CharField(_("还款人"), max_length=8, choices=Payer.choices, default="debtor")
    # A plan for less than the balance pays off an approved reduction's remainder.
    reduction = models.ForeignKey(
        "Reduction", null=True, blank=True, on_delete=models.PROTECT, related_name="plans"
    )
    # The paying relative's name, sealed (personal data of a third party).
    payer_name_sealed = models.BinaryField(null=True, blank=True)
    # The compliance parameters the plan was checked against, with the profile versions.
    rules = models.JSONField(default=dict)
    note = models.CharField(_("说明"), max_length=500, blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    proposed_at = models.DateTimeField()
    approved_by = _someone()
    approved_at = models.DateTimeField(null=True, blank=True)
    consent_reference = models.CharField(_("委托方同意编号"), max_length=80, blank=True)
    consent_evidence = models.FileField(upload_to="plans/%Y/%m/", blank=True, max_length=300)
    consent_sha256 = models.CharField(max_length=64, blank=True)
    consent_by = _someone()
    consent_at = models.DateTimeField(null=True, blank=True)
    signed_on = models.DateField(_("签署日期"), null=True, blank=True)
    debtor_document = models.FileField(upload_to="plans/%Y/%m/", blank=True, max_length=300)
    debtor_document_sha256 = models.CharField(max_length=64, blank=True)
    payer_document = models.FileField(upload_to="plans/%Y/%m/", blank=True, max_length=300)
    payer_document_sha256 = models.CharField(max_length=64, blank=True)
    signed_by = models.ForeignKey(  # who uploaded the signed plan
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    activated_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(_("结束原因"), max_length=300, blank=True)
    ended_by = _someone()

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-proposed_at", "-id"]
        indexes = [
            models.Index(fields=["case", "status"], name="plan_case"),
            models.Index(
                fields=["organisation", "status"],
                name="plan_open",
                condition=Q(status__in=["proposed", "approved", "consented", "active"]),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(total__gt=0), name="plan_total_positive"),
            # One plan at a time per case (proposed, approved, consented or running).
            models.UniqueConstraint(
                fields=["case"],
                name="plan_one_open_per_case",
                condition=Q(status__in=["proposed", "approved", "consented", "active"]),
            ),
        ]

    def __str__(self) -> str:
        return f"plan {self.pk} ({self.status})"

    def payer_aad(self) -> bytes:
        return (
            b"plan-payer:" + str(self.organisation_id).encode() + b":" + str(self.case_id).encode()
        )


class PlanInstalment(models.Model):
    """One instalment of a plan: its date and amount, what payments have covered of it."""

    class Status(models.TextChoices):
        DUE = "due", _("未到期/待还")
        PAID = "paid", _("已按时还款")
        LATE = "late", _("逾期后还清")
        MISSED = "missed", _("未还（违约）")

    plan = models.ForeignKey(RepaymentPlan, on_delete=models.CASCADE, related_name="instalments")
    number = models.PositiveSmallIntegerField()
    due_on = models.DateField(_("到期日"))
    amount = money_field(_("金额"))
    paid_amount = money_field(_("已还"), default=0)
    paid_on = models.DateField(_("还清日期"), null=True, blank=True)
    status = models.CharField(_("状态"), max_length=8, choices=Status.choices, default="due")

    class Meta:
        ordering = ["plan_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="instalment_number_once"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="instalment_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.plan_id}#{self.number} {self.amount} on {self.due_on}"


class WaiverAuthority(models.Model):
    """One row of a client's reduction authority matrix (减免授权): up to ``max_pct`` of the
    balance may be waived on the agency's own approval for cases of this overdue stage (blank:
    any stage) whose balance is in [min_balance, max_balance). Above it, or where no row
    applies, the client must approve too.

    Example: 甲银行, M4, 0–50 000.00 → 30 %; M6+, any balance → 50 %.
    """

    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, db_index=False
    )
    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="+")
    stage = models.CharField(_("逾期阶段"), max_length=3, blank=True)  # blank: every stage
    min_balance = money_field(_("余额下限"), default=0)
    max_balance = models.DecimalField(  # null: no upper bound
        _("余额上限"),
        max_digits=settings.MONEY_MAX_DIGITS,
        decimal_places=settings.MONEY_DECIMAL_PLACES,
        null=True,
        blank=True,
    )
    max_pct = models.DecimalField(_("最高减免比例（%）"), max_digits=5, decimal_places=2)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField()

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["client_id", "stage", "min_balance"]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_pct__gt=0) & Q(max_pct__lte=100), name="waiver_pct_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stage or '*'} {self.min_balance}–{self.max_balance}: {self.max_pct}%"


class Reduction(models.Model):
    """A reduction (减免): part of the balance waived once the agreed remainder is paid.

    Example: balance 20 000.00; the debtor can pay 14 000.00 by 31 December. The collector asks
    to waive 6 000.00 (30 %) with the evidence of hardship; within the client's authority
    matrix the supervisor's approval suffices, above it the client approves too. Nothing
    changes on the balance until 14 000.00 has been paid (since the request); then the rest
    is waived by a ledger entry and the case closes as 已和解 (settled). Unpaid by the date,
    the reduction lapses.
    """

    class Status(models.TextChoices):
        REQUESTED = "requested", _("待主管审批")
        CLIENT = "client", _("待委托方审批")
        APPROVED = "approved", _("已批准，待还款")
        EFFECTIVE = "effective", _("已生效")
        LAPSED = "lapsed", _("逾期未还，已失效")
        REJECTED = "rejected", _("已驳回")
        WITHDRAWN = "withdrawn", _("已撤回")

    OPEN_STATES: ClassVar[frozenset[str]] = frozenset({"requested", "client", "approved"})

    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, db_index=False, db_constraint=False
    )
    case = models.ForeignKey(
        "cases.Case", on_delete=models.PROTECT, related_name="reductions", db_index=False
    )
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices)
    balance_at_request = money_field(_("申请时余额"))
    waived = money_field(_("减免金额"))
    remainder = money_field(_("须还金额"))
    pct = models.DecimalField(_("减免比例（%）"), max_digits=5, decimal_places=2)
    pay_by = models.DateField(_("还款截止日"))
    # The matrix limit that applied (null: no row for this stage and balance).
    authority_pct = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    needs_client = models.BooleanField(default=False)
    reason = models.CharField(_("减免理由"), max_length=500)
    evidence = models.FileField(upload_to="reductions/%Y/%m/", max_length=300)
    evidence_sha256 = models.CharField(max_length=64)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    requested_at = models.DateTimeField()
    approved_by = _someone()
    approved_at = models.DateTimeField(null=True, blank=True)
    client_reference = models.CharField(_("委托方审批编号"), max_length=80, blank=True)
    client_evidence = models.FileField(upload_to="reductions/%Y/%m/", blank=True, max_length=300)
    client_sha256 = models.CharField(max_length=64, blank=True)
    client_recorded_by = _someone()
    client_recorded_at = models.DateTimeField(null=True, blank=True)
    effective_at = models.DateTimeField(null=True, blank=True)
    waived_applied = models.DecimalField(
        _("实际减免"),
        max_digits=settings.MONEY_MAX_DIGITS,
        decimal_places=settings.MONEY_DECIMAL_PLACES,
        null=True,
        blank=True,
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(_("结束原因"), max_length=300, blank=True)
    ended_by = _someone()

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["case", "status"], name="reduction_case")]
        constraints = [
            models.CheckConstraint(
                condition=Q(waived__gt=0) & Q(remainder__gte=0), name="reduction_amounts"
            ),
            models.UniqueConstraint(
                fields=["case"],
                name="reduction_one_open_per_case",
                condition=Q(status__in=["requested", "client", "approved"]),
            ),
        ]

    def __str__(self) -> str:
        return f"reduction {self.pk} {self.waived} ({self.status})"


class Statement(models.Model):
    """The client's monthly statement for one contract, reconciled against Recoup (对账).

    Example: 甲银行 sends its November statement for contract HT-A-2026-01: 48 213 payments,
    total 61 884 512.07 CNY (its cover letter's figures). Recoup matches each line to its
    payment by transaction id: matched, amount differs, only in the client's statement, or
    only in Recoup. Every difference is a break to explain or adjust (with approval); with
    none open, a supervisor locks the statement (version 1). A later change makes version 2
    (the old one is kept, superseded) — never an edit of a locked statement.
    """

    class Status(models.TextChoices):
        OPEN = "open", _("对账中")
        LOCKED = "locked", _("已锁定")
        SUPERSEDED = "superseded", _("已被新版本取代")

    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, db_index=False, db_constraint=False
    )
    contract = models.ForeignKey("clients.Contract", on_delete=models.PROTECT, related_name="+")
    month = models.DateField(_("对账月份"))  # the first day of the month
    version = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default="open")
    file = models.FileField(upload_to="statements/%Y/%m/", max_length=300)
    file_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    currency = models.CharField(_("币种"), max_length=3)
    declared_count = models.PositiveIntegerField(_("对账单笔数"))
    declared_total = money_field(_("对账单金额"))
    # What the reconciliation found (kept on the row for the list and the lock).
    lines_count = models.PositiveIntegerField(default=0)
    ours_count = models.PositiveIntegerField(default=0)
    ours_total = money_field(default=0)
    matched_count = models.PositiveIntegerField(default=0)
    matched_total = money_field(default=0)
    breaks_open = models.PositiveIntegerField(default=0)
    # At the lock: totals per collector and team (to finance, SPEC §3.11) and per status.
    summary = models.JSONField(default=dict)
    previous = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="next_version"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField()
    locked_by = _someone()
    locked_at = models.DateTimeField(null=True, blank=True)
    change_reason = models.CharField(_("新版本原因"), max_length=300, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-month", "contract_id", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "month", "version"], name="statement_version_once"
            ),
            models.UniqueConstraint(
                fields=["contract", "month"],
                name="statement_one_current",
                condition=Q(status__in=["open", "locked"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contract_id} {self.month:%Y-%m} v{self.version}"


class StatementLine(models.Model):
    """One line of the client's statement and what it matched."""

    class Result(models.TextChoices):
        MATCHED = "matched", _("一致")
        DIFFERS = "differs", _("金额不一致")
        ONLY_CLIENT = "only_client", _("仅委托方有")

    # Lines are written only in bulk by the matching (``reconcile._match``): the statement
    # just created, the payment the join found. No per-row database check (two per line cost
    # a 2M-line statement ~30 s at commit: bench/payments.py) and no index of the statement's
    # own (the two below lead with it); deletes go through Django's on_delete.
    statement = models.ForeignKey(
        Statement,
        on_delete=models.CASCADE,
        related_name="lines",
        db_index=False,
        db_constraint=False,
    )
    row_number = models.PositiveIntegerField()
    transaction_id = models.CharField(max_length=80)
    client_case_number = models.CharField(max_length=80, blank=True)
    amount = money_field()
    paid_on = models.DateField()
    payment = models.ForeignKey(
        Payment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    result = models.CharField(max_length=12, choices=Result.choices, blank=True)

    class Meta:
        ordering = ["statement_id", "row_number"]
        indexes = [
            models.Index(fields=["statement", "result"], name="stline_result"),
            models.Index(fields=["statement", "transaction_id"], name="stline_txn"),
        ]

    def __str__(self) -> str:
        return f"{self.statement_id}:{self.row_number}"


class StatementBreak(models.Model):
    """A difference between the client's statement and Recoup, and how it was settled:
    explained (e.g. paid on the 30th, in the client's next statement), or adjusted — a
    payment recorded or reversed — after a supervisor approved the adjustment."""

    class Kind(models.TextChoices):
        ONLY_CLIENT = "only_client", _("仅委托方有")
        ONLY_OURS = "only_ours", _("仅我方有")
        DIFFERS = "differs", _("金额不一致")

    class Status(models.TextChoices):
        OPEN = "open", _("待处理")
        PROPOSED = "proposed", _("调整待审批")
        EXPLAINED = "explained", _("已说明")
        ADJUSTED = "adjusted", _("已调整")

    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="breaks")
    kind = models.CharField(_("类型"), max_length=12, choices=Kind.choices)
    line = models.ForeignKey(
        StatementLine, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    amount_client = models.DecimalField(
        _("委托方金额"),
        max_digits=settings.MONEY_MAX_DIGITS,
        decimal_places=settings.MONEY_DECIMAL_PLACES,
        null=True,
        blank=True,
    )
    amount_ours = models.DecimalField(
        _("我方金额"),
        max_digits=settings.MONEY_MAX_DIGITS,
        decimal_places=settings.MONEY_DECIMAL_PLACES,
        null=True,
        blank=True,
    )
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default="open")
    resolution = models.CharField(_("说明"), max_length=500, blank=True)
    proposed_by = _someone()
    resolved_by = _someone()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["statement_id", "id"]
        indexes = [models.Index(fields=["statement", "status"], name="stbreak_status")]

    def __str__(self) -> str:
        return f"{self.statement_id} {self.kind} ({self.status})"


class StatementLayout(models.Model):
    """How a client wants its statement exported: the columns, in its order, with its own
    headings, and a title. Without one, Recoup's default layout is used."""

    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, db_index=False
    )
    client = models.OneToOneField(
        "clients.Client", on_delete=models.CASCADE, related_name="statement_layout"
    )
    title = models.CharField(_("标题"), max_length=120)
    # [["transaction_id", "流水号"], ["amount", "金额"], …] from reconcile.EXPORT_FIELDS.
    columns = models.JSONField(default=list)
    updated_at = models.DateTimeField()

    objects = TenantQuerySet.as_manager()

    def __str__(self) -> str:
        return self.title


class CommissionRun(models.Model):
    """The commission of a locked statement (per contract and month), computed at the lock
    from the contract's commission table and frozen with it.

    Example: November, 甲银行: 48 213 payments, 61 884 512.07 recovered; M2 cases at 10 %,
    M6+ at 28 %, 50.00 per case paid off: per case lines, then per collector and team."""

    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, db_index=False, db_constraint=False
    )
    statement = models.OneToOneField(Statement, on_delete=models.PROTECT, related_name="commission")
    table = models.JSONField(default=dict)  # the table as it was applied
    recovery_rate = models.DecimalField(max_digits=9, decimal_places=6, default=0)
    recovered = money_field(_("回款金额"), default=0)
    commission = money_field(_("佣金"), default=0)
    fixed = money_field(_("固定佣金"), default=0)
    summary = models.JSONField(default=dict)  # per collector and team
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"commission {self.statement_id}: {self.commission}"


class CommissionLine(models.Model):
    """One case's commission for the month, credited to the collector and team the payments
    were posted under (a case reassigned mid-month has a line per collector)."""

    run = models.ForeignKey(CommissionRun, on_delete=models.CASCADE, related_name="lines")
    case = models.ForeignKey(
        "cases.Case",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    collector = _someone(db_constraint=False)
    team = models.ForeignKey(
        "accounts.Team",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    stage = models.CharField(max_length=3)
    recovered = money_field()
    rate = models.DecimalField(max_digits=7, decimal_places=6)
    commission = money_field()
    fixed = money_field(default=0)

    class Meta:
        ordering = ["run_id", "id"]
        indexes = [models.Index(fields=["run", "collector"], name="commission_run_collector")]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.case_id} {self.commission}"


class Scorecard(models.Model):
    """How collectors' monthly performance is scored for finance (SPEC §3.11). Weights in %;
    never recovery alone (COMPLIANCE.md CN-7: banks may not appraise collectors solely on the
    amount recovered): compliance and quality together carry weight."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT)
    name = models.CharField(_("名称"), max_length=80)
    recovery_weight = models.PositiveSmallIntegerField(_("回款权重（%）"))
    compliance_weight = models.PositiveSmallIntegerField(_("合规权重（%）"))
    quality_weight = models.PositiveSmallIntegerField(_("质检权重（%）"))
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField()

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(recovery_weight__lt=100)
                & (Q(compliance_weight__gt=0) | Q(quality_weight__gt=0)),
                name="scorecard_not_recovery_only",
            ),
        ]

    def __str__(self) -> str:
        return self.name

"""The case core: debtors (people), cases (accounts), contact points and holds (停催).

Personal data (name, ID-card number, employer, phone numbers, addresses, emails, card/loan
numbers) is sealed with AES-GCM (``recoup.core.crypto``); the only plaintext derived from it
is keyed blind indexes for exact lookup. Amounts are Decimal with 2 places.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from recoup.core import crypto
from recoup.core.models import TenantQuerySet, TimeStampedModel
from recoup.core.money import money_field


class Debtor(TimeStampedModel):
    """A person who owes (债务人), one row per person per agency across clients and batches.

    ``pii`` holds ``{"name", "id_number", "employer", "employer_address"}`` sealed with the
    row's ``uid`` as associated data. ``id_number_bidx`` is unique per organisation, so the
    same person placed by two banks is one debtor (the cross-client link).
    """

    # No index of its own: the composite indexes below start with it.
    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, db_index=False
    )
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    pii = models.BinaryField()
    pii_key_id = models.CharField(max_length=32)
    id_number_bidx = models.CharField(max_length=32)
    name_bidx = models.CharField(max_length=32)
    # Non-identifying facts kept in clear for segmentation and allocation (SPEC §8).
    birth_year = models.PositiveSmallIntegerField(null=True, blank=True)
    gender = models.CharField(max_length=1, blank=True)  # "M"/"F" from the ID number
    province = models.CharField(_("省份"), max_length=20, blank=True)
    city = models.CharField(_("城市"), max_length=40, blank=True)
    # The debtor's local time zone when it is not the agency's (IANA name; the compliance
    # gate judges contact windows in it: COMPLIANCE.md CN-1, US-2).
    time_zone = models.CharField(_("时区"), max_length=40, blank=True, db_default="")

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "id_number_bidx"], name="debtor_id_number_unique"
            )
        ]
        indexes = [models.Index(fields=["organisation", "name_bidx"], name="debtor_org_name")]

    def __str__(self) -> str:
        return f"debtor {self.pk}"

    def aad(self) -> bytes:
        return b"debtor:" + str(self.uid).encode()

    def personal_data(self) -> dict[str, Any]:
        """Decrypt the sealed record. Callers decide what to show and audit the viewing."""
        cache: dict[str, Any] | None = getattr(self, "_pii_cache", None)
        if cache is None:
            cache = crypto.unseal_json(bytes(self.pii), aad=self.aad())
            self._pii_cache = cache
        return cache


class Case(TimeStampedModel):
    """An account placed for collection (委案案件): one card or loan of one debtor."""

    class Product(models.TextChoices):
        CARD = "card", _("信用卡")  # credit card
        LOAN = "loan", _("贷款")  # consumer or other loan

    class Stage(models.TextChoices):
        M1 = "M1", "M1"  # 1–30 days overdue
        M2 = "M2", "M2"  # 31–60
        M3 = "M3", "M3"  # 61–90
        M4 = "M4", "M4"  # 91–120
        M5 = "M5", "M5"  # 121–150
        M6P = "M6+", "M6+"  # 151 days and more

    class Status(models.TextChoices):
        NEW = "new", _("新案")  # imported, not yet filtered into the allocation pool
        PENDING_ALLOCATION = "pending", _("待分配")  # in the pool, waiting for a collector
        ASSIGNED = "assigned", _("已分配")  # given to a collector, not yet worked
        IN_COLLECTION = "collecting", _("催收中")  # first action taken
        PROMISED = "promised", _("已承诺")  # an open promise to pay (PTP)
        ON_PLAN = "on_plan", _("分期中")  # an approved repayment plan runs
        PAID_OFF = "paid_off", _("已结清")  # balance paid in full (terminal)
        SETTLED = "settled", _("已和解")  # closed by an approved reduction (terminal)
        RETURNED = "returned", _("已退案")  # returned to the client at period end (terminal)
        CLOSED = "closed", _("已关闭")  # closed for another reason: recall, deceased… (terminal)

    TERMINAL: ClassVar[frozenset[str]] = frozenset({"paid_off", "settled", "returned", "closed"})

    # Tenant and client are the contract's, copied for single-column scoping; no index of
    # their own (the composite indexes below start with them) and no database constraint: the
    # contract's own foreign key guards them, and a per-row check on each copy cost a bulk
    # import more than the row (ADR 0008). They are only ever written with the contract's.
    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, db_index=False, db_constraint=False
    )
    client = models.ForeignKey(
        "clients.Client",
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    # Indexed by the unique (contract, client_case_number) constraint.
    contract = models.ForeignKey(
        "clients.Contract", on_delete=models.PROTECT, related_name="cases", db_index=False
    )
    batch = models.ForeignKey(
        "clients.Batch", null=True, blank=True, on_delete=models.PROTECT, related_name="cases"
    )
    debtor = models.ForeignKey(Debtor, on_delete=models.PROTECT, related_name="cases")
    client_case_number = models.CharField(_("委托方案件号"), max_length=80)
    product = models.CharField(_("产品"), max_length=10, choices=Product.choices)
    # Card or loan number, sealed; bidx for exact lookup from repayment files (one plain
    # index, case_account_bidx: ``db_index=True`` would add an unused LIKE index on PostgreSQL).
    account_sealed = models.BinaryField()
    account_key_id = models.CharField(max_length=32)
    account_bidx = models.CharField(max_length=32)
    currency = models.CharField(max_length=3, default="CNY")
    principal = money_field(_("本金"))
    interest = money_field(_("利息"), default=0)
    fees = money_field(_("费用"), default=0)
    total_owed = money_field(_("欠款总额"))
    entrusted_amount = money_field(_("委案金额"))
    overdue_days = models.PositiveIntegerField(_("逾期天数"))
    stage = models.CharField(_("逾期阶段"), max_length=3, choices=Stage.choices)
    # branch, team and assignee: served by the (organisation, …, status) indexes below, which
    # every query uses (all are organisation-scoped); a single-column index each would only
    # slow the allocation commit, which rewrites a million rows (bench/allocate.py).
    # team, assignee and previous_assignee have no database check either: an allocation
    # commit changes all three on every case it moves, and PostgreSQL checked each at commit
    # (8 of 34 s for 1M cases). They are written from active users and teams that the run
    # validated; users and teams are never deleted (PROTECT, applied by Django); and
    # ``manage.py contact_daily`` reports any case naming one that does not exist (ADR 0008).
    branch = models.ForeignKey(
        "accounts.OrgUnit",
        on_delete=models.PROTECT,
        related_name="cases",
        verbose_name=_("分公司"),
        db_index=False,
    )
    region = models.CharField(_("地区"), max_length=60, blank=True)
    team = models.ForeignKey(
        "accounts.Team",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cases",
        db_index=False,
        db_constraint=False,
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_cases",
        verbose_name=_("催收员"),
        db_index=False,
        db_constraint=False,
    )
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.NEW)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    placed_at = models.DateTimeField(_("委案时间"))
    closed_at = models.DateTimeField(null=True, blank=True)
    # The bank's risk grade of the account, when its file gives one (an allocation filter).
    risk_grade = models.CharField(_("风险等级"), max_length=10, blank=True, db_default="")
    # Allocation (分案) and its SLA clocks (SPEC §3 steps 3–4), in Chinese working days where
    # the SLA says so; ``sla_estimated`` marks deadlines computed without the year's official
    # calendar (weekends only: recoup.workdays).
    assigned_at = models.DateTimeField(_("分案时间"), null=True, blank=True)
    previous_assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
        verbose_name=_("上一催收员"),
    )
    allocation_due_at = models.DateTimeField(_("分案期限"), null=True, blank=True)
    first_action_due_at = models.DateTimeField(_("首催期限"), null=True, blank=True)
    first_round_due_at = models.DateTimeField(_("首轮完成期限"), null=True, blank=True)
    first_action_at = models.DateTimeField(_("首催时间"), null=True, blank=True)
    sla_estimated = models.BooleanField(default=False, db_default=False)
    # The case period (委案周期): at its end the case is returned to the client (退案) or
    # extended with an approved reason and plan (留案/延期).
    period_ends_on = models.DateField(_("委案到期日"), null=True, blank=True)
    # Bumped by every allocation change: a run committed on a stale preview is refused.
    allocation_seq = models.PositiveIntegerField(default=0, db_default=0)
    # Contact work (issue 5), kept on the case for the work queue's order and filters.
    last_attempt_at = models.DateTimeField(_("最近联系时间"), null=True, blank=True)
    last_conversation_at = models.DateTimeField(_("最近通话时间"), null=True, blank=True)
    next_follow_up_at = models.DateTimeField(_("下次跟进"), null=True, blank=True)
    overdue_reason = models.CharField(_("逾期原因"), max_length=16, blank=True, db_default="")
    broken_promises = models.PositiveSmallIntegerField(_("违约承诺次数"), default=0, db_default=0)
    # Two or more broken promises: at least 3 contacts a week (SPEC §3 step 7).
    intensive_follow_up = models.BooleanField(_("密集跟进"), default=False, db_default=False)
    # 失联: the debtor cannot be reached; information repair due every 5 days (SPEC §3.6).
    lost_contact_since = models.DateTimeField(_("失联时间"), null=True, blank=True)
    last_repair_at = models.DateTimeField(_("最近信息修复"), null=True, blank=True)
    # Extra columns of the bank's file kept as custom fields, sealed (they may hold anything).
    custom_sealed = models.BinaryField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        # The list order, served by the case_org_placed index (bench/case_list.py).
        ordering = ["-placed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "client_case_number"], name="case_number_unique_per_contract"
            ),
            models.CheckConstraint(
                condition=Q(total_owed__gte=0)
                & Q(principal__gte=0)
                & Q(interest__gte=0)
                & Q(fees__gte=0),
                name="case_amounts_not_negative",
            ),
        ]
        # Every query is scoped by organisation, so composite indexes lead with it.
        indexes = [
            models.Index(fields=["organisation", "-placed_at", "-id"], name="case_org_placed"),
            models.Index(fields=["organisation", "client_case_number"], name="case_org_number"),
            models.Index(fields=["organisation", "status"], name="case_org_status"),
            models.Index(fields=["organisation", "assignee", "status"], name="case_org_assignee"),
            models.Index(fields=["organisation", "team", "status"], name="case_org_team"),
            models.Index(fields=["organisation", "branch", "status"], name="case_org_branch"),
            models.Index(fields=["organisation", "client", "status"], name="case_org_client"),
            models.Index(fields=["account_bidx"], name="case_account_bidx"),
        ]

    def __str__(self) -> str:
        return self.client_case_number

    @staticmethod
    def stage_for(overdue_days: int) -> str:
        """M1 = 1–30 days, M2 = 31–60 … M6+ = 151 days and more (industry convention)."""
        if overdue_days <= 30:
            return Case.Stage.M1
        bucket = min(6, (overdue_days - 1) // 30 + 1)
        return "M6+" if bucket >= 6 else f"M{bucket}"

    def account_aad(self) -> bytes:
        return (
            b"case-account:"
            + str(self.organisation_id).encode()
            + b":"
            + self.account_bidx.encode()
        )

    def account_number(self) -> str:
        return crypto.unseal(bytes(self.account_sealed), aad=self.account_aad()).decode()

    def custom_aad(self) -> bytes:
        """The bank's extra columns are bound to the case by its contract and case number,
        which the import knows before the case exists and which never change."""
        return b"case-custom:%d:%s" % (self.contract_id, self.client_case_number.encode())

    def custom_fields(self) -> dict[str, str]:
        """The bank's extra columns of this case (客户等级, 信用额度, 备注 …) as imported;
        empty when the file had none. Callers audit the reading (``case_custom_reveal``)."""
        if self.custom_sealed is None:
            return {}
        blob = bytes(self.custom_sealed)
        try:
            data = crypto.unseal_json(blob, aad=self.custom_aad())
        except crypto.DecryptionError:
            # Imports before 24 Nov 2026 bound the record to the debtor that the row would
            # have created: readable when that row did create the case's debtor.
            data = crypto.unseal_json(blob, aad=b"case-custom:" + str(self.debtor.uid).encode())
        return {str(k): str(v) for k, v in data.items()}

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL


# Allowed status transitions (docs/adr/0006): anything else is refused by case_transition.
CASE_TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"pending", "returned", "closed"}),
    "pending": frozenset({"assigned", "returned", "closed"}),
    "assigned": frozenset({"collecting", "pending", "paid_off", "settled", "returned", "closed"}),
    "collecting": frozenset(
        {"promised", "on_plan", "pending", "paid_off", "settled", "returned", "closed"}
    ),
    "promised": frozenset({"collecting", "on_plan", "paid_off", "settled", "returned", "closed"}),
    "on_plan": frozenset({"collecting", "paid_off", "settled", "returned", "closed"}),
    "paid_off": frozenset(),
    "settled": frozenset(),
    "returned": frozenset(),
    "closed": frozenset(),
}


class ContactPoint(TimeStampedModel):
    """A phone, address or email of the debtor or of a third party linked to them.

    ``sealed`` holds ``{"value", "name"}`` (the name of a third-party contact);
    ``value_bidx`` (phones and emails) lets a search by phone find the debtor.
    ``refused_contact`` marks a third party who asked not to be contacted again: the
    compliance gate never lets anyone reach them (COMPLIANCE CN).
    """

    class Kind(models.TextChoices):
        PHONE = "phone", _("电话")
        ADDRESS = "address", _("地址")
        EMAIL = "email", _("邮箱")

    class Role(models.TextChoices):
        DEBTOR = "debtor", _("本人")  # the debtor themself
        GUARANTOR = "guarantor", _("担保人")
        SPOUSE = "spouse", _("配偶")
        RELATIVE = "relative", _("亲属")
        COLLEAGUE = "colleague", _("同事")
        OTHER = "other", _("其他联系人")

    class Validity(models.TextChoices):
        UNKNOWN = "unknown", _("未验证")  # as received, not yet tried
        VALID = "valid", _("有效")  # reached the right person
        INVALID = "invalid", _("无效")  # empty number, wrong person, returned mail

    class Source(models.TextChoices):
        CLIENT = "client", _("委托方提供")  # in the bank's batch file or sent later
        DEBTOR = "debtor", _("债务人提供")  # the debtor gave it (e.g. a new number)
        COLLECTOR = "collector", _("催收员获取")  # learned in the collector's own conversation
        REPAIR = "repair", _("信息修复")  # information repair (信息修复)

    # The debtor's tenant, copied for single-column scoping: no index of its own (the
    # composite index below starts with it) and no database constraint (the debtor's foreign
    # key guards it; a per-row check cost a bulk import more than the row: ADR 0008).
    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, db_index=False, db_constraint=False
    )
    # No database check per row (ADR 0008, addendum of 2026-11-23): an import inserts about
    # 5.5 contact points a case, and PostgreSQL checked each at commit (~8 µs: 42 s for 1M
    # cases). The import inserts them joined to their debtor; Django still cascades a
    # deleted debtor to them; `manage.py contact_daily` reports any that name no debtor.
    # Indexed by the unique (debtor, uid) constraint below, which leads with it.
    debtor = models.ForeignKey(
        Debtor,
        on_delete=models.CASCADE,
        related_name="contact_points",
        db_constraint=False,
        db_index=False,
    )
    # Public reference (forms, the dialer API), always looked up with its debtor: unique per
    # debtor, in the same index as the debtor. A table-wide unique index of its own cost an
    # import a quarter of each contact point's insert (5.46M per 1M cases; bench/RESULTS.md).
    uid = models.UUIDField(default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    role = models.CharField(max_length=12, choices=Role.choices, default=Role.DEBTOR)
    label = models.CharField(_("类型"), max_length=40, blank=True)  # 手机, 家庭地址, 单位地址…
    sealed = models.BinaryField()
    pii_key_id = models.CharField(max_length=32)
    value_bidx = models.CharField(max_length=32, blank=True)
    validity = models.CharField(max_length=10, choices=Validity.choices, default=Validity.UNKNOWN)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.CLIENT)
    refused_contact = models.BooleanField(_("拒绝联系"), default=False)
    refused_at = models.DateTimeField(null=True, blank=True)
    time_zone = models.CharField(_("时区"), max_length=40, blank=True, db_default="")

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["debtor_id", "role", "kind", "id"]  # "debtor" would join cases_debtor
        constraints = [
            models.UniqueConstraint(fields=["debtor", "uid"], name="contact_debtor_uid"),
        ]
        indexes = [
            models.Index(fields=["organisation", "value_bidx"], name="contact_org_bidx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_role_display()})"

    def aad(self) -> bytes:
        return b"contact:" + str(self.uid).encode()

    def personal_data(self) -> dict[str, Any]:
        cache: dict[str, Any] | None = getattr(self, "_pii_cache", None)
        if cache is None:
            cache = crypto.unseal_json(bytes(self.sealed), aad=self.aad())
            self._pii_cache = cache
        return cache


class HoldQuerySet(TenantQuerySet["Hold"]):
    def active(self, at: Any) -> HoldQuerySet:
        return self.filter(released_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=at)
        )


class Hold(TimeStampedModel):
    """A stop-collection flag (停催) on a case: while active, no contact of any kind."""

    class Reason(models.TextChoices):
        COMPLAINT = "complaint", _("投诉")  # complaint under investigation
        DISPUTE = "dispute", _("争议")  # the debt or amount is disputed
        DECEASED = "deceased", _("身故")  # debtor reported deceased
        LITIGATION = "litigation", _("诉讼")  # in court elsewhere
        CLIENT = "client", _("委托方要求")  # the bank asked to stop
        VULNERABLE = "vulnerable", _("特殊困难")  # illness, hardship: pause by supervisor
        STOP_LIST = "stop_list", _("停催名单")  # the debtor is on the stop list at import
        CEASE = "cease", _("要求停止联系")  # the debtor asked in writing to stop (US 1692c(c))
        ATTORNEY = "attorney", _("已委托律师")  # represented: contact the attorney only (US-3)
        OTHER = "other", _("其他")

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="holds")
    reason = models.CharField(_("原因"), max_length=12, choices=Reason.choices)
    note = models.CharField(_("说明"), max_length=500, blank=True)
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    expires_at = models.DateTimeField(_("到期时间"), null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = HoldQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["case", "released_at"], name="hold_case_open")]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} ({self.case_id})"


class StopListEntry(TimeStampedModel):
    """A person the agency must not collect from (新案过滤 stop list), kept by risk officers.

    Matched on import by the ID-number blind index: a new case of a listed person is loaded
    but put on hold with the entry's reason, never dropped (SPEC §3.2).
    """

    class Reason(models.TextChoices):
        DECEASED = "deceased", _("身故")  # reported deceased
        COMPLAINT = "complaint", _("投诉黑名单")  # complaint blacklist
        FRAUD = "fraud", _("欺诈")  # identity fraud victim or fraud case
        LITIGATION = "litigation", _("他处诉讼")  # in litigation elsewhere

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT)
    id_number_bidx = models.CharField(max_length=32)
    id_number_masked = models.CharField(_("证件号码"), max_length=24)
    reason = models.CharField(_("原因"), max_length=12, choices=Reason.choices)
    note = models.CharField(_("说明"), max_length=500, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["organisation", "id_number_bidx"], name="stoplist_org_bidx")
        ]

    def __str__(self) -> str:
        return f"{self.id_number_masked} ({self.get_reason_display()})"


class LedgerEntry(models.Model):
    """One movement of a case's balance (账务流水), append-only: never updated or deleted.

    A case's balance is its entrusted amount (委案金额, fixed at placement) plus the sum of its
    entries; ``Case.total_owed`` is that sum kept current in the same transaction as each
    entry (``recoup.cases.ledger``), so lists can sort and filter on it. Amounts are signed:
    a payment of 1 200.00 is ``-1200.00``; its reversal ``+1200.00``; the client's balance
    update from 5 000.00 to 5 080.00 (interest) an adjustment of ``+80.00``.

    ``source_type``/``source_id`` name what caused the entry (``payment`` 17, ``import_job``
    4, ``reduction`` 9). A payment has one payment entry and at most one reversal (unique
    indexes); other events carry an ``idempotency_key``, unique per organisation, so an event
    that arrives twice moves the balance once (STYLE §4.7).
    """

    class Kind(models.TextChoices):
        PAYMENT = "payment", _("还款")  # money received by the client (negative)
        REVERSAL = "reversal", _("冲正")  # a payment undone (positive)
        REDUCTION = "reduction", _("减免")  # an approved waiver taking effect (negative)
        ADJUSTMENT = "adjustment", _("调整")  # the client's balance update, an approved fix

    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, db_index=False, db_constraint=False
    )
    # Indexed by ledger_case, which leads with it. No database check: a case is never deleted
    # (PROTECT, and no path deletes one), entries are written only for a case just read or
    # updated, and the per-row check locked every case row a repayment file touched, ~7 s
    # at commit for 500k payments (bench/payments.py). ``ledger.orphans()`` (run daily by
    # ``money_daily``) finds an entry naming no case, should one ever appear.
    case = models.ForeignKey(
        Case, on_delete=models.PROTECT, related_name="ledger", db_index=False, db_constraint=False
    )
    kind = models.CharField(_("类型"), max_length=12, choices=Kind.choices)
    amount = money_field(_("金额"))
    currency = models.CharField(max_length=3, default="CNY")
    effective_on = models.DateField(_("起息日"))  # the value date: when the money moved
    source_type = models.CharField(max_length=20)
    source_id = models.BigIntegerField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=120, null=True, blank=True)
    memo = models.CharField(_("说明"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    created_at = models.DateTimeField()

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["case_id", "id"]
        indexes = [models.Index(fields=["case", "id"], name="ledger_case")]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "idempotency_key"],
                name="ledger_idempotent",
                condition=Q(idempotency_key__isnull=False),
            ),
            # A payment moves a balance once, and is reversed at most once (an integer index:
            # cheaper than a key per row for a file of half a million payments).
            models.UniqueConstraint(
                fields=["source_id"], name="ledger_payment_once", condition=Q(kind="payment")
            ),
            models.UniqueConstraint(
                fields=["source_id"], name="ledger_reversal_once", condition=Q(kind="reversal")
            ),
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_amount_not_zero"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} ({self.case_id})"

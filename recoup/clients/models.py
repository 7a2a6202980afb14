"""Clients (委托方), their contracts (合作协议) with the agency, and case batches (委案批次).

A contract is filed before any case arrives (SPEC §2); every case belongs to one contract,
and the contract carries the parameters later issues read: case period, SLA and compliance
profile names, reconciliation day, retention terms, and the commission table.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from recoup.core.models import TenantQuerySet, TimeStampedModel


class Client(TimeStampedModel):
    """A bank or lender (e.g. a card centre) that places overdue accounts with the agency."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT)
    name = models.CharField(_("委托方名称"), max_length=200)
    code = models.SlugField(_("代码"), max_length=50)
    liaison_phone = models.CharField(_("常规联络电话"), max_length=40, blank=True)
    emergency_phone = models.CharField(_("应急联络电话"), max_length=40, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["organisation", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "code"], name="client_code_unique")
        ]

    def __str__(self) -> str:
        return self.name


class ClientUser(TimeStampedModel):
    """Links a client-user login to the client whose contracts it may read (read-only portal)."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="client_link"
    )
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="portal_users")

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["client", "user"]

    def __str__(self) -> str:
        return f"{self.user} → {self.client}"


class Contract(TimeStampedModel):
    """A co-operation agreement (合作协议) between a client and the agency."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")  # being negotiated: no batch may be imported
        ACTIVE = "active", _("生效")  # cases may arrive and be worked
        ENDED = "ended", _("终止")  # no new batches; retention clock runs from ended_on

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT)
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="contracts")
    number = models.CharField(_("协议编号"), max_length=80)
    name = models.CharField(_("协议名称"), max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    starts_on = models.DateField(_("生效日期"))
    ends_on = models.DateField(_("到期日期"), null=True, blank=True)
    ended_on = models.DateField(_("实际终止日期"), null=True, blank=True)
    # 委案周期: default one month, reviewed weekly (SPEC §2).
    case_period_days = models.PositiveIntegerField(
        _("委案周期（天）"), default=30, validators=[MinValueValidator(1)]
    )
    review_every_days = models.PositiveIntegerField(_("检查周期（天）"), default=7)
    sla_profile = models.CharField(_("SLA 配置"), max_length=50, default="cn-default")
    compliance_profile = models.CharField(_("合规配置"), max_length=50, default="cn-default")
    # Retention (SPEC §7): case material kept until N years after the contract ends.
    retention_years = models.PositiveIntegerField(_("保存年限"), default=5)
    recording_retention_years = models.PositiveIntegerField(_("录音保存年限"), default=2)
    reconciliation_day = models.PositiveSmallIntegerField(
        _("对账日"), default=5, validators=[MinValueValidator(1), MaxValueValidator(28)]
    )
    # Commission rates by overdue stage / tier; shape settled by the money issue. Example:
    # {"by_stage": {"M1": "0.08", "M2": "0.12"}, "fixed_per_case": "0"}
    commission_table = models.JSONField(_("佣金表"), default=dict, blank=True)

    class ImportErrorPolicy(models.TextChoices):
        REJECT = "reject", _("有错误即拒绝整批")  # one bad row rejects the whole batch
        QUARANTINE = "quarantine", _("隔离错误行")  # load valid rows, hold bad ones for correction

    # What to do with bad rows on import (the intake issue reads it).
    import_error_policy = models.CharField(
        _("导入错误处理"),
        max_length=20,
        choices=ImportErrorPolicy.choices,
        default=ImportErrorPolicy.QUARANTINE,
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["client", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "number"], name="contract_number_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.client.name} · {self.number}"


class Batch(TimeStampedModel):
    """A batch of cases handed over at once (委案批次); the import SLA runs from received_at."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("已接收")  # file in hand, not yet imported
        IMPORTING = "importing", _("导入中")  # the import task is running
        IMPORTED = "imported", _("已导入")  # cases are in the system
        FAILED = "failed", _("导入失败")  # nothing loaded; may be retried

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT)
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="batches")
    reference = models.CharField(_("批次号"), max_length=80)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    received_at = models.DateTimeField(_("接收时间"))
    imported_at = models.DateTimeField(_("导入时间"), null=True, blank=True)
    file_name = models.CharField(max_length=255, blank=True)
    file_sha256 = models.CharField(_("文件校验值"), max_length=64, blank=True)
    case_count = models.PositiveIntegerField(default=0)
    total_entrusted = models.DecimalField(
        max_digits=settings.MONEY_MAX_DIGITS + 2, decimal_places=2, default=0
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "batches"
        constraints = [
            models.UniqueConstraint(fields=["contract", "reference"], name="batch_reference_unique")
        ]

    def __str__(self) -> str:
        return self.reference

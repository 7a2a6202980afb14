"""SMS and letters: client-approved templates, per-client settings, and the messages sent.

- ``MessagingSettings``: per client, the creditor's *official* repayment channel (the only
  repayment instruction a message may carry, COMPLIANCE.md CN-10), the agency's phone and
  the bank's contact details printed on letters (CN-6).
- ``MessageTemplate``: an SMS or letter text with ``{{variables}}``, for a client (or one of
  its contracts) and an audience (the debtor, or a third party who must not learn of the
  debt). Versioned: a template *family* has numbered versions; editing an approved version
  makes a new draft, and approving that draft supersedes the old one. Linted on every save
  (``recoup.messaging.lint``).
- ``Message``: one SMS or letter to one contact point, with the template version it came
  from, the sealed rendered text, and its delivery status.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from recoup.core import crypto
from recoup.core.models import TenantQuerySet, TimeStampedModel


class MessagingSettings(TimeStampedModel):
    """What templates of one client may say about paying and about whom to call."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT)
    client = models.OneToOneField(
        "clients.Client", on_delete=models.CASCADE, related_name="messaging_settings"
    )
    # The creditor's official repayment channel, e.g. "甲银行手机银行 App「信用卡还款」或
    # 客服热线 95555": {{repayment_channel}}. Account numbers and URLs are allowed here only.
    repayment_channel = models.TextField(_("官方还款渠道"), blank=True)
    agency_phone = models.CharField(_("本机构联系电话"), max_length=40, blank=True)
    # The bank's contact details on letters (CN-6): hotline, address.
    bank_contact = models.TextField(_("委托方联系方式"), blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["client"]
        verbose_name_plural = "messaging settings"

    def __str__(self) -> str:
        return f"messaging settings of client {self.client_id}"


class MessageTemplate(TimeStampedModel):
    class Kind(models.TextChoices):
        SMS = "sms", _("短信")
        LETTER = "letter", _("信函")

    class Audience(models.TextChoices):
        DEBTOR = "debtor", _("债务人本人")  # the debtor or a guarantor: may mention the debt
        THIRD_PARTY = "third_party", _("第三方")  # relatives, colleagues: never the debt

    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")  # editable; cannot be sent
        APPROVED = "approved", _("已批准")  # the client-approved text in use; sendable
        SUPERSEDED = "superseded", _("已被新版本取代")  # an older approved version; read-only

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT)
    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    # Set for a template of one contract only; empty = every contract of the client.
    contract = models.ForeignKey(
        "clients.Contract", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    family = models.UUIDField(default=uuid.uuid4, editable=False)  # the versions of one text
    version = models.PositiveIntegerField(default=1)
    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("名称"), max_length=100)
    audience = models.CharField(_("对象"), max_length=12, choices=Audience.choices)
    body = models.TextField(_("内容"))
    status = models.CharField(
        _("状态"), max_length=12, choices=Status.choices, default=Status.DRAFT
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(_("批准时间"), null=True, blank=True)
    # The client's approval record (函件编号, e-mail reference): the bank approved this text.
    approval_reference = models.CharField(_("委托方审批编号"), max_length=100, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["client", "name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["family", "version"], name="template_family_version"),
            # At most one approved (sendable) version per family.
            models.UniqueConstraint(
                fields=["family"], condition=Q(status="approved"), name="template_one_approved"
            ),
            models.CheckConstraint(
                condition=Q(status="draft")
                | (
                    Q(approved_by__isnull=False)
                    & Q(approved_at__isnull=False)
                    & ~Q(approval_reference="")
                ),
                name="template_approved_has_record",
            ),
        ]
        indexes = [models.Index(fields=["organisation", "client", "kind"], name="template_client")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class Message(TimeStampedModel):
    """One SMS or letter to one contact point, from one template version."""

    # Sealed with the active data key; ``reseal_personal_data`` re-seals them after a key change.
    SEALED_FIELDS: ClassVar[dict[str, str]] = {"body_sealed": "body_aad"}
    # A sent letter's PDF is a sealed file under MEDIA_ROOT, named by this field.
    SEALED_FILES: ClassVar[dict[str, str]] = {"pdf_path": "pdf_aad"}

    class Status(models.TextChoices):
        QUEUED = "queued", _("待发送")  # stored; waiting for the gateway or for release_at
        SENT = "sent", _("已发送")  # accepted by the gateway / letter dispatched
        DELIVERED = "delivered", _("已送达")  # the gateway reported delivery
        FAILED = "failed", _("发送失败")  # the gateway refused or reported failure
        REFUSED = "refused", _("合规拦截")  # a queued SMS the gate refused at release time

    class Delivery(models.TextChoices):
        # Letters only. Public posting (张贴) is not a method: CN-10 forbids it.
        MAIL = "mail", _("邮寄")
        HAND = "hand", _("当面送达")
        VISIT = "visit", _("外访送达")

    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, db_index=False
    )
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=10, choices=MessageTemplate.Kind.choices)
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="+")
    contact_point = models.ForeignKey(
        "cases.ContactPoint", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    template = models.ForeignKey(MessageTemplate, on_delete=models.PROTECT, related_name="+")
    template_version = models.PositiveIntegerField()
    decision = models.ForeignKey(
        "contact.ContactDecision",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    attempt = models.ForeignKey(
        "contact.ContactAttempt",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    status = models.CharField(
        _("状态"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    # CN-1: an SMS asked for outside the window waits until the window opens.
    release_at = models.DateTimeField(_("计划发送时间"), null=True, blank=True)
    body_sealed = models.BinaryField(null=True, blank=True)  # the text as sent (PII)
    backend = models.CharField(max_length=20, blank=True)
    provider_id = models.CharField(max_length=100, blank=True)
    error = models.CharField(max_length=500, blank=True)
    refusals = models.JSONField(default=list, blank=True)  # gate rule codes at release
    delivery = models.CharField(_("送达方式"), max_length=10, choices=Delivery.choices, blank=True)
    # Letters: the PDF is kept sealed under MEDIA_ROOT/letters/ with its SHA-256.
    pdf_path = models.CharField(max_length=200, blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["case", "-created_at"], name="message_case"),
            models.Index(
                fields=["release_at"], name="message_queued", condition=Q(status="queued")
            ),
            models.Index(fields=["provider_id"], name="message_provider_id"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.uid} ({self.status})"

    def body_aad(self) -> bytes:
        return b"message-body:" + str(self.uid).encode()

    def pdf_aad(self) -> bytes:
        return b"letter-pdf:" + str(self.uid).encode()

    def body(self) -> str:
        if not self.body_sealed:
            return ""
        return crypto.unseal(bytes(self.body_sealed), aad=self.body_aad()).decode()

"""Contact work: the gate's decisions, the attempts they led to, promises, saved queue views.

- ``ContactDecision``: every answer of the compliance gate (``recoup.contact.gate``), allowed
  or refused, with the rule codes and the profile versions in force. An allowed decision is a
  *grant*: for voice channels it holds one slot of the day's caps until the attempt is
  reported or the grant expires, so two collectors dialling the last slot cannot both pass.
- ``ContactAttempt``: what happened — a call with its result, an SMS, a letter, a visit —
  always referring to the grant that allowed it. Notes are sealed (they may hold anything).
- ``Promise``: a promise to pay (承诺还款, PTP) made in an attempt; kept or broken when
  payments arrive (``recoup.contact.promises``) or when its date passes unpaid.
- ``ClientResultCode``: a client's own code for one of Recoup's result codes (their reports).
- ``SavedQueueView``: a collector's named filter of the work queue.
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
from recoup.core.money import money_field


class Channel(models.TextChoices):
    CALL = "call", _("电话")
    ROBOT = "robot", _("智能语音")
    SMS = "sms", _("短信")
    EMAIL = "email", _("邮件")
    IM = "im", _("即时消息")
    LETTER = "letter", _("信函")
    VISIT = "visit", _("外访")


class CallMode(models.TextChoices):
    MANUAL = "manual", _("手拨")
    CLICK = "click", _("点击拨号")
    DIALER = "dialer", _("外呼系统")
    ROBOT = "robot", _("机器人")
    NONE = "", _("不适用")


class Result(models.TextChoices):
    """Recoup's own result codes; each drives the gate's counters (see the sets below)."""

    DEBTOR_REACHED = "debtor", _("本人接通")
    THIRD_PARTY_REACHED = "third_party", _("第三方接通")
    NO_ANSWER = "no_answer", _("无人接听")
    BUSY = "busy", _("占线")
    SWITCHED_OFF = "off", _("关机")
    INVALID_NUMBER = "invalid", _("空号/停机")
    WRONG_PERSON = "wrong_person", _("非本人")
    REFUSED = "refused", _("拒绝沟通")
    HUNG_UP = "hung_up", _("接通后挂断")
    VOICEMAIL = "voicemail", _("语音信箱")
    SENT = "sent", _("已发送")
    DELIVERED = "delivered", _("已送达")
    FAILED = "failed", _("发送失败")
    VISITED_MET = "visit_met", _("外访见到本人")
    VISITED_NOT_MET = "visit_not_met", _("外访未见本人")


# A conversation with someone (counts toward the per-debtor cap when it was the debtor).
CONVERSATION: frozenset[str] = frozenset({"debtor", "third_party", "refused", "hung_up"})
# The debtor could not be reached through this attempt (third-party unlock counts these).
FAILED_TO_REACH: frozenset[str] = frozenset(
    {"no_answer", "busy", "off", "invalid", "wrong_person", "voicemail"}
)
# Unanswered dial attempts (the per-number cap).
UNANSWERED: frozenset[str] = frozenset({"no_answer", "busy", "off", "voicemail"})


class OverdueReason(models.TextChoices):
    """The eight overdue-reason classes of seed 001 第九条."""

    CASH_FLOW = "cash_flow", _("周转困难")
    LIMITED_MEANS = "limited_means", _("还款能力有限")
    CRIMINAL = "criminal", _("承担刑事责任")
    FAMILY_DISPUTE = "family_dispute", _("婚姻家庭纠纷")
    CIVIL_DISPUTE = "civil_dispute", _("其他民事纠纷")
    WILFUL = "wilful", _("恶意或放任拖欠")
    FALSE_LOAN = "false_loan", _("虚假个人贷款")
    OTHER = "other", _("其他原因")


class ContactDecision(models.Model):
    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, db_index=False
    )
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="+")
    debtor = models.ForeignKey(
        "cases.Debtor", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    contact_point = models.ForeignKey(
        "cases.ContactPoint",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    mode = models.CharField(max_length=10, choices=CallMode.choices, blank=True)
    party_role = models.CharField(max_length=12, blank=True)  # the contact point's role
    at = models.DateTimeField()  # when the contact would happen
    zone = models.CharField(max_length=40)  # the debtor's zone the caps' day was counted in
    until = models.DateTimeField(null=True, blank=True)  # end of a visit slot
    allowed = models.BooleanField()
    rules = models.JSONField(default=list)  # [{"code", "params"}] of every refusing rule
    notices = models.JSONField(default=list)  # conditions of an allowed contact
    profile_versions = models.JSONField(default=dict)
    via = models.CharField(max_length=10, default="ui")  # ui, api
    expires_at = models.DateTimeField(null=True, blank=True)  # grants only
    consumed_at = models.DateTimeField(null=True, blank=True)  # the attempt was reported
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            # Open grants of a debtor / of a number (the caps count them as slots taken).
            models.Index(
                fields=["debtor", "expires_at"],
                name="decision_debtor_open",
                condition=Q(allowed=True, consumed_at__isnull=True),
            ),
            models.Index(
                fields=["contact_point", "expires_at"],
                name="decision_number_open",
                condition=Q(allowed=True, consumed_at__isnull=True),
            ),
            models.Index(fields=["organisation", "-at"], name="decision_org_at"),
            # Grants a collector never reported (flagged after their day ends).
            models.Index(
                fields=["actor", "at"],
                name="decision_actor_open",
                condition=Q(allowed=True, consumed_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{'allow' if self.allowed else 'refuse'} {self.channel} {self.case_id}"


class ContactAttempt(TimeStampedModel):
    # Sealed with the active data key; ``reseal_personal_data`` re-seals them after a key change.
    SEALED_FIELDS: ClassVar[dict[str, str]] = {"notes_sealed": "notes_aad"}

    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, db_index=False
    )
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Indexed by attempt_case_at, which leads with it.
    case = models.ForeignKey(
        "cases.Case", on_delete=models.CASCADE, related_name="attempts", db_index=False
    )
    debtor = models.ForeignKey(
        "cases.Debtor", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    contact_point = models.ForeignKey(
        "cases.ContactPoint",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    decision = models.OneToOneField(
        ContactDecision, on_delete=models.PROTECT, related_name="attempt"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices)
    mode = models.CharField(max_length=10, choices=CallMode.choices, blank=True)
    party_role = models.CharField(max_length=12, blank=True)
    call_id = models.CharField(_("通话编号"), max_length=100, blank=True)
    started_at = models.DateTimeField(_("开始时间"))
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    local_day = models.DateField()  # the debtor's calendar day of started_at (the caps' day)
    result = models.CharField(_("结果"), max_length=16, choices=Result.choices)
    conversation = models.BooleanField(default=False)  # someone was talked to
    debtor_conversation = models.BooleanField(default=False)  # the debtor was (CN-2 cap)
    overdue_reason = models.CharField(
        _("逾期原因"), max_length=16, choices=OverdueReason.choices, blank=True
    )
    notes_sealed = models.BinaryField(null=True, blank=True)
    next_follow_up_at = models.DateTimeField(_("下次跟进"), null=True, blank=True)
    lexicon_hits = models.JSONField(default=list)  # [{"category", "tier", "term"}]
    flagged_for_review = models.BooleanField(_("待质检复核"), default=False)
    # Set when the third party asked not to be called again (CN-4: never again).
    third_party_refused = models.BooleanField(default=False)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["debtor", "started_at"], name="attempt_debtor_at"),
            models.Index(fields=["contact_point", "started_at"], name="attempt_number_at"),
            models.Index(fields=["case", "-started_at"], name="attempt_case_at"),
            models.Index(fields=["organisation", "actor", "local_day"], name="attempt_actor_day"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "call_id"],
                condition=~Q(call_id=""),
                name="attempt_call_id_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.result} {self.case_id}"

    def notes_aad(self) -> bytes:
        return b"attempt-notes:" + str(self.uid).encode()

    def notes(self) -> str:
        if not self.notes_sealed:
            return ""
        return crypto.unseal(bytes(self.notes_sealed), aad=self.notes_aad()).decode()


class Promise(TimeStampedModel):
    class Status(models.TextChoices):
        OPEN = "open", _("待履行")
        KEPT = "kept", _("已履行")
        BROKEN = "broken", _("已违约")
        CANCELLED = "cancelled", _("已取消")

    OPEN_STATES: ClassVar[frozenset[str]] = frozenset({"open"})

    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, db_index=False
    )
    # Indexed by promise_case_status, which leads with it.
    case = models.ForeignKey(
        "cases.Case", on_delete=models.CASCADE, related_name="promises", db_index=False
    )
    attempt = models.ForeignKey(
        ContactAttempt, null=True, blank=True, on_delete=models.PROTECT, related_name="promises"
    )
    amount = money_field(_("承诺金额"))
    due_on = models.DateField(_("承诺日期"))
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default="open")
    paid_amount = money_field(_("已还金额"), default=0)
    evaluated_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-due_on", "-id"]
        indexes = [
            models.Index(
                fields=["organisation", "due_on"],
                name="promise_open_due",
                condition=Q(status="open"),
            ),
            models.Index(fields=["case", "status"], name="promise_case_status"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="promise_amount_positive")
        ]

    def __str__(self) -> str:
        return f"PTP {self.amount} on {self.due_on}"


class ClientResultCode(TimeStampedModel):
    """A client's own code for one of Recoup's results (used in the client's reports)."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT)
    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="+")
    result = models.CharField(max_length=16, choices=Result.choices)
    code = models.CharField(_("委托方代码"), max_length=30)
    label = models.CharField(_("委托方名称"), max_length=100, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["client_id", "result"]
        constraints = [
            models.UniqueConstraint(fields=["client", "result"], name="client_result_unique")
        ]

    def __str__(self) -> str:
        return f"{self.result} → {self.code}"


class SavedQueueView(TimeStampedModel):
    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_queue_views"
    )
    name = models.CharField(_("名称"), max_length=60)
    filters = models.JSONField(default=dict)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="saved_view_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


def seal_notes(attempt_uid: uuid.UUID, text: str) -> bytes | None:
    if not text:
        return None
    return crypto.seal(text.encode(), aad=b"attempt-notes:" + str(attempt_uid).encode())


class Recording(models.Model):
    """The recording of a call, uploaded by the call system and matched by its call id.

    The file lives under ``MEDIA_ROOT/recordings/<org>/<yyyy>/<mm>/<uid>``; ``sha256`` is the
    checksum the call system sent and the upload was verified against. ``retain_until`` is
    fixed at upload from the profile's ``recording_retention_days`` (CN-5: at least 2 years;
    US-12: 3 years after the call): nothing deletes the file before that day.
    """

    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, db_index=False
    )
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    attempt = models.OneToOneField(
        ContactAttempt, on_delete=models.PROTECT, related_name="recording"
    )
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100)
    file = models.FileField(max_length=255)
    retain_until = models.DateField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The purge job's scan: recordings past their retention.
            models.Index(fields=["retain_until"], name="recording_retain_until"),
        ]

    def __str__(self) -> str:
        return f"recording {self.uid}"


class InfoRepair(models.Model):
    """An information-repair attempt (信息修复) on a lost-contact case (SPEC §3 step 6).

    Recorded whether or not it found anything; a found contact point names its lawful source
    (the client, the debtor, the collector's own conversation).
    """

    class Outcome(models.TextChoices):
        FOUND = "found", _("找到新联系方式")
        NOT_FOUND = "not_found", _("未找到")

    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, db_index=False
    )
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="repairs")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    outcome = models.CharField(_("结果"), max_length=10, choices=Outcome.choices)
    channel = models.CharField(_("查找途径"), max_length=100)  # e.g. 委托方补充资料, 本人告知
    contact_point = models.ForeignKey(
        "cases.ContactPoint",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    note = models.CharField(_("说明"), max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"repair {self.case_id} {self.outcome}"

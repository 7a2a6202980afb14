"""Compliance data: profiles of rule parameters (versioned), consent records, the lexicon.

- ``ComplianceProfile``: a named set of rules — a jurisdiction (``cn-default``,
  ``us-federal``, ``us-ma``) or one contract's own overrides. A contract's
  ``compliance_profile`` names its stack (``"cn-default"`` or ``"us-federal,us-ma"``); the
  contract's own profile, when it has one, is always added on top. Stacked profiles combine
  most-restrictive-wins (``recoup.compliance.params.stack``).
- ``ProfileVersion``: the parameters as edited, append-only; the newest version is in force.
  Every gate decision records the versions it used.
- ``ConsentRecord``: the debtor agreed to be contacted in a time the window otherwise forbids
  (CN-1 "双方约定"): who, when, channel, evidence.
- ``LexiconCategory`` / ``LexiconTerm``: forbidden words (催收禁语, COMPLIANCE.md §E) by
  category and tier, scanned in notes and templates.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from recoup.core.models import TenantQuerySet, TimeStampedModel


class ComplianceProfile(TimeStampedModel):
    class Jurisdiction(models.TextChoices):
        CN = "CN", _("中国")
        US = "US", _("美国")
        EU = "EU", _("欧盟")
        UK = "UK", _("英国")
        CONTRACT = "contract", _("合同约定")

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT)
    code = models.SlugField(_("代码"), max_length=50)
    name = models.CharField(_("名称"), max_length=100)
    jurisdiction = models.CharField(_("适用法域"), max_length=10, choices=Jurisdiction.choices)
    # Set for a contract's own override profile: stacked on whatever the contract names.
    contract = models.OneToOneField(
        "clients.Contract",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="compliance_override",
    )
    description = models.TextField(_("说明"), blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "code"], name="profile_code_unique")
        ]

    def __str__(self) -> str:
        return self.code


class ProfileVersion(models.Model):
    """One edit of a profile's parameters. Never changed after it is written."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT)
    profile = models.ForeignKey(
        ComplianceProfile, on_delete=models.PROTECT, related_name="versions"
    )
    number = models.PositiveIntegerField()
    params = models.JSONField(default=dict)
    note = models.CharField(_("修改说明"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["profile_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["profile", "number"], name="profile_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.profile_id} v{self.number}"


class ConsentRecord(TimeStampedModel):
    """The debtor agreed to contact in a time outside the window (for one channel, or all)."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT)
    debtor = models.ForeignKey("cases.Debtor", on_delete=models.CASCADE, related_name="consents")
    channel = models.CharField(_("渠道"), max_length=10, blank=True)  # "" = every channel
    starts_at = models.DateTimeField(_("同意时段开始"))
    ends_at = models.DateTimeField(_("同意时段结束"))
    evidence = models.CharField(_("证据"), max_length=300)  # e.g. the call id of the recording
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at"]
        indexes = [models.Index(fields=["debtor", "ends_at"], name="consent_debtor_ends")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="consent_period_valid"
            )
        ]

    def __str__(self) -> str:
        return f"consent {self.debtor_id} {self.channel or '*'}"


class LexiconCategory(TimeStampedModel):
    """A category of forbidden words (COMPLIANCE.md §E), with its tier."""

    class Tier(models.TextChoices):
        RED_LINE = "red_line", _("红线（零容忍）")
        SERIOUS = "serious", _("严重")
        GENERAL = "general", _("一般")

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT)
    code = models.SlugField(_("代码"), max_length=50)
    name = models.CharField(_("名称"), max_length=100)
    tier = models.CharField(_("等级"), max_length=10, choices=Tier.choices)
    grounding = models.CharField(_("依据"), max_length=300, blank=True)
    # Third-party rule: words that must not reach a third party (amount, overdue wording).
    third_party_only = models.BooleanField(_("仅限第三方场景"), default=False)
    active = models.BooleanField(_("启用"), default=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["tier", "code"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "code"], name="lexicon_code_unique")
        ]

    def __str__(self) -> str:
        return self.name


class LexiconTerm(models.Model):
    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT)
    category = models.ForeignKey(LexiconCategory, on_delete=models.CASCADE, related_name="terms")
    term = models.CharField(_("词语"), max_length=100)
    language = models.CharField(max_length=10, default="zh-hans")
    # A regular expression instead of a literal (e.g. "欠款\\d+元").
    is_pattern = models.BooleanField(_("正则"), default=False)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["category_id", "term"]
        constraints = [
            models.UniqueConstraint(fields=["category", "term"], name="lexicon_term_unique")
        ]

    def __str__(self) -> str:
        return self.term

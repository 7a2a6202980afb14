"""Organisation (the agency tenant), its units and teams, people, roles and API tokens.

HQ (总公司) → branches (分公司) → teams (小组) → people (SPEC §1). Roles are rows of ``Role``;
a person may hold several through ``RoleAssignment``. What each role may do, and over which
cases, is decided by the policies (``recoup.accounts.roles`` and ``cases.permissions``).
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cached_property
from typing import ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from recoup.core.models import TimeStampedModel


class Organisation(TimeStampedModel):
    """A collection agency (or a bank's own collection department): the tenant."""

    name = models.CharField(_("名称"), max_length=200)
    code = models.SlugField(_("代码"), max_length=50, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class OrgUnit(TimeStampedModel):
    """Headquarters or a branch of the agency."""

    class Kind(models.TextChoices):
        HQ = "hq", _("总公司")  # headquarters: sees every branch
        BRANCH = "branch", _("分公司")  # a branch office with its own supervisors and teams

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="units")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(_("名称"), max_length=200)
    code = models.SlugField(_("代码"), max_length=50)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    region = models.CharField(_("地区"), max_length=100, blank=True)

    class Meta:
        ordering = ["organisation", "kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "code"], name="orgunit_code_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Team(TimeStampedModel):
    """A collection team (小组) inside a branch."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="teams")
    branch = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="teams")
    name = models.CharField(_("名称"), max_length=200)
    code = models.SlugField(_("代码"), max_length=50)

    class Meta:
        ordering = ["branch", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "code"], name="team_code_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Role(models.Model):
    """A role of SPEC §1, stored as data so people can hold several and reports can list them."""

    class Code(models.TextChoices):
        COLLECTOR = "collector", _("电话催收员")  # works only cases assigned to them
        FIELD_COLLECTOR = "field_collector", _("外访催收员")  # visits assigned to them
        TEAM_LEADER = "team_leader", _("催收组长")  # oversees a team's cases
        SUPERVISOR = "supervisor", _("催收主管")  # allocates and approves within a branch
        ADMIN_ASSISTANT = "admin_assistant", _("协助行政")  # bank liaison: batches, payments
        QUALITY_INSPECTOR = "quality_inspector", _("质检员")  # samples recordings and notes
        RISK_OFFICER = "risk_officer", _("风控")  # stop-collection flags, escalations
        BRANCH_MANAGER = "branch_manager", _("分公司经理")  # approves; sees the branch
        HQ = "hq", _("总公司")  # sees all branches
        CLIENT_USER = "client_user", _("委托方")  # read-only portal over own contracts
        SYSTEM_ADMIN = "system_admin", _("系统管理员")  # users and settings, no case content
        COMPLIANCE_OFFICER = "compliance_officer", _("合规专员")  # compliance profiles, lexicon

    code = models.CharField(max_length=40, choices=Code.choices, unique=True)
    name = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class RecoupUserManager(UserManager["User"]):
    pass


class User(AbstractUser):
    """A person with their own login (IDs are never shared, SPEC §7)."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("在职")  # may log in and receive work
        DEPARTED = "departed", _("离职")  # access ended; kept for the audit trail

    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    unit = models.ForeignKey(
        OrgUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="people"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    display_name = models.CharField(_("姓名"), max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    roles = models.ManyToManyField(
        Role, through="RoleAssignment", through_fields=("user", "role"), related_name="users"
    )
    # Compliance training and NDA (保密协议): allocation refuses new cases once lapsed.
    training_completed_on = models.DateField(_("合规培训日期"), null=True, blank=True)
    training_valid_until = models.DateField(_("培训有效期至"), null=True, blank=True)
    nda_signed_on = models.DateField(_("保密协议签署日期"), null=True, blank=True)
    nda_valid_until = models.DateField(_("保密协议有效期至"), null=True, blank=True)
    # Login protection (SPEC §7): counted failures, lockout, one live session.
    failed_login_count = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    current_session_key = models.CharField(max_length=64, blank=True)

    objects: ClassVar[RecoupUserManager] = RecoupUserManager()

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.display_name or self.username

    @cached_property
    def role_codes(self) -> frozenset[str]:
        """The roles in force for this request: an API token narrows them to its own role."""
        restricted: frozenset[str] | None = getattr(self, "token_role_codes", None)
        if restricted is not None:
            return restricted
        if not self.pk:
            return frozenset()
        if "roles" in getattr(self, "_prefetched_objects_cache", {}):
            # prefetch_related("roles"): a list of people asks no query per person.
            return frozenset(r.code for r in self.roles.all())
        return frozenset(self.role_assignments.values_list("role__code", flat=True))

    def has_role(self, *codes: str) -> bool:
        return bool(self.role_codes.intersection(codes))

    def is_locked(self, at: datetime | None = None) -> bool:
        return self.locked_until is not None and self.locked_until > (at or timezone.now())

    def training_current(self, on: date) -> bool:
        return bool(
            self.training_valid_until
            and self.training_valid_until >= on
            and self.nda_valid_until
            and self.nda_valid_until >= on
        )


class RoleAssignment(TimeStampedModel):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="role_assignments")
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="assignments")
    granted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["user", "role"]
        constraints = [
            models.UniqueConstraint(fields=["user", "role"], name="role_assignment_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.role}"


class ApiToken(TimeStampedModel):
    """A token for a system client (dialer, bank). Only its SHA-256 is stored.

    The token acts as its service user but only with ``role``: a bank's token whose user is
    also a supervisor still sees only what a client user may.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    role = models.CharField(max_length=40, choices=Role.Code.choices)
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["organisation", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

"""Allocation (分案): who works which case, by rules or by hand, and the record of every run.

- ``CollectorProfile``: a collector's capacity (open cases, total balance), skills and weight.
- ``RuleSet`` → ``Rule`` → ``RuleTarget``: per contract, ordered rules; the first rule whose
  filters match a case sends it to that rule's pool of collectors or teams, with weights.
- ``AllocationRun``: one preview or commit — author, kind, parameters (the rules as they were,
  the case selection, the options) and result. A run's parameters reproduce it.
- ``AllocationLine``: per case and run, where it went (or why it stayed unplaced), by which
  rule, and who held it before. Lines of committed runs are the allocation history.

Cases are changed only by ``services.run_commit`` (one transaction, refused as a whole when
any case moved since the preview: ``Case.allocation_seq``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from recoup.core.models import TenantQuerySet, TimeStampedModel
from recoup.core.money import money_field


class CollectorProfile(TimeStampedModel):
    """How much a collector can carry and what they are good at (allocation inputs)."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="collector_profile"
    )
    max_open_cases = models.PositiveIntegerField(_("最多在手案件数"), null=True, blank=True)
    max_total_balance = models.DecimalField(
        _("最多在手金额"),
        max_digits=settings.MONEY_MAX_DIGITS,
        decimal_places=settings.MONEY_DECIMAL_PLACES,
        null=True,
        blank=True,
    )
    skills = models.JSONField(_("技能"), default=list, blank=True)  # e.g. ["legal", "cantonese"]
    weight = models.PositiveSmallIntegerField(_("权重"), default=1)
    # Daily work targets shown to the collector and their team leader (SPEC §6: 200+
    # attempts and 50+ effective calls a day when not set).
    daily_attempts_target = models.PositiveIntegerField(_("每日拨打目标"), null=True, blank=True)
    daily_effective_target = models.PositiveIntegerField(
        _("每日有效通话目标"), null=True, blank=True
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["user_id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(weight__gte=1), name="collector_weight_min")
        ]

    def __str__(self) -> str:
        return f"profile of {self.user_id}"


class RuleSet(TimeStampedModel):
    """The allocation rules of one contract (one active set per contract at a time)."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT)
    contract = models.ForeignKey(
        "clients.Contract", on_delete=models.PROTECT, related_name="rule_sets"
    )
    name = models.CharField(_("名称"), max_length=100)
    active = models.BooleanField(_("启用"), default=True)
    keep_debtor_together = models.BooleanField(_("同一债务人的案件分给同一催收员"), default=True)
    avoid_previous_collector = models.BooleanField(_("不分回上一周期的催收员"), default=False)
    version = models.PositiveIntegerField(default=1)  # bumped by every edit
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["contract_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "name"], name="ruleset_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Rule(TimeStampedModel):
    """Filters → a pool. ``filters`` keys (all optional; empty = any):
    ``client_ids``, ``batch_ids``, ``stages``, ``products``, ``provinces``, ``cities``,
    ``risk_grades`` (lists), ``min_balance``/``max_balance`` (yuan, strings),
    ``new_or_reallocated`` ("any", "new", "reallocated")."""

    rule_set = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="rules")
    position = models.PositiveIntegerField(default=0)
    name = models.CharField(_("名称"), max_length=100)
    filters = models.JSONField(default=dict, blank=True)
    required_skills = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["rule_set_id", "position", "id"]

    def __str__(self) -> str:
        return self.name


class RuleTarget(models.Model):
    """One member of a rule's pool: a collector, or a whole team (its active collectors)."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="targets")
    collector = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    weight = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["rule_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(collector__isnull=False, team__isnull=True)
                | models.Q(collector__isnull=True, team__isnull=False),
                name="ruletarget_collector_or_team",
            ),
            models.CheckConstraint(condition=models.Q(weight__gte=1), name="ruletarget_weight"),
        ]

    def __str__(self) -> str:
        return f"{self.rule_id}: {self.collector_id or self.team_id} ×{self.weight}"


class AllocationRun(TimeStampedModel):
    """One allocation: previewed, then committed (or discarded / overtaken)."""

    class Kind(models.TextChoices):
        RULES = "rules", _("规则分案")  # a rule set over the unassigned cases
        MANUAL = "manual", _("手工分案")  # chosen cases to a chosen collector or team
        RECALL = "recall", _("收回")  # cases taken back into the pool
        HANDOVER = "handover", _("交接")  # a departing collector's cases re-assigned
        RETURN = "return", _("退案")  # cases returned to the client at the end of the period

    class Status(models.TextChoices):
        PREVIEW = "preview", _("预览")  # computed, nothing changed yet
        COMMITTED = "committed", _("已提交")  # applied to the cases
        DISCARDED = "discarded", _("已放弃")  # the author dropped it
        STALE = "stale", _("已过期")  # cases moved since the preview; preview again

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PREVIEW)
    contract = models.ForeignKey(
        "clients.Contract", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rule_set = models.ForeignKey(
        RuleSet, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    committed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    committed_at = models.DateTimeField(null=True, blank=True)
    # Everything needed to reproduce the run: rules as they were, selection, options, date.
    parameters = models.JSONField(default=dict)
    # Per collector: cases, balance, deviation; unplaced counts by reason; spreads.
    result = models.JSONField(default=dict)
    case_count = models.PositiveIntegerField(default=0)
    placed_count = models.PositiveIntegerField(default=0)
    note = models.CharField(_("说明"), max_length=500, blank=True)
    # Hand-over (交接): whose cases move, and the team leader's sign-off the commit needs.
    subject_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_off_at = models.DateTimeField(null=True, blank=True)
    end_access = models.BooleanField(default=False)  # the departing person's login ends on commit

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.kind}, {self.status})"


class AllocationLine(models.Model):
    """One case in one run: where it goes (collector/team) or why it stays unplaced."""

    # No database constraints: a run writes up to a million lines at once (COPY), and a
    # per-row foreign-key check costs more than the row. The run too: PostgreSQL checked each
    # line's run at commit (7.7 s of a 1M-case preview, bench/allocate.py). Lines are only
    # ever written by the service that creates their run, in the same transaction, and runs
    # are never deleted (a discarded run keeps its lines as history).
    run = models.ForeignKey(
        AllocationRun, on_delete=models.CASCADE, related_name="lines", db_constraint=False
    )
    case = models.ForeignKey(  # indexed by (case, run) below
        "cases.Case",
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    collector = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    team = models.ForeignKey(
        "accounts.Team",
        null=True,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    previous_assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    rule_id_at_run = models.PositiveIntegerField(null=True)  # the rule may be edited later
    rule_name = models.CharField(max_length=100, blank=True)
    reason = models.CharField(max_length=40)  # an engine reason code (messages.py)
    params = models.JSONField(default=dict)
    balance = money_field(_("金额"))
    seq_at_preview = models.PositiveIntegerField(default=0)  # Case.allocation_seq then

    class Meta:
        ordering = ["run_id", "id"]
        indexes = [models.Index(fields=["case", "run"], name="allocline_case_run")]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.case_id} → {self.collector_id}"


class PeriodExtension(TimeStampedModel):
    """A request to keep a case beyond its period (留案/延期): reason, next-step plan, days;
    effective only once a supervisor approves it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待审批")  # waiting for a supervisor
        APPROVED = "approved", _("已批准")  # the period was extended
        REJECTED = "rejected", _("已驳回")  # refused; the case is returned at period end

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT)
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="extensions")
    days = models.PositiveIntegerField(_("延期天数"))
    reason = models.CharField(_("延期原因"), max_length=500)
    plan = models.TextField(_("下一步计划"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(_("审批意见"), max_length=500, blank=True)
    period_before = models.DateField(null=True, blank=True)
    period_after = models.DateField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["case"],
                condition=models.Q(status="pending"),
                name="one_pending_extension_per_case",
            ),
            models.CheckConstraint(
                condition=models.Q(days__gte=1) & models.Q(days__lte=90), name="extension_days"
            ),
        ]

    def __str__(self) -> str:
        return f"extension {self.pk} of case {self.case_id}"

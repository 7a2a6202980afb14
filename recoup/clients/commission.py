"""The contract's commission table (佣金表): its shape, checked when a contract is saved.

    {
      "by_stage": {"M1": "0.06", "M2": "0.10", …, "*": "0.12"},  # rate of the amount recovered,
                                                                 # by the case's overdue stage
      "tiers": [{"from": "0", "rate": "0.08"}, {"from": "0.30", "rate": "0.12"}],
                  # by recovery tier: the month's recovered ÷ entrusted for the contract picks
                  # the rate for every case (replaces by_stage when given)
      "fixed_per_case": "50.00"   # a fee for each case paid off or settled in the month
    }

Rates are fractions (0.12 = 12 %). Every part is optional; an empty table earns nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from recoup.core.exceptions import ValidationError

STAGES = ("M1", "M2", "M3", "M4", "M5", "M6+", "M4+", "*")


@dataclass(frozen=True)
class CommissionTable:
    by_stage: dict[str, Decimal] = field(default_factory=dict)
    tiers: list[tuple[Decimal, Decimal]] = field(default_factory=list)  # (from, rate), sorted
    fixed_per_case: Decimal = Decimal(0)

    def stage_rate(self, stage: str) -> Decimal:
        """The rate for a stage: its own, else M4+ for M4–M6+, else "*", else 0."""
        if stage in self.by_stage:
            return self.by_stage[stage]
        if stage in ("M4", "M5", "M6+") and "M4+" in self.by_stage:
            return self.by_stage["M4+"]
        return self.by_stage.get("*", Decimal(0))

    def tier_rate(self, recovery: Decimal) -> Decimal | None:
        """The rate of the highest tier the recovery rate reaches (None: no tiers)."""
        if not self.tiers:
            return None
        rate = Decimal(0)
        for start, tier in self.tiers:
            if recovery >= start:
                rate = tier
        return rate


def _rate(value: Any, where: str) -> Decimal:
    try:
        rate = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationError(
            _("佣金表 %(where)s 的比例“%(value)s”不是数字。") % {"where": where, "value": value},
            field="commission_table",
        ) from None
    if not Decimal(0) <= rate <= Decimal(1):
        raise ValidationError(
            _("佣金表 %(where)s 的比例须在 0 到 1 之间（如 0.12 表示 12%%）。") % {"where": where},
            field="commission_table",
        )
    return rate


def parse_table(raw: dict[str, Any] | None) -> CommissionTable:
    """The table, or ValidationError naming what is wrong."""
    raw = raw or {}
    if not isinstance(raw, dict):
        raise ValidationError(_("佣金表须为 JSON 对象。"), field="commission_table")
    unknown = set(raw) - {"by_stage", "tiers", "fixed_per_case"}
    if unknown:
        raise ValidationError(
            _("佣金表含未知项：%(keys)s。") % {"keys": ", ".join(sorted(unknown))},
            field="commission_table",
        )
    by_stage = {}
    for stage, value in (raw.get("by_stage") or {}).items():
        if stage not in STAGES:
            raise ValidationError(
                _("佣金表含未知逾期阶段：%(stage)s。") % {"stage": stage}, field="commission_table"
            )
        by_stage[stage] = _rate(value, stage)
    tiers = []
    for n, tier in enumerate(raw.get("tiers") or [], start=1):
        if not isinstance(tier, dict) or "from" not in tier or "rate" not in tier:
            raise ValidationError(
                _("佣金表第 %(n)s 档须有 from 和 rate。") % {"n": n}, field="commission_table"
            )
        tiers.append((_rate(tier["from"], f"#{n} from"), _rate(tier["rate"], f"#{n}")))
    tiers.sort()
    try:
        fixed = Decimal(str(raw.get("fixed_per_case") or 0)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise ValidationError(_("每案固定佣金不是金额。"), field="commission_table") from None
    if fixed < 0:
        raise ValidationError(_("每案固定佣金不能为负。"), field="commission_table")
    return CommissionTable(by_stage=by_stage, tiers=tiers, fixed_per_case=fixed)

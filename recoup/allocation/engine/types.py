"""The engine's vocabulary: reason codes, the case schema, the input and output dataclasses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import polars as pl

# --- reason codes ----------------------------------------------------------------------------

# Why a case was placed (``Result.placements["reason"]``).
BALANCED = "balanced"  # by the balancing across the rule's pool
DEBTOR_HOLDER = "debtor_holder"  # with the collector already holding the debtor's open cases

# Why a case stays unplaced (``Unplaced.reason``); its params in brackets.
NO_RULE_MATCHED = "no_rule_matched"  # no rule's filter matches the case
NO_ELIGIBLE_COLLECTOR = "no_eligible_collector"  # the rule's targets: none eligible or known
POOL_LACKS_SKILLS = "pool_lacks_skills"  # no eligible target has every required skill [skills]
CASE_CAPACITY_FULL = "case_capacity_full"  # no member has room for it [needed, max_room]
BALANCE_EXCEEDS_CAPACITY = "balance_exceeds_capacity"  # > every member's balance room [max_room]
ONLY_PREVIOUS_COLLECTOR = "only_previous_collector"  # only its last holders fit [collector_ids]

# Why a rule's target takes no cases under that rule (``Excluded.reason``).
UNKNOWN_COLLECTOR = "unknown_collector"  # the id is not among the collectors passed in
INELIGIBLE = "ineligible"  # departed, training or NDA lapsed… [reason: Collector.ineligible_reason]
MISSING_SKILLS = "missing_skills"  # lacks required skills of the rule [skills]

PLACEMENT_REASONS: tuple[str, ...] = (BALANCED, DEBTOR_HOLDER)
UNPLACED_REASONS: tuple[str, ...] = (
    NO_RULE_MATCHED,
    NO_ELIGIBLE_COLLECTOR,
    POOL_LACKS_SKILLS,
    CASE_CAPACITY_FULL,
    BALANCE_EXCEEDS_CAPACITY,
    ONLY_PREVIOUS_COLLECTOR,
)
EXCLUSION_REASONS: tuple[str, ...] = (UNKNOWN_COLLECTOR, INELIGIBLE, MISSING_SKILLS)

type Param = int | str | tuple[int, ...] | tuple[str, ...]

# --- inputs ----------------------------------------------------------------------------------

CASE_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.Int64(),
    "balance": pl.Int64(),  # cents, ≥ 0
    "debtor_id": pl.Int64(),
    "client_id": pl.Int64(),
    "batch_id": pl.Int64(),  # nullable
    "stage": pl.String(),  # "M1" … "M6+"
    "product": pl.String(),  # "card" / "loan"
    "province": pl.String(),
    "city": pl.String(),
    "risk_grade": pl.String(),
    "reallocated": pl.Boolean(),  # held by a collector before
    "previous_assignee_id": pl.Int64(),  # nullable: the collector who held it last period
}
"""The columns ``allocate_frame`` reads; see ``required_columns`` for which ones it needs."""


@dataclass(frozen=True, slots=True)
class CaseItem:
    """An open, unassigned case (one row of ``CASE_SCHEMA``)."""

    id: int
    balance: int  # cents
    debtor_id: int
    client_id: int
    batch_id: int | None
    stage: str
    product: str
    province: str
    city: str
    risk_grade: str
    reallocated: bool
    previous_assignee_id: int | None


@dataclass(frozen=True, slots=True)
class Collector:
    """A collector with capacity (None = unlimited) and the open load held before this run."""

    id: int
    team_id: int | None
    skills: frozenset[str]
    max_open_cases: int | None
    max_total_balance: int | None  # cents
    open_cases: int
    open_balance: int  # cents
    ineligible_reason: str = ""  # a code; "" = eligible


@dataclass(frozen=True, slots=True)
class RuleFilter:
    """Which cases a rule takes: every given criterion must hold; an empty set means any."""

    client_ids: frozenset[int] = frozenset()
    batch_ids: frozenset[int] = frozenset()
    stages: frozenset[str] = frozenset()
    products: frozenset[str] = frozenset()
    provinces: frozenset[str] = frozenset()
    cities: frozenset[str] = frozenset()
    risk_grades: frozenset[str] = frozenset()
    min_balance: int | None = None  # cents, inclusive
    max_balance: int | None = None  # cents, inclusive
    new_or_reallocated: Literal["any", "new", "reallocated"] = "any"


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule: its filter, its target pool as (collector_id, weight ≥ 1) and required skills."""

    id: int
    name: str
    filter: RuleFilter
    targets: tuple[tuple[int, int], ...]
    required_skills: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Options:
    """Run options chosen by the supervisor."""

    keep_debtor_together: bool = True
    avoid_previous_collector: bool = False


# --- outputs ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unplaced:
    """A case left unassigned; ``rule_id`` is None when no rule matched. Params are shared:
    do not mutate them."""

    case_id: int
    rule_id: int | None
    reason: str
    params: Mapping[str, Param]


@dataclass(frozen=True, slots=True)
class Excluded:
    """A rule target that takes none of the rule's cases, and why."""

    collector_id: int
    reason: str
    params: Mapping[str, Param]


@dataclass(frozen=True, slots=True)
class PoolMember:
    """A pool member's share of a rule's cases; ``deviation_pct`` compares its balance per
    weight with the mean of the members who received cases (None if it received none)."""

    collector_id: int
    weight: int
    cases: int
    balance: int
    deviation_pct: float | None


@dataclass(frozen=True, slots=True)
class PoolStats:
    """One rule's outcome. Spreads are per weight, over the members who received cases."""

    rule_id: int
    cases: int  # matched the rule
    placed: int
    balance: int  # placed, cents
    balance_spread_pct: float  # (max − min) / mean × 100
    count_spread: float  # max − min, counts scaled to the smallest weight
    members: tuple[PoolMember, ...]
    excluded: tuple[Excluded, ...]


@dataclass(frozen=True, slots=True)
class CollectorSummary:
    """A collector's new cases in this run and its open load afterwards."""

    collector_id: int
    cases: int
    balance: int
    open_cases: int
    open_balance: int


@dataclass(frozen=True, slots=True)
class Result:
    """The allocation; ``balance_spread_pct`` and ``count_spread`` are the worst pool's."""

    placements: pl.DataFrame  # case_id, collector_id, rule_id: Int64; reason: String
    unplaced: tuple[Unplaced, ...]
    pools: tuple[PoolStats, ...]
    collectors: tuple[CollectorSummary, ...]
    cases: int
    placed: int
    balance_spread_pct: float
    count_spread: float
    _map: dict[int, int] = field(default_factory=dict, repr=False, compare=False)

    def placement_map(self) -> dict[int, int]:
        """case_id → collector_id for the placed cases."""
        if not self._map and self.placed:
            self._map.update(
                zip(
                    self.placements["case_id"].to_list(),
                    self.placements["collector_id"].to_list(),
                    strict=True,
                )
            )
        return self._map

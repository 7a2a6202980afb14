"""The allocation (分案) engine: which collector gets which case, and why a case stays unplaced.

Pure Python and polars: no Django, no database. The service layer loads the open, unassigned
cases, the collectors with their current load and the contract's rule set, calls the engine,
shows the result as a preview and writes it on commit. The same inputs give the same result,
whatever the order of the cases and collectors; there is no randomness.

API
---
- ``allocate_frame(cases, collectors, rules, options, *, debtor_holders=None) -> Result`` is
  the primary entry point. ``cases`` is a polars frame with the columns of ``CASE_SCHEMA``
  (amounts in Int64 cents). Only the columns that ``required_columns(rules, options)`` lists
  are read, so the service can load just those (``COPY … TO STDOUT`` into polars).
- ``allocate(cases, collectors, rules, options, *, debtor_holders=None) -> Result`` takes a
  sequence of ``CaseItem`` instead. It is a convenience for tests and small runs: building a
  million ``CaseItem`` objects costs more than allocating them.
- ``debtor_holders`` maps a debtor id to the collector already holding that debtor's open
  cases. It is only used with ``Options.keep_debtor_together``.
- ``Result.placements`` is a frame (case_id, collector_id, rule_id: Int64; reason: String) by
  case id; ``placement_map()`` turns it into a dict. ``Result.unplaced`` lists
  ``Unplaced(case_id, rule_id, reason, params)`` by case id. ``Result.pools`` gives per rule
  each member's share and deviation, the targets it excluded and why, and the spreads.
  ``Result.collectors`` gives every collector's new load and its open load afterwards.

Algorithm
---------
1. Each case belongs to the FIRST rule whose filter matches it (vectorised in polars). With
   ``keep_debtor_together`` one debtor's cases under one rule form a unit; otherwise each case
   is a unit.
2. The rules run in order. A collector's load carries over from one rule to the next.
   a. The pool is the rule's targets minus ineligible collectors and those lacking a required
      skill (``PoolStats.excluded`` says which and why).
   b. With ``keep_debtor_together``, a unit whose debtor is already held by a pool member goes
      to that member if it has room. "Held" means before this run (``debtor_holders``) or by an
      earlier rule of this run.
   c. Count quotas are water-filled in proportion to the weights over each member's total open
      cases, within its room: its case room, and its balance room divided by the rule's mean
      case balance. So the less loaded receive more new cases.
   d. Balancing pass. Each member gets a balance target, water-filled like the quotas over
      its total open balance. The remaining units, largest balance first, go each to the
      member that needs the most balance per remaining quota slot to reach its target (a
      heap). That member must have quota and balance room and must not have held the case last
      period. So every member receives a mix of large and small cases that fits its quota.
      Capacity pass: the units that fit no quota go to the member with the fewest cases per
      weight that has room. A unit that fits nowhere stays unplaced, with a reason.
   e. Swaps: while the members' balances per weight are more than 0.1 % apart, a unit of the
      heaviest member is swapped with a smaller unit of the same size of the lightest member.
      Counts do not change. The effort per rule is bounded.
   When the pool cannot take every case, the largest balances are placed first.

Both the count and the balance are balanced on the TOTAL load: open before the run, plus placed
by earlier rules, plus placed by this rule. So the less loaded receive more. Members may start
with counts and balances that disagree (many small cases against a few large ones). Then the
counts win, and the balance is evened out as far as the quotas allow.

Guarantees (property tests in ``tests/test_engine.py``)
-------------------------------------------------------
- Every input case is placed once or unplaced once.
- ``max_open_cases`` and ``max_total_balance`` are never exceeded.
- A rule's cases never go to an ineligible collector, to a collector outside the rule's
  targets, or to one lacking its skills.
- With ``avoid_previous_collector``, no case goes back to its previous assignee.
- With ``keep_debtor_together``, a debtor's cases under one rule go to one collector. That is
  the existing holder when it is in the pool and has room (and, with
  ``avoid_previous_collector``, did not hold one of the cases last period).
- Balance, for equal weights, empty collectors, enough capacity, at least ~50 cases per
  collector and a realistic skewed balance (lognormal, 500–200,000 yuan): the allocated
  balance spread (max − min) / mean is at most 1 %, and every count is within 1 of the mean.
  - With ``keep_debtor_together``, a debtor's group counts as one unit, so the count bound
    relaxes to the size of the largest group.
  - The balance bound needs the largest case to be small next to a collector's share: one
    200,000-yuan case cannot be balanced against fifty 1,000-yuan cases.
- Reported spreads are taken per weight, over the members who received cases, on the new
  allocation only. When members start with unequal loads, the new allocation is uneven by
  design.

The reason codes are listed below, with their params. The UI translates them
(``recoup.allocation.messages``).
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

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


# --- entry points ----------------------------------------------------------------------------

_FILTER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("client_ids", "client_id"),
    ("batch_ids", "batch_id"),
    ("stages", "stage"),
    ("products", "product"),
    ("provinces", "province"),
    ("cities", "city"),
    ("risk_grades", "risk_grade"),
)


def required_columns(rules: Sequence[Rule], options: Options) -> list[str]:
    """The ``CASE_SCHEMA`` columns that ``allocate_frame`` needs for these rules and options."""
    needed = {"id", "balance"}
    if options.keep_debtor_together:
        needed.add("debtor_id")
    if options.avoid_previous_collector:
        needed.add("previous_assignee_id")
    for rule in rules:
        f = rule.filter
        needed.update(col for attr, col in _FILTER_COLUMNS if getattr(f, attr))
        if f.new_or_reallocated != "any":
            needed.add("reallocated")
    return [col for col in CASE_SCHEMA if col in needed]


def cases_frame(cases: Iterable[CaseItem]) -> pl.DataFrame:
    """The ``CASE_SCHEMA`` frame of some ``CaseItem``."""
    items = list(cases)
    return pl.DataFrame(
        {col: [getattr(c, col) for c in items] for col in CASE_SCHEMA}, schema=CASE_SCHEMA
    )


def allocate(
    cases: Sequence[CaseItem],
    collectors: Sequence[Collector],
    rules: Sequence[Rule],
    options: Options = Options(),
    *,
    debtor_holders: Mapping[int, int] | None = None,
) -> Result:
    """``allocate_frame`` for a sequence of ``CaseItem``."""
    return allocate_frame(
        cases_frame(cases), collectors, rules, options, debtor_holders=debtor_holders
    )


def allocate_frame(
    cases: pl.DataFrame,
    collectors: Sequence[Collector],
    rules: Sequence[Rule],
    options: Options = Options(),
    *,
    debtor_holders: Mapping[int, int] | None = None,
) -> Result:
    """Allocate open cases to collectors by the rules (module docstring: algorithm, guarantees).

    Raises ``ValueError`` for inconsistent input: a missing column, a null or duplicate case
    id, a negative balance, duplicate collector or rule ids, a weight below 1.
    """
    _check_rules(rules)
    frame = _prepare_cases(cases, rules, options)
    state = _CollectorState(collectors)
    keep = options.keep_debtor_together

    frame = frame.with_columns(_rule=_rule_index_expr(rules))
    matched = frame.filter(pl.col("_rule").is_not_null())
    case_units, units = _units(matched, keep)
    n_units = units.height
    rule_units = dict(units.group_by("_rule").len().iter_rows())
    run = _Run(
        state=state,
        ubal=units["_bal"].to_list(),
        usize=units["_size"].to_list() if keep else None,
        udebtor=units["debtor_id"].to_list() if keep else None,
        forbidden=(
            _forbidden_units(matched, case_units) if options.avoid_previous_collector else {}
        ),
        unit_coll=[-1] * n_units,
        unit_code=[0] * n_units,
        unit_params={},
    )
    holders: dict[int, int] = {}  # debtor → collector index
    maybe_held: list[int] = []
    shared_later: list[int] = []
    if keep:
        index = state.index
        holders = {d: index[c] for d, c in (debtor_holders or {}).items() if c in index}
        maybe_held, shared_later = _debtor_flags(units, holders)

    outcomes: list[_RuleOutcome] = []
    start = 0
    held_pos = later_pos = 0
    for r, rule in enumerate(rules):
        end = start + rule_units.get(r, 0)
        held_end = bisect.bisect_left(maybe_held, end, lo=held_pos)
        later_end = bisect.bisect_left(shared_later, end, lo=later_pos)
        members, excluded = state.members(rule)
        loads = run.rule(
            rule, members, excluded, start, end, maybe_held[held_pos:held_end], holders
        )
        matched_cases = end - start if run.usize is None else sum(run.usize[start:end])
        outcomes.append(_RuleOutcome(members, excluded, matched_cases, loads))
        if run.udebtor is not None:
            # Later rules keep the debtor with this run's collector unless an eligible holder
            # already has the debtor.
            for u in shared_later[later_pos:later_end]:
                g, debtor = run.unit_coll[u], run.udebtor[u]
                if g >= 0:
                    current = holders.get(debtor)
                    if current is None or state.ineligible[current]:
                        holders[debtor] = g
        start, held_pos, later_pos = end, held_end, later_end

    return _result(frame, case_units, units, run, rules, outcomes)


# --- input checks and rule matching ----------------------------------------------------------


def _check_rules(rules: Sequence[Rule]) -> None:
    if len({r.id for r in rules}) != len(rules):
        raise ValueError("duplicate rule ids")
    if len(rules) >= 1 << 18:  # the packed sort keys hold the rule index in 18 bits
        raise ValueError("too many rules")
    for rule in rules:
        if rule.filter.new_or_reallocated not in ("any", "new", "reallocated"):
            raise ValueError(f"rule {rule.id}: bad new_or_reallocated")
        ids = [cid for cid, _ in rule.targets]
        if len(set(ids)) != len(ids):
            raise ValueError(f"rule {rule.id}: a collector is targeted twice")
        if any(not isinstance(w, int) or w < 1 for _, w in rule.targets):
            raise ValueError(f"rule {rule.id}: weights must be integers ≥ 1")


def _prepare_cases(cases: pl.DataFrame, rules: Sequence[Rule], options: Options) -> pl.DataFrame:
    needed = required_columns(rules, options)
    missing = [col for col in needed if col not in cases.columns]
    if missing:
        raise ValueError(f"cases frame lacks columns {missing}")
    frame = cases.select(pl.col(col).cast(CASE_SCHEMA[col], strict=True) for col in needed)
    mandatory = [col for col in ("id", "balance", "debtor_id") if col in needed]
    if frame.select(pl.any_horizontal(pl.col(mandatory).is_null().any())).item():
        raise ValueError(f"null values in {mandatory}")
    if frame["id"].n_unique() != frame.height:
        raise ValueError("duplicate case ids")
    if (frame["balance"] < 0).any():
        raise ValueError("negative case balance")
    return frame


def _filter_expr(f: RuleFilter) -> pl.Expr:
    conditions = [
        pl.col(col).is_in(sorted(getattr(f, attr)))
        for attr, col in _FILTER_COLUMNS
        if getattr(f, attr)
    ]
    if f.min_balance is not None:
        conditions.append(pl.col("balance") >= f.min_balance)
    if f.max_balance is not None:
        conditions.append(pl.col("balance") <= f.max_balance)
    if f.new_or_reallocated == "new":
        conditions.append(~pl.col("reallocated"))
    elif f.new_or_reallocated == "reallocated":
        conditions.append(pl.col("reallocated"))
    # A null cell (no batch, unknown province…) makes the condition null: it does not match.
    return pl.all_horizontal(conditions) if conditions else pl.lit(True)


def _rule_index_expr(rules: Sequence[Rule]) -> pl.Expr:
    """The index of the first rule matching each case, null if none."""
    expr = pl.lit(None, dtype=pl.Int32)
    for r in range(len(rules) - 1, -1, -1):
        expr = (
            pl.when(_filter_expr(rules[r].filter)).then(pl.lit(r, dtype=pl.Int32)).otherwise(expr)
        )
    return expr


# Polars sorts and groups much faster on one Int64 key than on several, so keys are packed:
# (rule, debtor) as rule << 40 | debtor, and (rule asc, balance desc) as rule << 44 - balance.
_DEBTOR_BITS = 40
_BALANCE_BITS = 44  # 1.7e13 cents; larger balances tie, and the case id still orders them


def _units(matched: pl.DataFrame, keep: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Number the units (one debtor's cases under one rule, or single cases) by rule, then by
    decreasing balance, then by smallest case id.

    Returns the cases (``id``, ``_unit``) and the units in order (``_unit``, ``_rule``,
    ``_bal``, and with ``keep`` ``_size`` and ``debtor_id``).
    """
    rule = pl.col("_rule").cast(pl.Int64)
    if not keep:
        order = rule * (1 << _BALANCE_BITS) - pl.col("balance").clip(
            upper_bound=(1 << _BALANCE_BITS) - 1
        )
        units = matched.sort([order, pl.col("id")]).with_row_index("_unit")
        return units.select("id", "_unit"), units.select(
            "_unit", "_rule", pl.col("balance").alias("_bal")
        )
    debtor = pl.col("debtor_id")
    out_of_range = (debtor < 0) | (debtor >= 1 << _DEBTOR_BITS)
    if matched.select(out_of_range.any()).item():
        debtor = debtor.rank("dense").cast(pl.Int64)
    matched = matched.with_columns(_key=rule * (1 << _DEBTOR_BITS) + debtor)
    units = (
        matched.group_by("_key")
        .agg(
            pl.col("_rule").first(),
            pl.col("debtor_id").first(),
            pl.col("balance").sum().alias("_bal"),
            pl.len().alias("_size"),
            pl.col("id").min().alias("_first"),
            pl.col("id").alias("_ids"),  # exploded below: cheaper than joining the cases back
        )
        .sort(
            [
                rule * (1 << _BALANCE_BITS)
                - pl.col("_bal").clip(upper_bound=(1 << _BALANCE_BITS) - 1),
                pl.col("_first"),
            ]
        )
        .with_row_index("_unit")
    )
    case_units = units.select(pl.col("_ids").alias("id"), "_unit").explode("id")
    return case_units, units.drop("_ids")


def _forbidden_units(matched: pl.DataFrame, case_units: pl.DataFrame) -> dict[int, tuple[int, ...]]:
    """unit → the collector ids that held one of its cases last period."""
    prev = (
        matched.filter(pl.col("previous_assignee_id").is_not_null())
        .select("id", "previous_assignee_id")
        .join(case_units, on="id")
        .group_by("_unit")
        .agg(pl.col("previous_assignee_id").unique().sort())
    )
    lists = map(tuple, prev["previous_assignee_id"].to_list())
    return dict(zip(prev["_unit"].to_list(), lists, strict=True))


def _debtor_flags(units: pl.DataFrame, holders: Mapping[int, int]) -> tuple[list[int], list[int]]:
    """Units whose debtor may already be held (by ``holders`` or an earlier rule), and units
    whose debtor also has cases under a later rule; both sorted."""
    rule = pl.col("_rule")
    flags = units.select(
        maybe=pl.col("debtor_id").is_in(pl.Series(list(holders), dtype=pl.Int64).implode())
        | (rule > rule.min().over("debtor_id")),
        later=rule < rule.max().over("debtor_id"),
    )
    return flags["maybe"].arg_true().to_list(), flags["later"].arg_true().to_list()


# --- collectors ------------------------------------------------------------------------------

_UNLIMITED = 1 << 62  # room of an uncapped collector; far above any real count or amount


class _CollectorState:
    """Every collector's capacity and running load (open + placed in this run), by index in
    id order."""

    def __init__(self, collectors: Sequence[Collector]) -> None:
        ordered = sorted(collectors, key=lambda c: c.id)
        self.ids = [c.id for c in ordered]
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("duplicate collector ids")
        self.index = {cid: g for g, cid in enumerate(self.ids)}
        self.collectors = ordered
        self.ineligible = [bool(c.ineligible_reason) for c in ordered]
        self.cap_cases = [
            _UNLIMITED if c.max_open_cases is None else c.max_open_cases for c in ordered
        ]
        self.cap_balance = [
            _UNLIMITED if c.max_total_balance is None else c.max_total_balance for c in ordered
        ]
        self.cases = [c.open_cases for c in ordered]
        self.balance = [c.open_balance for c in ordered]

    def members(self, rule: Rule) -> tuple[list[tuple[int, int]], list[Excluded]]:
        """The rule's pool as (collector index, weight) in id order, and the excluded targets."""
        members: list[tuple[int, int]] = []
        excluded: list[Excluded] = []
        for cid, weight in sorted(rule.targets):
            g = self.index.get(cid)
            if g is None:
                excluded.append(Excluded(cid, UNKNOWN_COLLECTOR, {}))
            elif self.ineligible[g]:
                reason = self.collectors[g].ineligible_reason
                excluded.append(Excluded(cid, INELIGIBLE, {"reason": reason}))
            elif not rule.required_skills <= self.collectors[g].skills:
                lacking = tuple(sorted(rule.required_skills - self.collectors[g].skills))
                excluded.append(Excluded(cid, MISSING_SKILLS, {"skills": lacking}))
            else:
                members.append((g, weight))
        return members, excluded


# --- the allocation --------------------------------------------------------------------------

_MAX_TRIES = 32  # heap entries tried per unit before the unit moves on to the next pass
_KEY_SCALE_MAX = 1 << 20  # cap on the weights' lcm that keeps the heap keys exact integers
_POLISH_TOLERANCE = 0.001  # stop swapping when balances per weight are within 0.1 %
_POLISH_BUDGET = 50_000  # units scanned by the swaps per rule, plus a fifth of the rule's units
_POLISH_PARTNERS = 4  # partners tried when the heaviest and the lightest cannot swap


@dataclass(slots=True)
class _Run:
    """Per-unit working state; units are numbered by rule, then by decreasing balance."""

    state: _CollectorState
    ubal: list[int]
    usize: list[int] | None  # None: every unit is one case
    udebtor: list[int] | None  # None: debtors are not kept together
    forbidden: dict[int, tuple[int, ...]]  # unit → previous assignees to avoid
    unit_coll: list[int]  # collector index, -1 = unplaced
    unit_code: list[int]  # index in PLACEMENT_REASONS or, when unplaced, UNPLACED_REASONS
    unit_params: dict[int, Mapping[str, Param]]  # params of the unplaced units

    def size(self, u: int) -> int:
        return 1 if self.usize is None else self.usize[u]

    def rule(
        self,
        rule: Rule,
        members: list[tuple[int, int]],
        excluded: list[Excluded],
        start: int,
        end: int,
        maybe_held: list[int],
        holders: Mapping[int, int],
    ) -> list[tuple[int, int]]:
        """Allocate the units ``start`` … ``end`` - 1, which the rule matched, to its pool;
        returns each member's new (cases, balance)."""
        if start == end or not members:
            self._rule_unplaceable(rule, excluded, start, end)
            return [(0, 0)] * len(members)
        pool = _Pool(self, members)
        # (b) A debtor already held by a member stays with it, room permitting.
        forced: set[int] = set()
        udebtor, forbidden, pos, ids = self.udebtor or [], self.forbidden, pool.pos, pool.ids
        code = PLACEMENT_REASONS.index(DEBTOR_HOLDER)
        for u in maybe_held:
            p = pos.get(holders.get(udebtor[u], -1), -1)
            if (
                p >= 0
                and pool.room_cases[p] >= self.size(u)
                and pool.room_bal[p] >= self.ubal[u]
                and ids[p] not in forbidden.get(u, ())
            ):
                pool.place(u, p, code)
                forced.add(u)
        todo: Sequence[int] = range(start, end)
        total = end - start if self.usize is None else sum(self.usize[start:end])
        total_balance = sum(self.ubal[start:end])
        if forced:
            todo = [u for u in todo if u not in forced]
            total -= sum(self.size(u) for u in forced)
            total_balance -= sum(self.ubal[u] for u in forced)
        # (c) Count quotas. A member's room is also capped by its balance room divided by the
        # mean case balance, so that it can meet its quota with a typical mix of cases.
        mean = total_balance / total if total else 0.0
        room = [
            max(0, min(rc, math.floor(rb / mean))) if mean > 0 and rb < _UNLIMITED else rc
            for rc, rb in zip(pool.room_cases, pool.room_bal, strict=True)
        ]
        quota = _quotas(pool.cases, room, pool.weights, total)
        # Balance targets, water-filled the same way over the total open balance of the members
        # that have a quota.
        balance_room = [max(0, rb) if q else 0 for q, rb in zip(quota, pool.room_bal, strict=True)]
        fill = _quotas(pool.load, balance_room, pool.weights, total_balance)
        target = [load + f for load, f in zip(pool.load, fill, strict=True)]
        # (d) The balancing and capacity passes, (e) the swaps among the members that were
        # below the balance level: the others cannot be levelled by swapping.
        leftover = pool.balance_pass(todo, quota, target)
        if leftover:
            pool.capacity_pass(leftover)
        pool.polish(target, [p for p in range(pool.n) if fill[p] > 0], end - start)
        return pool.commit()

    def _rule_unplaceable(self, rule: Rule, excluded: list[Excluded], start: int, end: int) -> None:
        """Every unit of a rule whose pool is empty stays unplaced."""
        if start == end:
            return
        skill_gaps = [e for e in excluded if e.reason == MISSING_SKILLS]
        params: Mapping[str, Param] = {}
        if skill_gaps:
            # Report the skills that no eligible target has; if each one is held by someone but
            # nobody holds them all, report every required skill.
            lacking = set(rule.required_skills)
            for e in skill_gaps:
                lacking &= set(e.params["skills"])  # type: ignore[arg-type]  # tuple[str, ...]
            params = {"skills": tuple(sorted(lacking or rule.required_skills))}
        reason = POOL_LACKS_SKILLS if skill_gaps else NO_ELIGIBLE_COLLECTOR
        for u in range(start, end):
            self.unplaced(u, reason, params)

    def unplaced(self, u: int, reason: str, params: Mapping[str, Param]) -> None:
        self.unit_code[u] = UNPLACED_REASONS.index(reason)
        self.unit_params[u] = params


class _Pool:
    """One rule's members (positions ``p`` in collector id order) while the rule runs.

    Heap entries are integers ``key << shift | p``: comparing them is much cheaper than
    comparing tuples, and ``p`` breaks ties by collector id. A member's key changes only when
    it receives a unit, so its entry is replaced then and never goes stale.
    """

    def __init__(self, run: _Run, members: list[tuple[int, int]]) -> None:
        st = run.state
        self.run = run
        self.n = len(members)
        self.gs = [g for g, _ in members]
        self.pos = {g: p for p, g in enumerate(self.gs)}
        self.ids = [st.ids[g] for g in self.gs]
        self.weights = [w for _, w in members]
        # Totals: open before the run + placed by earlier rules + placed by this one.
        self.cases = [st.cases[g] for g in self.gs]
        self.load = [st.balance[g] for g in self.gs]
        self.room_cases = [max(0, st.cap_cases[g] - st.cases[g]) for g in self.gs]
        # Negative when already over the cap: then not even a zero-balance case fits.
        self.room_bal = [st.cap_balance[g] - st.balance[g] for g in self.gs]
        self.capped = [False] * self.n  # ran out of balance room in the balancing pass
        self.mine: list[list[int]] = [[] for _ in range(self.n)]  # units placed by balancing
        # cases * mult[p] orders members by cases per weight (exactly, unless the lcm is huge).
        scale = min(math.lcm(*self.weights), _KEY_SCALE_MAX)
        self.mult = [max(1, round(scale / w)) for w in self.weights]
        self.shift = max(1, self.n.bit_length())
        self.mask = (1 << self.shift) - 1

    def place(self, u: int, p: int, code: int) -> None:
        s, b = self.run.size(u), self.run.ubal[u]
        self.run.unit_coll[u] = self.gs[p]
        self.run.unit_code[u] = code
        self.cases[p] += s
        self.load[p] += b
        self.room_cases[p] -= s
        self.room_bal[p] -= b
        if code == 0:
            self.mine[p].append(u)

    def balance_pass(self, todo: Sequence[int], quota: list[int], target: list[int]) -> list[int]:
        """Largest unit first, to the member that needs the most balance per remaining quota
        slot to reach its target, among those with quota and balance room that did not hold
        the unit last period. Returns the units left over."""
        run, ids, gs = self.run, self.ids, self.gs
        cases, load, room_cases, room_bal = self.cases, self.load, self.room_cases, self.room_bal
        shift, mask = self.shift, self.mask
        rem = quota[:]
        # key = (load - target) // remaining slots: the neediest member comes first. Python's
        # ints are two's complement, so key << shift | p orders right for negative keys too.
        heap = [
            (((load[p] - target[p]) // rem[p]) << shift) | p for p in range(self.n) if rem[p] > 0
        ]
        heapq.heapify(heap)
        waiting: list[tuple[int, int]] = []  # (-balance room, p): too full for the current unit
        leftover: list[int] = []
        ubal, usize, forbidden, unit_coll = run.ubal, run.usize, run.forbidden, run.unit_coll
        mine = self.mine
        heappush, heappop, heapreplace = heapq.heappush, heapq.heappop, heapq.heapreplace
        for u in todo:
            b = ubal[u]
            s = 1 if usize is None else usize[u]
            # Units come by decreasing balance: a member put aside for lack of balance room
            # comes back once they are small enough.
            while waiting and -waiting[0][0] >= b:
                p = heappop(waiting)[1]
                heappush(heap, (((load[p] - target[p]) // rem[p]) << shift) | p)
            forb = forbidden.get(u) if forbidden else None
            held: list[int] | None = None
            tries = 0
            while heap:
                p = heap[0] & mask
                if room_bal[p] < b:
                    heappop(heap)
                    heappush(waiting, (-room_bal[p], p))
                    self.capped[p] = True
                elif rem[p] < s or (forb is not None and ids[p] in forb):
                    if held is None:
                        held = []
                    held.append(heappop(heap))
                else:
                    unit_coll[u] = gs[p]
                    room_bal[p] -= b
                    mine[p].append(u)
                    total = load[p] = load[p] + b
                    left = rem[p] = rem[p] - s
                    if left > 0:
                        heapreplace(heap, (((total - target[p]) // left) << shift) | p)
                    else:
                        heappop(heap)
                    break
                tries += 1
                if tries >= _MAX_TRIES:
                    leftover.append(u)
                    break
            else:
                leftover.append(u)
            if held is not None:
                for item in held:
                    heappush(heap, item)
        for p in range(self.n):
            cases[p] += quota[p] - rem[p]
            room_cases[p] -= quota[p] - rem[p]
        return leftover

    def capacity_pass(self, leftover: list[int]) -> None:
        """Place the units that fit no quota, ignoring quotas: to the member with the fewest
        cases per weight that has room; or record why no member can take them."""
        run, shift, mask, mult = self.run, self.shift, self.mask, self.mult
        cases, room_cases, room_bal = self.cases, self.room_cases, self.room_bal

        def key(p: int) -> int:
            return ((cases[p] * mult[p]) << shift) | p

        heap: list[int] = []
        waiting: list[tuple[int, int]] = []

        def rebuild(b: int) -> None:
            heap[:] = sorted(key(p) for p in range(self.n) if room_cases[p] and room_bal[p] >= b)
            waiting[:] = sorted(
                (-room_bal[p], p) for p in range(self.n) if room_cases[p] and room_bal[p] < b
            )

        rebuild(run.ubal[leftover[0]])
        # The largest case room, and the largest balance room among the members with room for
        # a unit of size s (None: none has), valid until the next placement.
        room_for_size: dict[int, tuple[int, int | None]] = {}
        for u in leftover:
            s, b = run.size(u), run.ubal[u]
            while waiting and -waiting[0][0] >= b:
                heapq.heappush(heap, key(heapq.heappop(waiting)[1]))
            forb = run.forbidden.get(u)
            held: list[int] = []
            placed = False
            for _ in range(_MAX_TRIES):
                if not heap:
                    break
                p = heap[0] & mask
                if room_bal[p] < b:
                    heapq.heappop(heap)
                    heapq.heappush(waiting, (-room_bal[p], p))
                elif room_cases[p] < s or (forb and self.ids[p] in forb):
                    held.append(heapq.heappop(heap))
                else:
                    self.place(u, p, 0)
                    if room_cases[p]:
                        heapq.heapreplace(heap, key(p))
                    else:
                        heapq.heappop(heap)
                    placed = True
                    break
            for item in held:
                heapq.heappush(heap, item)
            if placed:
                room_for_size.clear()
                continue
            # Nobody near the top of the heap fits: find out why, or a member further down.
            fit = room_for_size.get(s)
            if fit is None:
                with_room = [p for p in range(self.n) if room_cases[p] >= s]
                fit = (max(room_cases), max((room_bal[p] for p in with_room), default=None))
                room_for_size[s] = fit
            if fit[1] is None:
                run.unplaced(u, CASE_CAPACITY_FULL, {"needed": s, "max_room": fit[0]})
            elif fit[1] < b:
                run.unplaced(u, BALANCE_EXCEEDS_CAPACITY, {"max_room": max(0, fit[1])})
            else:
                fitting = [p for p in range(self.n) if room_cases[p] >= s and room_bal[p] >= b]
                allowed = [p for p in fitting if not (forb and self.ids[p] in forb)]
                if allowed:
                    self.place(u, min(allowed, key=key), 0)
                    room_for_size.clear()
                    rebuild(b)
                else:
                    ids = tuple(self.ids[p] for p in fitting)
                    run.unplaced(u, ONLY_PREVIOUS_COLLECTOR, {"collector_ids": ids})

    def polish(self, target: list[int], levelled: list[int], units: int) -> None:
        """(e) Swap units while the members' distances to their balance targets, per weight,
        are more than 0.1 % of the mean balance per weight apart."""
        members = [p for p in levelled if self.mine[p] and not self.capped[p]]
        if len(members) > 1:
            polish = _Polish(self, target, members, _POLISH_BUDGET + units // 5)
            if polish.spread(members) > _POLISH_TOLERANCE:
                polish.run()

    def commit(self) -> list[tuple[int, int]]:
        """Carry the members' load over to the next rules; returns their new (cases, balance)."""
        st = self.run.state
        new = []
        for p, g in enumerate(self.gs):
            new.append((self.cases[p] - st.cases[g], self.load[p] - st.balance[g]))
            st.cases[g] = self.cases[p]
            st.balance[g] = self.load[p]
        return new


def _quotas(base: list[int], room: list[int], weights: list[int], total: int) -> list[int]:
    """New-case quotas that bring (base + quota) / weight to one level within room.

    Exact water-filling over the breakpoints, then the rounding remainder goes to the members
    whose next case keeps them lowest (ties: the lower position, i.e. collector id).
    """
    n = len(base)
    total = min(total, sum(room))
    if total <= 0:
        return [0] * n
    events: list[tuple[float, int]] = []
    for b, r, w in zip(base, room, weights, strict=True):
        if r > 0:
            events.append((b / w, w))
            if r < _UNLIMITED:
                events.append(((b + r) / w, -w))
    events.sort()
    filled = 0.0
    slope = 0
    prev = events[0][0]
    for x, dw in events:
        gain = slope * (x - prev)
        if slope and filled + gain >= total:
            break
        filled += gain
        slope += dw
        prev = x
    level = prev + (total - filled) / slope if slope else prev
    quota = [
        min(r, max(0, math.floor(w * level - b)))
        for b, r, w in zip(base, room, weights, strict=True)
    ]
    short = total - sum(quota)
    while short > 0:
        order = sorted(
            (p for p in range(n) if quota[p] < room[p]),
            key=lambda p: ((base[p] + quota[p] + 1) / weights[p], p),
        )
        for p in order[:short]:
            quota[p] += 1
        short -= min(short, len(order))
    while short < 0:
        order = sorted(
            (p for p in range(n) if quota[p] > 0),
            key=lambda p: (-(base[p] + quota[p]) / weights[p], p),
        )
        for p in order[:-short]:
            quota[p] -= 1
        short += min(-short, len(order))
    return quota


class _Polish:
    """Swaps of same-size units between members to bring them closer to their balance targets.

    ``excess`` is a member's balance minus its target, per weight; with equal starting loads the
    targets are level and this evens out the balances. Each swap moves d > 0 from a member A
    to a member B with more room below its target, d below twice the amount that would level
    the pair, so Σ excess² × weight strictly decreases: no cycles. Counts do not change. Units
    placed with their debtor's holder are never moved.
    """

    def __init__(self, pool: _Pool, target: list[int], members: list[int], budget: int) -> None:
        self.pool = pool
        self.target = target
        self.active = set(members)
        # p → size → (ascending balances, their units), built when p first takes part
        self.units: dict[int, dict[int, tuple[list[int], list[int]]]] = {}
        self.budget = budget

    def excess(self, p: int) -> float:
        return (self.pool.load[p] - self.target[p]) / self.pool.weights[p]

    def spread(self, members: Iterable[int]) -> float:
        """(max − min) of the excess over the mean balance per weight, as a fraction."""
        excess = [self.excess(p) for p in members]
        load, w = self.pool.load, self.pool.weights
        mean = sum(load[p] / w[p] for p in members) / len(excess)
        return (max(excess) - min(excess)) / mean if mean > 0 else 0.0

    def _units(self, p: int) -> dict[int, tuple[list[int], list[int]]]:
        by_size = self.units.get(p)
        if by_size is None:
            run = self.pool.run
            ubal = run.ubal
            # Mostly in decreasing balance already; the sort is stable, hence deterministic.
            ordered = sorted(self.pool.mine[p], key=ubal.__getitem__)
            if run.usize is None:
                by_size = {1: ([ubal[u] for u in ordered], ordered)}
            else:
                by_size = {}
                for u in ordered:
                    bals, units = by_size.setdefault(run.usize[u], ([], []))
                    bals.append(ubal[u])
                    units.append(u)
            self.units[p] = by_size
        return by_size

    def run(self) -> None:
        while len(self.active) > 1 and self.budget > 0:
            order = sorted(self.active, key=lambda p: (self.excess(p), p))
            if self.spread(order) <= _POLISH_TOLERANCE:
                return
            heavy, light = order[-1], order[0]
            pairs = [(heavy, light)]
            pairs += [(heavy, b) for b in order[1 : 1 + _POLISH_PARTNERS]]
            pairs += [(a, light) for a in order[-2 : -2 - _POLISH_PARTNERS : -1]]
            if not any(self._swap(a, b) for a, b in pairs if a != b):
                # Stuck: leave both out and carry on with the others.
                self.active.discard(heavy)
                self.active.discard(light)

    def _swap(self, a: int, b: int) -> bool:
        """Make the best swap from ``a`` to ``b``; False if none improves."""
        pool = self.pool
        load, w = pool.load, pool.weights
        # Moving this much from a to b gives them the same excess.
        level_by = (self.excess(a) - self.excess(b)) * w[a] * w[b] / (w[a] + w[b])
        if level_by <= 0:
            return False
        limit = min(2 * level_by, pool.room_bal[b] + 0.5)  # d must be < limit
        forbidden = pool.run.forbidden
        best: tuple[float, int, int, int] | None = None  # (error, size, index in a, index in b)
        b_by_size = self._units(b)
        for size, (a_bals, a_units) in self._units(a).items():
            b_lists = b_by_size.get(size)
            if not b_lists:
                continue
            b_bals, b_units = b_lists
            if a_bals[-1] <= b_bals[0]:
                continue  # no unit of a is larger than one of b
            self.budget -= len(a_bals)
            for i, a_bal in enumerate(a_bals):
                j = bisect.bisect_left(b_bals, a_bal - level_by)
                for k in (j - 1, j):
                    if not 0 <= k < len(b_bals):
                        continue
                    d = a_bal - b_bals[k]
                    if not 0 < d < limit:
                        continue
                    err = abs(d - level_by)
                    if best is not None and err >= best[0]:
                        continue
                    if pool.ids[b] in forbidden.get(a_units[i], ()):
                        continue
                    if pool.ids[a] in forbidden.get(b_units[k], ()):
                        continue
                    best = (err, size, i, k)
        if best is None:
            return False
        _, size, i, k = best
        a_bals, a_units = self.units[a][size]
        b_bals, b_units = self.units[b][size]
        a_bal, a_unit = a_bals.pop(i), a_units.pop(i)
        b_bal, b_unit = b_bals.pop(k), b_units.pop(k)
        at = bisect.bisect_left(a_bals, b_bal)
        a_bals.insert(at, b_bal)
        a_units.insert(at, b_unit)
        at = bisect.bisect_left(b_bals, a_bal)
        b_bals.insert(at, a_bal)
        b_units.insert(at, a_unit)
        d = a_bal - b_bal
        load[a] -= d
        load[b] += d
        pool.room_bal[a] += d
        pool.room_bal[b] -= d
        unit_coll = pool.run.unit_coll
        unit_coll[a_unit], unit_coll[b_unit] = unit_coll[b_unit], unit_coll[a_unit]
        return True


# --- the result ------------------------------------------------------------------------------


class _RuleOutcome(NamedTuple):
    members: list[tuple[int, int]]  # (collector index, weight)
    excluded: list[Excluded]
    cases: int  # matched the rule
    loads: list[tuple[int, int]]  # per member: new (cases, balance)


def _result(
    frame: pl.DataFrame,
    case_units: pl.DataFrame,
    units: pl.DataFrame,
    run: _Run,
    rules: Sequence[Rule],
    outcomes: list[_RuleOutcome],
) -> Result:
    st = run.state
    unit = case_units["_unit"]
    cases = case_units.select(
        "id",
        "_unit",
        _rule=units["_rule"].gather(unit),
        _g=pl.Series(run.unit_coll, dtype=pl.Int64).gather(unit),
        _code=pl.Series(run.unit_code, dtype=pl.Int64).gather(unit),
    )
    # Sorting integers only, and mapping to ids and reason strings afterwards, is much faster
    # than sorting the finished frame.
    placed = cases.filter(pl.col("_g") >= 0).sort("id")
    placements = pl.DataFrame(
        {
            "case_id": placed["id"],
            "collector_id": pl.Series(st.ids, dtype=pl.Int64).gather(placed["_g"]),
            "rule_id": pl.Series([r.id for r in rules], dtype=pl.Int64).gather(placed["_rule"]),
            "reason": pl.Series(PLACEMENT_REASONS, dtype=pl.String).gather(placed["_code"]),
        }
    )

    no_params: Mapping[str, Param] = {}
    unplaced = [
        Unplaced(case_id, None, NO_RULE_MATCHED, no_params)
        for case_id in frame.filter(pl.col("_rule").is_null())["id"].to_list()
    ]
    for case_id, r, u, code in (
        cases.filter(pl.col("_g") < 0).select("id", "_rule", "_unit", "_code").iter_rows()
    ):
        unplaced.append(Unplaced(case_id, rules[r].id, UNPLACED_REASONS[code], run.unit_params[u]))
    unplaced.sort(key=lambda x: x.case_id)

    new_cases = [0] * len(st.ids)
    new_balance = [0] * len(st.ids)
    pool_stats = []
    for rule, outcome in zip(rules, outcomes, strict=True):
        shares = [
            (g, w, n, b) for (g, w), (n, b) in zip(outcome.members, outcome.loads, strict=True)
        ]
        for g, _, n, b in shares:
            new_cases[g] += n
            new_balance[g] += b
        receivers = [(w, n, b) for _, w, n, b in shares if n > 0]
        balance_spread = count_spread = mean = 0.0
        w_min = 1
        if receivers:
            w_min = min(w for w, _, _ in receivers)
            balances = [b * w_min / w for w, _, b in receivers]
            counts = [n * w_min / w for w, n, _ in receivers]
            mean = sum(balances) / len(balances)
            if mean > 0:
                balance_spread = (max(balances) - min(balances)) / mean * 100
            count_spread = max(counts) - min(counts)
        pool_stats.append(
            PoolStats(
                rule_id=rule.id,
                cases=outcome.cases,
                placed=sum(n for _, n, _ in receivers),
                balance=sum(b for _, _, b in receivers),
                balance_spread_pct=balance_spread,
                count_spread=count_spread,
                members=tuple(
                    PoolMember(
                        st.ids[g],
                        w,
                        n,
                        b,
                        (b * w_min / w - mean) / mean * 100 if n > 0 and mean > 0 else None,
                    )
                    for g, w, n, b in shares
                ),
                excluded=tuple(outcome.excluded),
            )
        )

    return Result(
        placements=placements,
        unplaced=tuple(unplaced),
        pools=tuple(pool_stats),
        collectors=tuple(
            CollectorSummary(cid, new_cases[g], new_balance[g], st.cases[g], st.balance[g])
            for g, cid in enumerate(st.ids)
        ),
        cases=frame.height,
        placed=placements.height,
        balance_spread_pct=max((p.balance_spread_pct for p in pool_stats), default=0.0),
        count_spread=max((p.count_spread for p in pool_stats), default=0.0),
    )

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
      case balance. So the less loaded receive more new cases. With ``keep_debtor_together``
      a member's total also counts the units of later rules whose debtor it already holds
      (b. will give them to it there), so it takes less here, where it can be levelled.
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

The reason codes are listed in ``types``, with their params. The UI translates them
(``recoup.allocation.messages``).
"""

from recoup.allocation.engine.api import allocate, allocate_frame, cases_frame
from recoup.allocation.engine.matching import required_columns
from recoup.allocation.engine.types import (
    BALANCE_EXCEEDS_CAPACITY,
    BALANCED,
    CASE_CAPACITY_FULL,
    CASE_SCHEMA,
    DEBTOR_HOLDER,
    EXCLUSION_REASONS,
    INELIGIBLE,
    MISSING_SKILLS,
    NO_ELIGIBLE_COLLECTOR,
    NO_RULE_MATCHED,
    ONLY_PREVIOUS_COLLECTOR,
    PLACEMENT_REASONS,
    POOL_LACKS_SKILLS,
    UNKNOWN_COLLECTOR,
    UNPLACED_REASONS,
    CaseItem,
    Collector,
    CollectorSummary,
    Excluded,
    Options,
    Param,
    PoolMember,
    PoolStats,
    Result,
    Rule,
    RuleFilter,
    Unplaced,
)

__all__ = [
    "BALANCED",
    "BALANCE_EXCEEDS_CAPACITY",
    "CASE_CAPACITY_FULL",
    "CASE_SCHEMA",
    "DEBTOR_HOLDER",
    "EXCLUSION_REASONS",
    "INELIGIBLE",
    "MISSING_SKILLS",
    "NO_ELIGIBLE_COLLECTOR",
    "NO_RULE_MATCHED",
    "ONLY_PREVIOUS_COLLECTOR",
    "PLACEMENT_REASONS",
    "POOL_LACKS_SKILLS",
    "UNKNOWN_COLLECTOR",
    "UNPLACED_REASONS",
    "CaseItem",
    "Collector",
    "CollectorSummary",
    "Excluded",
    "Options",
    "Param",
    "PoolMember",
    "PoolStats",
    "Result",
    "Rule",
    "RuleFilter",
    "Unplaced",
    "allocate",
    "allocate_frame",
    "cases_frame",
    "required_columns",
]

"""The entry points: ``allocate_frame``, ``allocate`` and ``cases_frame``."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Mapping, Sequence

import polars as pl

from recoup.allocation.engine.balance import _CollectorState, _Run
from recoup.allocation.engine.matching import (
    _check_rules,
    _debtor_flags,
    _forbidden_units,
    _prepare_cases,
    _rule_index_expr,
    _units,
)
from recoup.allocation.engine.result import _result, _RuleOutcome
from recoup.allocation.engine.types import CASE_SCHEMA, CaseItem, Collector, Options, Result, Rule

# --- entry points ----------------------------------------------------------------------------


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
    options: Options = Options(),  # noqa: B008 - a frozen dataclass
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
    options: Options = Options(),  # noqa: B008 - a frozen dataclass
    *,
    debtor_holders: Mapping[int, int] | None = None,
) -> Result:
    """Allocate open cases to collectors by the rules (package docstring: algorithm, guarantees).

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
    pools = [state.members(rule) for rule in rules]
    # The units of each rule are start … end - 1; a unit's rule by bisecting the ends.
    ends = list(itertools.accumulate(rule_units.get(r, 0) for r in range(len(rules))))
    pool_sets = [{g for g, _ in members} for members, _ in pools]
    start = 0
    held_pos = later_pos = 0
    for r, rule in enumerate(rules):
        end = start + rule_units.get(r, 0)
        held_end = bisect.bisect_left(maybe_held, end, lo=held_pos)
        later_end = bisect.bisect_left(shared_later, end, lo=later_pos)
        members, excluded = pools[r]
        pending = (
            _pending(run, holders, maybe_held[held_end:], ends, pool_sets)
            if holders and members and end > start
            else None
        )
        loads = run.rule(
            rule, members, excluded, start, end, maybe_held[held_pos:held_end], holders, pending
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


def _pending(
    run: _Run,
    holders: Mapping[int, int],
    later_held: Sequence[int],
    ends: Sequence[int],
    pool_sets: Sequence[set[int]],
) -> dict[int, tuple[int, int]]:
    """Collector index → the (cases, balance) of the later rules' units whose debtor it
    already holds and whose rule's pool it is in: the debtor-holder step of those rules will
    give them to it (room and previous collectors permitting)."""
    assert run.udebtor is not None
    udebtor, ubal, usize, forbidden, ids = (
        run.udebtor,
        run.ubal,
        run.usize,
        run.forbidden,
        run.state.ids,
    )
    pending: dict[int, tuple[int, int]] = {}
    for u in later_held:
        g = holders.get(udebtor[u])
        if g is None or g not in pool_sets[bisect.bisect_right(ends, u)]:
            continue
        if forbidden and ids[g] in forbidden.get(u, ()):
            continue
        cases, balance = pending.get(g, (0, 0))
        pending[g] = (cases + (1 if usize is None else usize[u]), balance + ubal[u])
    return pending

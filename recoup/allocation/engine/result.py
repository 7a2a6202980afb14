"""The result: placements, unplaced cases, per-pool and per-collector statistics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import polars as pl

from recoup.allocation.engine.balance import _Run
from recoup.allocation.engine.types import (
    NO_RULE_MATCHED,
    PLACEMENT_REASONS,
    UNPLACED_REASONS,
    CollectorSummary,
    Excluded,
    Param,
    PoolMember,
    PoolStats,
    Result,
    Rule,
    Unplaced,
)

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

"""Input checks and rule matching: which columns are needed, which rule takes each case, and
the units (one debtor's cases under one rule, or single cases) that the pools receive."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from recoup.allocation.engine.types import CASE_SCHEMA, Options, Rule, RuleFilter

# --- the columns needed ----------------------------------------------------------------------

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

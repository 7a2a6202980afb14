"""The allocation engine: invariants as property tests, balance quality, and one example per
unplaced reason and per option. Pure: no database.

``check_invariants`` recomputes from the inputs alone what every result must satisfy: each case
placed or unplaced once, the first matching rule, capacities, eligibility, skills, previous
collectors, debtors kept together. The property tests run it on random rule sets. The balance
tests check the headline: ≤ 1 % balance spread and counts within 1 of the mean.
"""

import math
import random
from collections import defaultdict
from dataclasses import replace

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recoup.allocation.engine import (
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
    Options,
    Rule,
    RuleFilter,
    allocate,
    allocate_frame,
    cases_frame,
    required_columns,
)

SKILLS = ("dialect_cantonese", "legal", "high_balance")
STAGES = ("M1", "M2", "M3", "M4", "M5", "M6+")
YUAN = 100  # cents

# The machine may be busy: no deadline; examples kept modest.
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def collector(cid, **kw):
    fields = {
        "id": cid,
        "team_id": None,
        "skills": frozenset(),
        "max_open_cases": None,
        "max_total_balance": None,
        "open_cases": 0,
        "open_balance": 0,
    }
    return Collector(**(fields | kw))


def case(cid, balance=10_000 * YUAN, **kw):
    fields = {
        "id": cid,
        "balance": balance,
        "debtor_id": cid,
        "client_id": 1,
        "batch_id": None,
        "stage": "M1",
        "product": "card",
        "province": "广东",
        "city": "深圳",
        "risk_grade": "A",
        "reallocated": False,
        "previous_assignee_id": None,
    }
    return CaseItem(**(fields | kw))


def rule(rid, targets, *, skills=(), **filter_kw):
    """A rule; ``targets`` are collector ids (weight 1) or (id, weight) pairs."""
    pairs = tuple(t if isinstance(t, tuple) else (t, 1) for t in targets)
    return Rule(rid, f"rule {rid}", RuleFilter(**filter_kw), pairs, frozenset(skills))


def unplaced_by_case(result):
    return {u.case_id: u for u in result.unplaced}


# --- the reference checks ------------------------------------------------------------------


def matches(f, c):
    """The rule filter, case by case: the reference for the polars version."""
    for values, value in (
        (f.client_ids, c.client_id),
        (f.batch_ids, c.batch_id),
        (f.stages, c.stage),
        (f.products, c.product),
        (f.provinces, c.province),
        (f.cities, c.city),
        (f.risk_grades, c.risk_grade),
    ):
        if values and value not in values:
            return False
    if f.min_balance is not None and c.balance < f.min_balance:
        return False
    if f.max_balance is not None and c.balance > f.max_balance:
        return False
    if f.new_or_reallocated == "new" and c.reallocated:
        return False
    return not (f.new_or_reallocated == "reallocated" and not c.reallocated)


def check_invariants(result, cases, collectors, rules, options, holders=None):
    by_id = {c.id: c for c in collectors}
    placed = result.placement_map()
    unplaced = unplaced_by_case(result)

    # Every case exactly once, placed or unplaced.
    assert result.placements["case_id"].n_unique() == result.placements.height
    assert len(unplaced) == len(result.unplaced)
    assert set(placed).isdisjoint(unplaced)
    assert set(placed) | set(unplaced) == {c.id for c in cases}
    assert result.cases == len(cases)
    assert result.placed == len(placed)

    rule_of_case = {}
    for c in cases:
        first = next((r for r in rules if matches(r.filter, c)), None)
        rule_of_case[c.id] = first
        if first is None:
            assert c.id in unplaced
            assert unplaced[c.id].reason == NO_RULE_MATCHED
            assert unplaced[c.id].rule_id is None
        elif c.id in unplaced:
            assert unplaced[c.id].rule_id == first.id
            assert unplaced[c.id].reason in UNPLACED_REASONS
            assert unplaced[c.id].reason != NO_RULE_MATCHED

    new_cases = defaultdict(int)
    new_balance = defaultdict(int)
    case_by_id = {c.id: c for c in cases}
    for row in result.placements.iter_rows(named=True):
        case_item = case_by_id[row["case_id"]]
        r = rule_of_case[case_item.id]
        assert r is not None
        assert row["rule_id"] == r.id
        assert row["reason"] in PLACEMENT_REASONS
        cid = row["collector_id"]
        # Only the rule's targets, eligible, with the required skills.
        assert cid in {t for t, _ in r.targets}
        assert by_id[cid].ineligible_reason == ""
        assert r.required_skills <= by_id[cid].skills
        if options.avoid_previous_collector:
            assert case_item.previous_assignee_id != cid
        new_cases[cid] += 1
        new_balance[cid] += case_item.balance

    # Capacities: a collector already over capacity receives nothing.
    for c in collectors:
        if c.max_open_cases is not None and new_cases[c.id]:
            assert c.open_cases + new_cases[c.id] <= c.max_open_cases
        if c.max_total_balance is not None and new_cases[c.id]:
            assert c.open_balance + new_balance[c.id] <= c.max_total_balance
    summary = {s.collector_id: s for s in result.collectors}
    for c in collectors:
        assert summary[c.id].cases == new_cases[c.id]
        assert summary[c.id].balance == new_balance[c.id]
        assert summary[c.id].open_cases == c.open_cases + new_cases[c.id]
        assert summary[c.id].open_balance == c.open_balance + new_balance[c.id]

    if options.keep_debtor_together:
        groups = defaultdict(list)
        for c in cases:
            if rule_of_case[c.id] is not None:
                groups[(rule_of_case[c.id].id, c.debtor_id)].append(c)
        for (rid, debtor), group in groups.items():
            targets = {placed.get(c.id) for c in group}
            # One collector per debtor and rule, or all of the group unplaced.
            assert len(targets) == 1, (rid, debtor, targets)
            holder = (holders or {}).get(debtor)
            got = targets.pop()
            if holder is None or got == holder or holder not in by_id:
                continue
            # The existing holder was passed over: it must have been unable to take the group.
            r = next(r for r in rules if r.id == rid)
            h = by_id[holder]
            size = len(group)
            in_pool = (
                holder in {t for t, _ in r.targets}
                and h.ineligible_reason == ""
                and r.required_skills <= h.skills
            )
            previous = options.avoid_previous_collector and any(
                c.previous_assignee_id == holder for c in group
            )
            # Case counts only grow during a run, so room left at the end was there before.
            room_now = h.max_open_cases is None or (
                h.open_cases + new_cases[holder] + size <= h.max_open_cases
            )
            if in_pool and not previous and h.max_total_balance is None and room_now:
                # Only an earlier rule's case for the same debtor may have moved the holder.
                earlier = [
                    c
                    for c in cases
                    if c.debtor_id == debtor
                    and rule_of_case[c.id] is not None
                    and rules.index(rule_of_case[c.id]) < rules.index(r)
                ]
                assert earlier, (rid, debtor, holder, got)

    for pool in result.pools:
        for e in pool.excluded:
            assert e.reason in EXCLUSION_REASONS


def same_result(a, b):
    assert a.placements.equals(b.placements)
    assert a.unplaced == b.unplaced
    assert a.pools == b.pools
    assert a.collectors == b.collectors


# --- random scenarios ----------------------------------------------------------------------


@st.composite
def scenarios(draw):
    collectors = []
    for cid in draw(st.lists(st.integers(1, 40), min_size=1, max_size=8, unique=True)):
        open_cases = draw(st.integers(0, 6))
        open_balance = draw(st.integers(0, 300_000)) * YUAN // 10
        collectors.append(
            collector(
                cid,
                skills=frozenset(draw(st.sets(st.sampled_from(SKILLS)))),
                max_open_cases=draw(st.none() | st.integers(0, 25)),
                max_total_balance=draw(st.none() | st.integers(0, 600_000).map(lambda y: y * YUAN)),
                open_cases=open_cases,
                open_balance=open_balance,
                ineligible_reason=draw(st.sampled_from(["", "", "", "departed", "nda_lapsed"])),
            )
        )
    ids = [c.id for c in collectors]
    rules = []
    for rid in range(1, draw(st.integers(0, 4)) + 1):
        targets = draw(st.lists(st.sampled_from([*ids, 99]), max_size=8, unique=True))
        rules.append(
            Rule(
                id=rid * 10,
                name=f"r{rid}",
                filter=RuleFilter(
                    client_ids=frozenset(draw(st.sets(st.integers(1, 3), max_size=2))),
                    batch_ids=frozenset(draw(st.sets(st.integers(1, 2), max_size=1))),
                    stages=frozenset(draw(st.sets(st.sampled_from(STAGES), max_size=3))),
                    products=frozenset(
                        draw(st.sets(st.sampled_from(["card", "loan"]), max_size=1))
                    ),
                    provinces=frozenset(
                        draw(st.sets(st.sampled_from(["广东", "浙江"]), max_size=1))
                    ),
                    min_balance=draw(st.none() | st.integers(0, 20_000).map(lambda y: y * YUAN)),
                    max_balance=draw(
                        st.none() | st.integers(5_000, 200_000).map(lambda y: y * YUAN)
                    ),
                    new_or_reallocated=draw(st.sampled_from(["any", "any", "new", "reallocated"])),
                ),
                targets=tuple((t, draw(st.integers(1, 3))) for t in targets),
                required_skills=frozenset(draw(st.sets(st.sampled_from(SKILLS), max_size=1))),
            )
        )
    cases = []
    for i in range(draw(st.integers(0, 60))):
        reallocated = draw(st.booleans())
        cases.append(
            case(
                1000 + i * 7,
                balance=draw(st.integers(0, 150_000)) * YUAN,
                debtor_id=draw(st.integers(1, 15)),
                client_id=draw(st.integers(1, 3)),
                batch_id=draw(st.none() | st.integers(1, 2)),
                stage=draw(st.sampled_from(STAGES)),
                product=draw(st.sampled_from(["card", "loan"])),
                province=draw(st.sampled_from(["广东", "浙江"])),
                reallocated=reallocated,
                previous_assignee_id=draw(st.sampled_from(ids)) if reallocated else None,
            )
        )
    options = Options(
        keep_debtor_together=draw(st.booleans()), avoid_previous_collector=draw(st.booleans())
    )
    holders = draw(st.dictionaries(st.integers(1, 15), st.sampled_from([*ids, 77]), max_size=6))
    return cases, collectors, rules, options, holders


@PROPERTY
@given(scenarios(), st.randoms(use_true_random=False))
def test_invariants_hold_and_the_result_does_not_depend_on_input_order(scenario, rnd):
    cases, collectors, rules, options, holders = scenario
    result = allocate(cases, collectors, rules, options, debtor_holders=holders)
    check_invariants(result, cases, collectors, rules, options, holders)

    shuffled_cases, shuffled_collectors = cases[:], collectors[:]
    rnd.shuffle(shuffled_cases)
    rnd.shuffle(shuffled_collectors)
    again = allocate(shuffled_cases, shuffled_collectors, rules, options, debtor_holders=holders)
    same_result(result, again)


# --- balance quality -----------------------------------------------------------------------


def lognormal_balances(rnd, n, median_yuan, sigma):
    """Realistic skewed balances: lognormal, clipped to 500–200,000 yuan, in cents."""
    return [
        min(
            200_000 * YUAN,
            max(500 * YUAN, round(rnd.lognormvariate(math.log(median_yuan), sigma) * YUAN)),
        )
        for _ in range(n)
    ]


def spread_pct(values):
    mean = sum(values) / len(values)
    return (max(values) - min(values)) / mean * 100


@settings(max_examples=100, deadline=None)
@given(
    n_collectors=st.integers(2, 20),
    per_collector=st.integers(50, 120),
    median_yuan=st.integers(3_000, 20_000),
    sigma=st.floats(0.8, 1.2),
    seed=st.integers(0, 2**32 - 1),
)
def test_equal_weights_balance_within_one_percent_and_counts_within_one(
    n_collectors, per_collector, median_yuan, sigma, seed
):
    rnd = random.Random(seed)
    n = n_collectors * per_collector + rnd.randrange(n_collectors)  # not always divisible
    balances = lognormal_balances(rnd, n, median_yuan, sigma)
    cases = [case(i + 1, b) for i, b in enumerate(balances)]
    collectors = [collector(c) for c in range(1, n_collectors + 1)]
    rules = [rule(1, range(1, n_collectors + 1))]
    result = allocate(cases, collectors, rules, Options(keep_debtor_together=False))

    assert result.placed == n
    loads = list(result.collectors)
    mean = n / n_collectors
    assert all(abs(s.cases - mean) <= 1 for s in loads)
    assert spread_pct([s.balance for s in loads]) <= 1.0
    assert result.balance_spread_pct <= 1.0
    assert result.count_spread <= 1


@settings(max_examples=100, deadline=None)
@given(
    n_collectors=st.integers(2, 15),
    per_collector=st.integers(60, 120),
    median_yuan=st.integers(3_000, 20_000),
    sigma=st.floats(0.8, 1.2),
    seed=st.integers(0, 2**32 - 1),
)
def test_debtor_groups_count_as_units_for_the_count_bound(
    n_collectors, per_collector, median_yuan, sigma, seed
):
    rnd = random.Random(seed)
    n = n_collectors * per_collector
    balances = lognormal_balances(rnd, n, median_yuan, sigma)
    # Most debtors owe on one case, some on two or three.
    debtors = []
    debtor = 0
    while len(debtors) < n:
        debtor += 1
        debtors += [debtor] * rnd.choices([1, 2, 3], weights=[80, 15, 5])[0]
    debtors = debtors[:n]
    cases = [
        case(i + 1, b, debtor_id=d) for i, (b, d) in enumerate(zip(balances, debtors, strict=True))
    ]
    collectors = [collector(c) for c in range(1, n_collectors + 1)]
    rules = [rule(1, range(1, n_collectors + 1))]
    options = Options(keep_debtor_together=True)
    result = allocate(cases, collectors, rules, options)

    check_invariants(result, cases, collectors, rules, options)
    assert result.placed == n
    largest_group = max(debtors.count(d) for d in set(debtors))
    mean = n / n_collectors
    assert all(abs(s.cases - mean) <= largest_group for s in result.collectors)
    assert spread_pct([s.balance for s in result.collectors]) <= 1.0


@settings(max_examples=50, deadline=None)
@given(
    weights=st.lists(st.integers(1, 3), min_size=2, max_size=8),
    seed=st.integers(0, 2**32 - 1),
)
def test_weights_give_proportional_counts_and_balances(weights, seed):
    rnd = random.Random(seed)
    n = 80 * sum(weights)
    cases = [case(i + 1, b) for i, b in enumerate(lognormal_balances(rnd, n, 8_000, 1.0))]
    collectors = [collector(c) for c in range(1, len(weights) + 1)]
    rules = [rule(1, [(c, w) for c, w in zip(range(1, len(weights) + 1), weights, strict=True)])]
    result = allocate(cases, collectors, rules, Options(keep_debtor_together=False))

    for s, w in zip(result.collectors, weights, strict=True):
        assert abs(s.cases - 80 * w) <= 1
    assert (
        spread_pct([s.balance / w for s, w in zip(result.collectors, weights, strict=True)]) <= 1.0
    )
    assert result.balance_spread_pct <= 1.0


def test_two_hundred_thousand_cases_for_two_hundred_collectors():
    """The benchmark's shape at a fifth of its size: one pool, columnar input."""
    rnd = random.Random(2026)
    n, n_collectors = 200_000, 200
    balances = lognormal_balances(rnd, n, 8_000, 1.0)
    frame = pl.DataFrame(
        {"id": range(1, n + 1), "balance": balances, "debtor_id": range(1, n + 1)},
        schema={"id": pl.Int64, "balance": pl.Int64, "debtor_id": pl.Int64},
    )
    collectors = [collector(c) for c in range(1, n_collectors + 1)]
    rules = [rule(1, range(1, n_collectors + 1))]
    result = allocate_frame(frame, collectors, rules, Options(keep_debtor_together=True))

    assert result.placed == n
    assert not result.unplaced
    assert {s.cases for s in result.collectors} == {1000}
    assert result.balance_spread_pct <= 1.0
    assert spread_pct([s.balance for s in result.collectors]) <= 1.0


# --- options -------------------------------------------------------------------------------


def test_keep_debtor_together_puts_a_debtors_cases_on_one_collector():
    cases = [case(i, 10_000 * YUAN, debtor_id=1 + i % 5) for i in range(1, 21)]
    collectors = [collector(1), collector(2), collector(3)]
    result = allocate(cases, collectors, [rule(1, [1, 2, 3])], Options(keep_debtor_together=True))

    placed = result.placement_map()
    for debtor in range(1, 6):
        assert len({placed[c.id] for c in cases if c.debtor_id == debtor}) == 1


def test_without_keep_debtor_together_a_debtors_cases_may_be_split():
    cases = [case(i, 10_000 * YUAN, debtor_id=1) for i in range(1, 5)]
    result = allocate(
        cases, [collector(1), collector(2)], [rule(1, [1, 2])], Options(keep_debtor_together=False)
    )

    assert sorted(s.cases for s in result.collectors) == [2, 2]


def test_new_cases_go_to_the_collector_already_holding_the_debtor():
    cases = [case(1, 500 * YUAN, debtor_id=7), case(2, 200_000 * YUAN, debtor_id=7), case(3)]
    collectors = [collector(1), collector(2, open_cases=50)]
    result = allocate(cases, collectors, [rule(1, [1, 2])], Options(), debtor_holders={7: 2})

    placed = result.placement_map()
    assert placed[1] == placed[2] == 2
    reasons = dict(result.placements.select("case_id", "reason").iter_rows())
    assert reasons[1] == reasons[2] == DEBTOR_HOLDER
    assert reasons[3] == BALANCED


@pytest.mark.parametrize(
    ("holder", "why"),
    [
        (collector(2, open_cases=5, max_open_cases=5), "at capacity"),
        (collector(2, ineligible_reason="departed"), "ineligible"),
        (collector(2, skills=frozenset()), "lacks the rule's skill"),
    ],
)
def test_the_holder_is_passed_over_when_it_cannot_take_the_debtor(holder, why):
    cases = [case(1, debtor_id=7), case(2, debtor_id=7)]
    collectors = [collector(1, skills=frozenset({"legal"})), holder]
    rules = [rule(1, [1, 2], skills={"legal"} if why == "lacks the rule's skill" else ())]
    result = allocate(cases, collectors, rules, Options(), debtor_holders={7: 2})

    assert result.placement_map() == {1: 1, 2: 1}, why


def test_the_holder_outside_the_rules_pool_does_not_get_the_case():
    result = allocate(
        [case(1, debtor_id=7)],
        [collector(1), collector(2)],
        [rule(1, [1])],
        Options(),
        debtor_holders={7: 2},
    )

    assert result.placement_map() == {1: 1}


def test_a_debtor_stays_with_the_collector_chosen_by_an_earlier_rule():
    cases = [
        case(1, 90_000 * YUAN, debtor_id=7, product="card"),
        case(2, 1_000 * YUAN, debtor_id=7, product="loan"),
        *[case(i, 1_000 * YUAN, product="loan") for i in range(3, 9)],
    ]
    collectors = [collector(1), collector(2), collector(3)]
    rules = [rule(1, [3], products={"card"}), rule(2, [1, 2, 3], products={"loan"})]
    result = allocate(cases, collectors, rules, Options())

    placed = result.placement_map()
    assert placed[1] == placed[2] == 3
    assert result.placements.filter(pl.col("case_id") == 2)["reason"].item() == DEBTOR_HOLDER


def test_avoid_previous_collector_never_gives_a_case_back():
    cases = [case(i, reallocated=True, previous_assignee_id=1) for i in range(1, 11)]
    collectors = [collector(1), collector(2)]
    avoid = allocate(cases, collectors, [rule(1, [1, 2])], Options(avoid_previous_collector=True))
    allow = allocate(cases, collectors, [rule(1, [1, 2])], Options(avoid_previous_collector=False))

    assert set(avoid.placement_map().values()) == {2}
    assert set(allow.placement_map().values()) == {1, 2}


def test_weight_two_gets_about_twice_the_cases_and_balance():
    rnd = random.Random(5)
    cases = [case(i + 1, b) for i, b in enumerate(lognormal_balances(rnd, 3000, 8_000, 1.0))]
    result = allocate(
        cases,
        [collector(1), collector(2)],
        [rule(1, [(1, 1), (2, 2)])],
        Options(keep_debtor_together=False),
    )

    one, two = result.collectors
    assert (one.cases, two.cases) == (1000, 2000)
    assert two.balance / one.balance == pytest.approx(2, rel=0.01)
    pool = result.pools[0]
    assert pool.count_spread == 0
    assert [m.weight for m in pool.members] == [1, 2]


def test_the_less_loaded_collector_receives_more_new_cases():
    cases = [case(i) for i in range(1, 101)]
    collectors = [collector(1, open_cases=40), collector(2)]
    result = allocate(cases, collectors, [rule(1, [1, 2])], Options(keep_debtor_together=False))

    one, two = result.collectors
    assert (one.cases, two.cases) == (30, 70)
    assert one.open_cases == two.open_cases == 70


def test_a_collectors_load_carries_over_to_the_next_rule():
    cases = [case(i, stage="M1") for i in range(1, 41)] + [
        case(i, stage="M2") for i in range(41, 81)
    ]
    rules = [rule(1, [1], stages={"M1"}), rule(2, [1, 2], stages={"M2"})]
    result = allocate(
        cases, [collector(1), collector(2)], rules, Options(keep_debtor_together=False)
    )

    one, two = result.collectors
    assert (one.cases, two.cases) == (40, 40)  # rule 2 gave all of its cases to collector 2


def test_the_first_matching_rule_takes_the_case():
    cases = [case(1, stage="M3"), case(2, stage="M1")]
    rules = [rule(1, [1], stages={"M3"}), rule(2, [2])]
    result = allocate(cases, [collector(1), collector(2)], rules, Options())

    assert result.placement_map() == {1: 1, 2: 2}
    assert dict(result.placements.select("case_id", "rule_id").iter_rows()) == {1: 1, 2: 2}


@pytest.mark.parametrize(
    ("criteria", "matching"),
    [
        ({"client_ids": frozenset({2})}, {"client_id": 2}),
        ({"batch_ids": frozenset({5})}, {"batch_id": 5}),
        ({"stages": frozenset({"M6+"})}, {"stage": "M6+"}),
        ({"products": frozenset({"loan"})}, {"product": "loan"}),
        ({"provinces": frozenset({"浙江"})}, {"province": "浙江"}),
        ({"cities": frozenset({"杭州"})}, {"city": "杭州"}),
        ({"risk_grades": frozenset({"C"})}, {"risk_grade": "C"}),
        ({"min_balance": 20_000 * YUAN}, {"balance": 20_000 * YUAN}),
        ({"max_balance": 5_000 * YUAN}, {"balance": 5_000 * YUAN}),
        ({"new_or_reallocated": "reallocated"}, {"reallocated": True}),
        ({"new_or_reallocated": "new"}, {}),
    ],
)
def test_each_filter_criterion(criteria, matching):
    other = case(1) if criteria.get("new_or_reallocated") != "new" else case(1, reallocated=True)
    cases = [other, case(2, **matching)]
    result = allocate(cases, [collector(1)], [rule(1, [1], **criteria)], Options())

    assert result.placement_map() == {2: 1}
    assert unplaced_by_case(result)[1].reason == NO_RULE_MATCHED


def test_very_large_debtor_ids_and_balances_still_group_and_order():
    # Beyond the packed sort keys' range: debtor ids are ranked first, balances tie and the
    # case id orders them.
    big = 1 << 50
    cases = [
        case(1, 1 << 45, debtor_id=big),
        case(2, 1 << 46, debtor_id=big),
        case(3, 10, debtor_id=-5),
        case(4, 20, debtor_id=-5),
    ]
    result = allocate(cases, [collector(1), collector(2)], [rule(1, [1, 2])], Options())

    placed = result.placement_map()
    assert placed[1] == placed[2] != placed[3] == placed[4]
    check_invariants(result, cases, [collector(1), collector(2)], [rule(1, [1, 2])], Options())


# --- unplaced reasons and exclusions -------------------------------------------------------


def test_no_rule_matched():
    result = allocate(
        [case(1, stage="M2")], [collector(1)], [rule(1, [1], stages={"M1"})], Options()
    )

    assert result.unplaced[0] == unplaced_by_case(result)[1]
    assert (result.unplaced[0].reason, result.unplaced[0].rule_id) == (NO_RULE_MATCHED, None)


def test_no_eligible_collector_and_the_excluded_targets_say_why():
    collectors = [
        collector(1, ineligible_reason="departed"),
        collector(2, ineligible_reason="nda_lapsed"),
    ]
    result = allocate([case(1)], collectors, [rule(5, [1, 2, 3])], Options())

    u = result.unplaced[0]
    assert (u.case_id, u.rule_id, u.reason, dict(u.params)) == (1, 5, NO_ELIGIBLE_COLLECTOR, {})
    assert [(e.collector_id, e.reason, dict(e.params)) for e in result.pools[0].excluded] == [
        (1, INELIGIBLE, {"reason": "departed"}),
        (2, INELIGIBLE, {"reason": "nda_lapsed"}),
        (3, UNKNOWN_COLLECTOR, {}),
    ]


def test_a_rule_without_targets_has_no_eligible_collector():
    result = allocate([case(1)], [collector(1)], [rule(1, [])], Options())

    assert result.unplaced[0].reason == NO_ELIGIBLE_COLLECTOR


def test_pool_lacks_skills_names_the_missing_skill():
    collectors = [
        collector(1, skills=frozenset({"legal"})),
        collector(2, skills=frozenset({"legal", "high_balance"})),
    ]
    rules = [rule(1, [1, 2], skills={"legal", "dialect_cantonese"})]
    result = allocate([case(1)], collectors, rules, Options())

    u = result.unplaced[0]
    assert (u.reason, dict(u.params)) == (POOL_LACKS_SKILLS, {"skills": ("dialect_cantonese",)})
    assert {(e.collector_id, e.reason) for e in result.pools[0].excluded} == {
        (1, MISSING_SKILLS),
        (2, MISSING_SKILLS),
    }


def test_pool_lacks_skills_when_nobody_has_them_all():
    collectors = [
        collector(1, skills=frozenset({"legal"})),
        collector(2, skills=frozenset({"high_balance"})),
    ]
    result = allocate(
        [case(1)], collectors, [rule(1, [1, 2], skills={"legal", "high_balance"})], Options()
    )

    assert dict(result.unplaced[0].params) == {"skills": ("high_balance", "legal")}


def test_members_lacking_a_skill_are_left_out_of_the_pool():
    collectors = [collector(1, skills=frozenset({"legal"})), collector(2)]
    result = allocate(
        [case(i) for i in range(1, 5)], collectors, [rule(1, [1, 2], skills={"legal"})], Options()
    )

    assert set(result.placement_map().values()) == {1}
    assert [(e.collector_id, dict(e.params)) for e in result.pools[0].excluded] == [
        (2, {"skills": ("legal",)})
    ]


def test_every_collector_at_capacity():
    collectors = [collector(1, open_cases=3, max_open_cases=3), collector(2, max_open_cases=1)]
    result = allocate(
        [case(1, 9_000 * YUAN), case(2, 1_000 * YUAN)],
        collectors,
        [rule(1, [1, 2])],
        Options(keep_debtor_together=False),
    )

    assert result.placement_map() == {1: 2}  # the larger balance is placed first
    u = unplaced_by_case(result)[2]
    assert (u.reason, dict(u.params)) == (CASE_CAPACITY_FULL, {"needed": 1, "max_room": 0})


def test_a_debtor_group_larger_than_any_room():
    cases = [case(i, debtor_id=7) for i in range(1, 4)]
    result = allocate(cases, [collector(1, max_open_cases=2)], [rule(1, [1])], Options())

    assert not result.placed
    assert {(u.reason, u.params["needed"], u.params["max_room"]) for u in result.unplaced} == {
        (CASE_CAPACITY_FULL, 3, 2)
    }


def test_balance_exceeds_every_collectors_remaining_balance_room():
    collectors = [
        collector(1, max_total_balance=50_000 * YUAN, open_balance=20_000 * YUAN),
        collector(2, max_total_balance=10_000 * YUAN),
    ]
    cases = [case(1, 40_000 * YUAN), case(2, 8_000 * YUAN)]
    result = allocate(cases, collectors, [rule(1, [1, 2])], Options(keep_debtor_together=False))

    # The smaller case went to collector 1, whose room is then the largest: 30,000 - 8,000.
    assert result.placement_map() == {2: 1}
    u = unplaced_by_case(result)[1]
    assert (u.reason, dict(u.params)) == (BALANCE_EXCEEDS_CAPACITY, {"max_room": 22_000 * YUAN})


def test_only_the_previous_collector_is_available():
    cases = [case(1, reallocated=True, previous_assignee_id=1)]
    collectors = [collector(1), collector(2, max_open_cases=0)]
    result = allocate(cases, collectors, [rule(1, [1, 2])], Options(avoid_previous_collector=True))

    u = result.unplaced[0]
    assert (u.reason, dict(u.params)) == (ONLY_PREVIOUS_COLLECTOR, {"collector_ids": (1,)})


def test_ineligible_collectors_never_receive_cases():
    collectors = [collector(1), collector(2, ineligible_reason="training_lapsed")]
    result = allocate([case(i) for i in range(1, 11)], collectors, [rule(1, [1, 2])], Options())

    assert set(result.placement_map().values()) == {1}


# --- statistics ----------------------------------------------------------------------------


def test_pool_statistics():
    cases = [case(1, 300 * YUAN), case(2, 100 * YUAN), case(3, 100 * YUAN), case(4, 100 * YUAN)]
    collectors = [collector(1), collector(2), collector(3, ineligible_reason="departed")]
    result = allocate(cases, collectors, [rule(1, [1, 2, 3])], Options(keep_debtor_together=False))

    pool = result.pools[0]
    assert (pool.rule_id, pool.cases, pool.placed, pool.balance) == (1, 4, 4, 600 * YUAN)
    # 300 + 100 against 100 + 100: the best split with two cases each.
    assert [(m.collector_id, m.cases, m.balance) for m in pool.members] == [
        (1, 2, 400 * YUAN),
        (2, 2, 200 * YUAN),
    ]
    assert pool.balance_spread_pct == pytest.approx(200 / 300 * 100)
    assert [m.deviation_pct for m in pool.members] == [
        pytest.approx(100 / 3),
        pytest.approx(-100 / 3),
    ]
    assert pool.count_spread == 0
    assert result.balance_spread_pct == pool.balance_spread_pct


def test_empty_inputs():
    result = allocate([], [], [], Options())

    assert (result.cases, result.placed, result.unplaced, result.pools) == (0, 0, (), ())
    assert result.placements.columns == ["case_id", "collector_id", "rule_id", "reason"]
    assert result.balance_spread_pct == result.count_spread == 0


# --- the columnar input --------------------------------------------------------------------


def test_only_the_required_columns_are_needed():
    rules = [rule(1, [1], stages={"M1"})]
    assert required_columns(rules, Options(keep_debtor_together=False)) == [
        "id",
        "balance",
        "stage",
    ]
    assert required_columns(rules, Options(avoid_previous_collector=True)) == [
        "id",
        "balance",
        "debtor_id",
        "stage",
        "previous_assignee_id",
    ]
    frame = pl.DataFrame({"id": [1, 2], "balance": [100, 200], "stage": ["M1", "M2"]})
    result = allocate_frame(frame, [collector(1)], rules, Options(keep_debtor_together=False))
    assert result.placement_map() == {1: 1}


def test_the_frame_and_the_dataclass_inputs_agree():
    rnd = random.Random(3)
    cases = [
        case(i, rnd.randrange(100_000), debtor_id=rnd.randrange(20), stage=rnd.choice(STAGES))
        for i in range(200)
    ]
    frame = cases_frame(cases)
    assert frame.schema == pl.Schema(CASE_SCHEMA)
    collectors = [collector(c) for c in range(1, 6)]
    rules = [rule(1, [1, 2], stages={"M1", "M2"}), rule(2, [3, 4, 5])]
    same_result(
        allocate(cases, collectors, rules, Options()),
        allocate_frame(frame, collectors, rules, Options()),
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c, r: ([*c, c[0]], r), "duplicate case ids"),
        (lambda c, r: ([replace(c[0], balance=-1)], r), "negative"),
        (lambda c, r: (c, [rule(1, [(1, 0)])]), "weights"),
        (lambda c, r: (c, [rule(1, [1, 1])]), "targeted twice"),
        (lambda c, r: (c, [rule(1, [1]), rule(1, [1])]), "duplicate rule ids"),
    ],
)
def test_inconsistent_input_is_refused(change, message):
    cases, rules = change([case(1)], [rule(1, [1])])
    with pytest.raises(ValueError, match=message):
        allocate(cases, [collector(1)], rules, Options())


def test_missing_columns_and_duplicate_collectors_are_refused():
    with pytest.raises(ValueError, match="lacks columns"):
        allocate_frame(pl.DataFrame({"id": [1]}), [collector(1)], [rule(1, [1])], Options())
    with pytest.raises(ValueError, match="duplicate collector ids"):
        allocate([case(1)], [collector(1), collector(1)], [rule(1, [1])], Options())


def test_result_reason_codes_are_distinct():
    codes = [*PLACEMENT_REASONS, *UNPLACED_REASONS, *EXCLUSION_REASONS]
    assert len(codes) == len(set(codes))


def test_an_earlier_rule_counts_the_cases_a_later_rule_will_give_the_debtors_holder():
    # Collector 1 holds debtor 7, whose large case falls under the last rule and goes to it
    # whatever that rule's quotas say. The cantonese rule must count it as load already and
    # give collector 1 the smaller cases: the last rule's cases are all alike and cannot
    # level the two afterwards.
    cases = [case(i, i * 100 * YUAN, province="广东") for i in range(1, 21)]
    cases.append(case(100, 5_000 * YUAN, debtor_id=7, province="北京"))
    cases += [case(i, 1_000 * YUAN, province="北京") for i in range(101, 130)]
    cantonese = frozenset({"cantonese"})
    collectors = [collector(1, skills=cantonese), collector(2, skills=cantonese), collector(3)]
    rules = [rule(1, [1, 2], skills={"cantonese"}, provinces={"广东"}), rule(2, [1, 2, 3])]
    holders = {7: 1}
    result = allocate(cases, collectors, rules, Options(), debtor_holders=holders)

    check_invariants(result, cases, collectors, rules, Options(), holders)
    assert result.placement_map()[100] == 1
    assert result.placements.filter(pl.col("case_id") == 100)["reason"].item() == DEBTOR_HOLDER
    one, two, three = result.collectors
    assert (one.cases, two.cases, three.cases) == (17, 17, 16)
    # Without the look-ahead: 21,500 against 17,500 yuan.
    assert abs(one.balance - two.balance) <= 1_000 * YUAN

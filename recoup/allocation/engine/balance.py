"""The collectors' running load and one rule's run over its pool: debtor holders, count
quotas, the balancing and capacity passes, and the swaps."""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from recoup.allocation.engine.types import (
    BALANCE_EXCEEDS_CAPACITY,
    CASE_CAPACITY_FULL,
    DEBTOR_HOLDER,
    INELIGIBLE,
    MISSING_SKILLS,
    NO_ELIGIBLE_COLLECTOR,
    ONLY_PREVIOUS_COLLECTOR,
    PLACEMENT_REASONS,
    POOL_LACKS_SKILLS,
    UNKNOWN_COLLECTOR,
    UNPLACED_REASONS,
    Collector,
    Excluded,
    Param,
    Rule,
)

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
        pending: Mapping[int, tuple[int, int]] | None = None,
    ) -> list[tuple[int, int]]:
        """Allocate the units ``start`` … ``end`` - 1, which the rule matched, to its pool;
        returns each member's new (cases, balance).

        ``pending`` maps a collector index to the (cases, balance) that later rules will give
        it as the holder of their debtors: the quotas and the balance targets count it as load
        already, so that a member whose later rules bring more than its share of balance takes
        less here, where it can still be levelled."""
        if start == end or not members:
            self._rule_unplaceable(rule, excluded, start, end)
            return [(0, 0)] * len(members)
        pool = _Pool(self, members, pending or {})
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

    def __init__(
        self,
        run: _Run,
        members: list[tuple[int, int]],
        pending: Mapping[int, tuple[int, int]],
    ) -> None:
        st = run.state
        self.run = run
        self.n = len(members)
        self.gs = [g for g, _ in members]
        self.pos = {g: p for p, g in enumerate(self.gs)}
        self.ids = [st.ids[g] for g in self.gs]
        self.weights = [w for _, w in members]
        # Totals: open before the run + placed by earlier rules + placed by this one + pending
        # from later rules (levels only: the rooms below are the real ones).
        self.pending = [pending.get(g, (0, 0)) for g in self.gs]
        self.cases = [st.cases[g] + pc for g, (pc, _) in zip(self.gs, self.pending, strict=True)]
        self.load = [st.balance[g] + pb for g, (_, pb) in zip(self.gs, self.pending, strict=True)]
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
            pc, pb = self.pending[p]
            cases, load = self.cases[p] - pc, self.load[p] - pb
            new.append((cases - st.cases[g], load - st.balance[g]))
            st.cases[g] = cases
            st.balance[g] = load
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

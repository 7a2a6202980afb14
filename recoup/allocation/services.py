"""Allocation writes: rule sets, previews, commits, manual allocation, recall.

A run is computed first (``run_preview_*``: nothing changes but the run and its lines), then
committed (``run_commit``): ONE transaction that moves every placed case, refused as a whole
when any of its cases moved since the preview (``Case.allocation_seq``) — so two supervisors
allocating overlapping cases at the same moment never double-assign (on PostgreSQL the second
UPDATE waits for the first and then finds the sequence changed; on SQLite writes serialise).

The per-case record of a committed run is its ``AllocationLine`` rows (rule, reason, previous
collector); the audit log gets one event per run with its id, kind, rule set and counts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.utils.translation import gettext as _

from recoup.accounts.models import Role, Team, User
from recoup.accounts.roles import ALLOCATE
from recoup.allocation import engine
from recoup.allocation.models import (
    AllocationLine,
    AllocationRun,
    CollectorProfile,
    Rule,
    RuleSet,
    RuleTarget,
)
from recoup.audit.services import audit_record
from recoup.cases.models import Case, Hold
from recoup.cases.permissions import cases_user_can, user_can
from recoup.core.bulk import insert_rows
from recoup.core.clock import now as clock_now
from recoup.core.exceptions import PermissionDenied, RecoupError
from recoup.workdays.calendar import deadline

if TYPE_CHECKING:
    from recoup.clients.models import Contract

COLLECTOR_ROLES = (Role.Code.COLLECTOR, Role.Code.FIELD_COLLECTOR)
OPEN_STATUSES = ("pending", "assigned", "collecting", "promised", "on_plan")
WORKED_STATUSES = ("assigned", "collecting", "promised", "on_plan")
FIRST_ACTION_HOURS = 2  # SPEC §3 step 4: first action within 2 hours of allocation
FIRST_ROUND_WORKING_DAYS = 3  # … every case attempted within 3 working days after that day
FILTER_KEYS = (
    "client_ids",
    "batch_ids",
    "stages",
    "products",
    "provinces",
    "cities",
    "risk_grades",
)


class StaleRun(RecoupError):
    """Cases of the run moved since its preview (another run, a recall, a closure)."""


# --- who may allocate -----------------------------------------------------------------


def can_allocate(user: User) -> bool:
    return bool(
        user.is_active
        and user.organisation_id is not None
        and any(
            user.has_role(code)
            for code in (Role.Code.SUPERVISOR, Role.Code.BRANCH_MANAGER, Role.Code.HQ)
        )
    )


def _require_allocator(actor: User) -> None:
    if not can_allocate(actor):
        raise PermissionDenied(_("只有主管、分公司经理或总公司可以分案。"))


def ineligible_reason(user: User, today: date) -> str:
    """Why a person may not receive new cases ("" when they may)."""
    if user.status != User.Status.ACTIVE or not user.is_active:
        return "departed"
    if not user.has_role(*COLLECTOR_ROLES):
        return "not_a_collector"
    if user.training_valid_until is None or user.training_valid_until < today:
        return "training_lapsed"
    if user.nda_valid_until is None or user.nda_valid_until < today:
        return "nda_lapsed"
    return ""


# --- rule sets --------------------------------------------------------------------------


@dataclass
class TargetInput:
    collector_id: int | None = None
    team_id: int | None = None
    weight: int = 1


@dataclass
class RuleInput:
    name: str
    filters: dict[str, Any] = field(default_factory=dict)
    required_skills: list[str] = field(default_factory=list)
    targets: list[TargetInput] = field(default_factory=list)


def _clean_filters(raw: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in FILTER_KEYS:
        values = raw.get(key) or []
        if not isinstance(values, list | tuple):
            raise RecoupError(_("筛选条件 %(key)s 必须是列表。") % {"key": key})
        if values:
            out[key] = sorted({int(v) if key.endswith("_ids") else str(v) for v in values})
    for key in ("min_balance", "max_balance"):
        value = raw.get(key)
        if value in (None, ""):
            continue
        try:
            amount = Decimal(str(value))
        except ArithmeticError:
            raise RecoupError(_("金额条件无效：%(value)s") % {"value": value}) from None
        if amount < 0:
            raise RecoupError(_("金额条件不能为负数。"))
        out[key] = str(amount.quantize(Decimal("0.01")))
    if (
        "min_balance" in out
        and "max_balance" in out
        and Decimal(out["min_balance"]) > Decimal(out["max_balance"])
    ):
        raise RecoupError(_("最低金额不能高于最高金额。"))
    kind = raw.get("new_or_reallocated") or "any"
    if kind not in ("any", "new", "reallocated"):
        raise RecoupError(_("新案/重分案条件无效。"))
    if kind != "any":
        out["new_or_reallocated"] = kind
    return out


@transaction.atomic
def rule_set_save(
    *,
    contract: Contract,
    name: str,
    rules: Sequence[RuleInput],
    actor: User,
    keep_debtor_together: bool = True,
    avoid_previous_collector: bool = False,
    active: bool = True,
    rule_set: RuleSet | None = None,
) -> RuleSet:
    """Create or replace a contract's rule set (its rules and pools), version bumped."""
    _require_allocator(actor)
    if contract.organisation_id != actor.organisation_id:
        raise PermissionDenied(_("无权操作该合作协议。"))
    name = name.strip()
    if not name:
        raise RecoupError(_("请填写规则集名称。"))
    if not rules:
        raise RecoupError(_("规则集至少需要一条规则。"))
    org = contract.organisation_id
    people = {
        u.pk: u
        for u in User.objects.filter(
            organisation_id=org,
            pk__in=[t.collector_id for r in rules for t in r.targets if t.collector_id],
        )
    }
    teams = set(
        Team.objects.filter(
            organisation_id=org, pk__in=[t.team_id for r in rules for t in r.targets if t.team_id]
        ).values_list("pk", flat=True)
    )
    cleaned: list[tuple[RuleInput, dict[str, Any]]] = []
    for i, rule in enumerate(rules, start=1):
        if not rule.name.strip():
            raise RecoupError(_("第 %(n)s 条规则缺少名称。") % {"n": i})
        if not rule.targets:
            raise RecoupError(
                _("规则“%(rule)s”没有指定催收员或小组。") % {"rule": rule.name.strip()}
            )
        for t in rule.targets:
            if (t.collector_id is None) == (t.team_id is None):
                raise RecoupError(_("每个分配对象必须是一名催收员或一个小组。"))
            if t.weight < 1 or t.weight > 100:
                raise RecoupError(_("权重必须在 1 到 100 之间。"))
            if t.collector_id is not None:
                person = people.get(t.collector_id)
                if person is None:
                    raise RecoupError(_("找不到指定的催收员。"))
                if not person.has_role(*COLLECTOR_ROLES):
                    raise RecoupError(
                        _("%(name)s 不是催收员，不能作为分案对象。")
                        % {"name": person.display_name or person.username}
                    )
            if t.team_id is not None and t.team_id not in teams:
                raise RecoupError(_("找不到指定的小组。"))
        cleaned.append((rule, _clean_filters(rule.filters)))
    if rule_set is None:
        if RuleSet.objects.filter(contract=contract, name=name).exists():
            raise RecoupError(_("该协议下已有同名规则集。"))
        rule_set = RuleSet.objects.create(
            organisation_id=org,
            contract=contract,
            name=name,
            active=active,
            keep_debtor_together=keep_debtor_together,
            avoid_previous_collector=avoid_previous_collector,
            updated_by=actor,
        )
    else:
        if rule_set.organisation_id != org or rule_set.contract_id != contract.pk:
            raise PermissionDenied(_("无权操作该规则集。"))
        rule_set.name = name
        rule_set.active = active
        rule_set.keep_debtor_together = keep_debtor_together
        rule_set.avoid_previous_collector = avoid_previous_collector
        rule_set.version += 1
        rule_set.updated_by = actor
        rule_set.save()
        rule_set.rules.all().delete()
    for position, (rule, filters) in enumerate(cleaned):
        row = Rule.objects.create(
            rule_set=rule_set,
            position=position,
            name=rule.name.strip()[:100],
            filters=filters,
            required_skills=sorted({s.strip() for s in rule.required_skills if s.strip()}),
        )
        RuleTarget.objects.bulk_create(
            RuleTarget(rule=row, collector_id=t.collector_id, team_id=t.team_id, weight=t.weight)
            for t in rule.targets
        )
    audit_record(
        action="allocation.rule_set.saved",
        actor=actor,
        organisation=org,
        object_type="rule_set",
        object_id=rule_set.pk,
        data={"version": rule_set.version, "snapshot": rule_set_snapshot(rule_set)},
    )
    return rule_set


def rule_set_snapshot(rule_set: RuleSet) -> dict[str, Any]:
    """The rule set as data: stored with every run so the run can be reproduced."""
    return {
        "id": rule_set.pk,
        "version": rule_set.version,
        "keep_debtor_together": rule_set.keep_debtor_together,
        "avoid_previous_collector": rule_set.avoid_previous_collector,
        "rules": [
            {
                "id": r.pk,
                "name": r.name,
                "filters": r.filters,
                "required_skills": r.required_skills,
                "targets": [
                    {"collector_id": t.collector_id, "team_id": t.team_id, "weight": t.weight}
                    for t in r.targets.all()
                ],
            }
            for r in rule_set.rules.prefetch_related("targets")
        ],
    }


@transaction.atomic
def collector_profile_set(
    *,
    person: User,
    actor: User,
    max_open_cases: int | None,
    max_total_balance: Decimal | None,
    skills: Sequence[str],
    weight: int = 1,
) -> CollectorProfile:
    _require_allocator(actor)
    if person.organisation_id != actor.organisation_id:
        raise PermissionDenied(_("无权操作该人员。"))
    if weight < 1 or weight > 100:
        raise RecoupError(_("权重必须在 1 到 100 之间。"))
    if max_total_balance is not None and max_total_balance < 0:
        raise RecoupError(_("金额上限不能为负数。"))
    assert actor.organisation_id is not None
    profile, _created = CollectorProfile.objects.update_or_create(
        user=person,
        defaults={
            "organisation_id": actor.organisation_id,
            "max_open_cases": max_open_cases,
            "max_total_balance": max_total_balance,
            "skills": sorted({s.strip() for s in skills if s.strip()}),
            "weight": weight,
        },
    )
    audit_record(
        action="allocation.profile.saved",
        actor=actor,
        organisation=person.organisation_id,
        object_type="user",
        object_id=person.pk,
        data={
            "max_open_cases": max_open_cases,
            "max_total_balance": str(max_total_balance) if max_total_balance is not None else None,
            "skills": profile.skills,
            "weight": weight,
        },
    )
    return profile


# --- loading the engine's inputs --------------------------------------------------------


def _cents(value: Decimal | None) -> int:
    return int((value or Decimal(0)) * 100)


def _collectors(org_id: int, user_ids: set[int], today: date) -> dict[int, engine.Collector]:
    """Engine collectors with their capacity, skills, current load and eligibility."""
    users = {
        u.pk: u
        for u in User.objects.filter(organisation_id=org_id, pk__in=user_ids).prefetch_related(
            "roles"
        )
    }
    profiles = {p.user_id: p for p in CollectorProfile.objects.filter(user_id__in=user_ids)}
    loads: dict[int, tuple[int, int]] = {}
    if user_ids:
        with connection.cursor() as cursor:
            marks = ", ".join(["%s"] * len(user_ids))
            statuses = ", ".join(["%s"] * len(OPEN_STATUSES))
            cursor.execute(
                "SELECT assignee_id, COUNT(*), COALESCE(SUM(total_owed), 0) FROM cases_case "
                f"WHERE organisation_id = %s AND assignee_id IN ({marks}) "
                f"AND status IN ({statuses}) GROUP BY assignee_id",
                [org_id, *sorted(user_ids), *OPEN_STATUSES],
            )
            for uid, n, total in cursor.fetchall():
                loads[int(uid)] = (int(n), _cents(Decimal(total)))
    out: dict[int, engine.Collector] = {}
    for uid in sorted(user_ids):
        user = users.get(uid)
        if user is None:
            continue
        profile = profiles.get(uid)
        n, balance = loads.get(uid, (0, 0))
        out[uid] = engine.Collector(
            id=uid,
            team_id=user.team_id,
            skills=frozenset(profile.skills if profile else ()),
            max_open_cases=profile.max_open_cases if profile else None,
            max_total_balance=(
                _cents(profile.max_total_balance)
                if profile and profile.max_total_balance is not None
                else None
            ),
            open_cases=n,
            open_balance=balance,
            ineligible_reason=ineligible_reason(user, today),
        )
    return out


def _team_members(org_id: int, team_ids: set[int]) -> dict[int, list[int]]:
    members: dict[int, list[int]] = {t: [] for t in team_ids}
    for user in (
        User.objects.filter(organisation_id=org_id, team_id__in=team_ids)
        .prefetch_related("roles")
        .order_by("pk")
    ):
        if user.has_role(*COLLECTOR_ROLES) and user.team_id is not None:
            members[user.team_id].append(user.pk)
    return members


def _engine_rules(
    rule_set: RuleSet, members: dict[int, list[int]]
) -> tuple[list[engine.Rule], set[int]]:
    rules: list[engine.Rule] = []
    everyone: set[int] = set()
    for r in rule_set.rules.prefetch_related("targets"):
        weights: dict[int, int] = {}
        for t in r.targets.all():
            ids = [t.collector_id] if t.collector_id else members.get(t.team_id or 0, [])
            for uid in ids:
                if uid is not None:
                    weights[uid] = max(weights.get(uid, 0), t.weight)
        everyone.update(weights)
        f = r.filters
        rules.append(
            engine.Rule(
                id=r.pk,
                name=r.name,
                filter=engine.RuleFilter(
                    client_ids=frozenset(f.get("client_ids", ())),
                    batch_ids=frozenset(f.get("batch_ids", ())),
                    stages=frozenset(f.get("stages", ())),
                    products=frozenset(f.get("products", ())),
                    provinces=frozenset(f.get("provinces", ())),
                    cities=frozenset(f.get("cities", ())),
                    risk_grades=frozenset(f.get("risk_grades", ())),
                    min_balance=_cents(Decimal(f["min_balance"])) if "min_balance" in f else None,
                    max_balance=_cents(Decimal(f["max_balance"])) if "max_balance" in f else None,
                    new_or_reallocated=f.get("new_or_reallocated", "any"),
                ),
                targets=tuple(sorted(weights.items())),
                required_skills=frozenset(r.required_skills),
            )
        )
    return rules, everyone


CASE_COLUMNS = (
    "c.id, c.total_owed, c.debtor_id, c.client_id, c.batch_id, c.stage, c.product, "
    "d.province, d.city, c.risk_grade, c.assignee_id, c.previous_assignee_id, "
    "c.allocation_seq, c.branch_id"
)


@dataclass
class CandidateCase:
    item: engine.CaseItem
    balance: Decimal
    seq: int
    current_assignee: int | None


def _candidates(actor: User, where: str, params: list[Any]) -> list[CandidateCase]:
    """The cases the actor may allocate that match ``where`` (SQL over ``c``), in id order."""
    scope = cases_user_can(actor, ALLOCATE).values("pk")
    scope_sql, scope_params = scope.query.sql_with_params()
    sql = (
        f"SELECT {CASE_COLUMNS} FROM cases_case c JOIN cases_debtor d ON d.id = c.debtor_id "
        f"WHERE c.id IN ({scope_sql}) AND {where} ORDER BY c.id"
    )
    out: list[CandidateCase] = []
    with connection.cursor() as cursor:
        cursor.execute(sql, [*scope_params, *params])
        for row in cursor.fetchall():
            (cid, total, debtor, client, batch, stage, product, province, city, grade) = row[:10]
            assignee, previous, seq = row[10], row[11], row[12]
            total = Decimal(total)
            out.append(
                CandidateCase(
                    item=engine.CaseItem(
                        id=int(cid),
                        balance=_cents(total),
                        debtor_id=int(debtor),
                        client_id=int(client),
                        batch_id=int(batch) if batch is not None else None,
                        stage=stage,
                        product=product,
                        province=province or "",
                        city=city or "",
                        risk_grade=grade or "",
                        reallocated=previous is not None or assignee is not None,
                        previous_assignee_id=(
                            int(previous)
                            if previous is not None
                            else (int(assignee) if assignee is not None else None)
                        ),
                    ),
                    balance=total,
                    seq=int(seq),
                    current_assignee=int(assignee) if assignee is not None else None,
                )
            )
    return out


def _held_case_ids(case_ids: Sequence[int]) -> set[int]:
    held: set[int] = set()
    for start in range(0, len(case_ids), 5000):
        chunk = case_ids[start : start + 5000]
        held.update(
            Hold.objects.filter(case_id__in=chunk, released_at__isnull=True).values_list(
                "case_id", flat=True
            )
        )
    return held


def _debtor_holders(org_id: int) -> dict[int, int]:
    """debtor → the collector holding that debtor's open cases (the lowest id if several)."""
    statuses = ", ".join(["%s"] * len(WORKED_STATUSES))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT debtor_id, MIN(assignee_id) FROM cases_case WHERE organisation_id = %s "
            f"AND assignee_id IS NOT NULL AND status IN ({statuses}) GROUP BY debtor_id",
            [org_id, *WORKED_STATUSES],
        )
        return {int(d): int(a) for d, a in cursor.fetchall()}


# --- previews ---------------------------------------------------------------------------


def _jsonable(params: Any) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dict(params).items()}


LINE_COLUMNS = [
    "run_id",
    "case_id",
    "collector_id",
    "team_id",
    "previous_assignee_id",
    "rule_id_at_run",
    "rule_name",
    "reason",
    "params",
    "balance",
    "seq_at_preview",
]


def _write_lines(run: AllocationRun, lines: list[tuple[Any, ...]]) -> None:
    """COPY (PostgreSQL) or executemany (SQLite) the run's lines: a run may hold 1M cases."""
    if connection.vendor == "postgresql":
        from psycopg.types.json import Jsonb

        def params(value: dict[str, Any]) -> Any:
            return Jsonb(value)
    else:

        def params(value: dict[str, Any]) -> Any:
            return json.dumps(value, ensure_ascii=False)

    insert_rows(
        AllocationLine._meta.db_table,
        LINE_COLUMNS,
        ((run.pk, *line[:7], params(line[7]), *line[8:]) for line in lines),
    )


def _summary(
    run_lines: list[tuple[Any, ...]], collectors: dict[int, engine.Collector]
) -> dict[str, Any]:
    """Per collector: cases, balance, deviation from the mean; unplaced counts by reason."""
    per: dict[int, list[Decimal | int]] = {}
    unplaced: dict[str, int] = {}
    for case_id, collector_id, _team, _prev, _rule, _name, reason, _params, balance, _seq in (
        line for line in run_lines
    ):
        del case_id
        if collector_id is None:
            unplaced[reason] = unplaced.get(reason, 0) + 1
            continue
        slot = per.setdefault(collector_id, [0, Decimal(0)])
        slot[0] = int(slot[0]) + 1
        slot[1] = Decimal(slot[1]) + balance
    balances = [Decimal(v[1]) for v in per.values()]
    mean = sum(balances, Decimal(0)) / len(balances) if balances else Decimal(0)
    counts = [int(v[0]) for v in per.values()]
    rows = []
    for uid in sorted(per):
        n, bal = int(per[uid][0]), Decimal(per[uid][1])
        deviation = float((bal - mean) / mean * 100) if mean else 0.0
        rows.append(
            {"collector_id": uid, "cases": n, "balance": str(bal), "deviation_pct": deviation}
        )
    ineligible = [
        {"collector_id": c.id, "reason": c.ineligible_reason}
        for c in collectors.values()
        if c.ineligible_reason
    ]
    spread = float((max(balances) - min(balances)) / mean * 100) if balances and mean else 0.0
    return {
        "collectors": rows,
        "unplaced": unplaced,
        "ineligible": ineligible,
        "balance_spread_pct": round(spread, 4),
        "count_spread": (max(counts) - min(counts)) if counts else 0,
        "mean_balance": str(mean.quantize(Decimal("0.01"))) if balances else "0.00",
    }


def _create_run(
    *,
    actor: User,
    kind: str,
    contract_id: int | None,
    rule_set: RuleSet | None,
    parameters: dict[str, Any],
    lines: list[tuple[Any, ...]],
    collectors: dict[int, engine.Collector],
    note: str = "",
    excluded: list[dict[str, Any]] | None = None,
) -> AllocationRun:
    assert actor.organisation_id is not None
    summary = _summary(lines, collectors)
    summary["excluded"] = excluded or []
    with transaction.atomic():
        run = AllocationRun.objects.create(
            organisation_id=actor.organisation_id,
            kind=kind,
            contract_id=contract_id,
            rule_set=rule_set,
            author=actor,
            parameters=parameters,
            result=summary,
            case_count=len(lines),
            placed_count=sum(1 for line in lines if line[1] is not None or line[6] == "recalled"),
            note=note[:500],
        )
        _write_lines(run, lines)
        audit_record(
            action="allocation.run.previewed",
            actor=actor,
            organisation=actor.organisation_id,
            object_type="allocation_run",
            object_id=run.pk,
            data={"kind": kind, "cases": run.case_count, "placed": run.placed_count},
        )
    return run


def run_preview_rules(
    *, rule_set: RuleSet, actor: User, batch_ids: Sequence[int] = (), at: datetime | None = None
) -> AllocationRun:
    """Compute a rule-based allocation of the contract's unassigned cases (nothing moves)."""
    _require_allocator(actor)
    if rule_set.organisation_id != actor.organisation_id:
        raise PermissionDenied(_("无权操作该规则集。"))
    if not rule_set.active:
        raise RecoupError(_("规则集已停用。"))
    at = at or clock_now()
    org = rule_set.organisation_id
    where = "c.contract_id = %s AND c.status = 'pending' AND c.assignee_id IS NULL"
    params: list[Any] = [rule_set.contract_id]
    if batch_ids:
        where += f" AND c.batch_id IN ({', '.join(['%s'] * len(batch_ids))})"
        params.extend(int(b) for b in batch_ids)
    candidates = _candidates(actor, where, params)
    held = _held_case_ids([c.item.id for c in candidates])
    team_ids = {t.team_id for r in rule_set.rules.all() for t in r.targets.all() if t.team_id}
    members = _team_members(org, team_ids)
    rules, pool = _engine_rules(rule_set, members)
    collectors = _collectors(org, pool, at.date())
    workable = [c for c in candidates if c.item.id not in held]
    result = engine.allocate(
        [c.item for c in workable],
        list(collectors.values()),
        rules,
        engine.Options(
            keep_debtor_together=rule_set.keep_debtor_together,
            avoid_previous_collector=rule_set.avoid_previous_collector,
        ),
        debtor_holders=_debtor_holders(org) if rule_set.keep_debtor_together else None,
    )
    by_id = {c.item.id: c for c in candidates}
    names = {r.id: r.name for r in rules}
    lines: list[tuple[Any, ...]] = []
    for case_id, collector_id, rule_id, reason in result.placements.iter_rows():
        c = by_id[case_id]
        team = collectors[collector_id].team_id
        lines.append(
            (
                case_id,
                collector_id,
                team,
                c.current_assignee,
                rule_id,
                names.get(rule_id, ""),
                reason,
                {},
                c.balance,
                c.seq,
            )
        )
    for u in result.unplaced:
        c = by_id[u.case_id]
        lines.append(
            (
                u.case_id,
                None,
                None,
                c.current_assignee,
                u.rule_id,
                names.get(u.rule_id or 0, ""),
                u.reason,
                _jsonable(u.params),
                c.balance,
                c.seq,
            )
        )
    for case_id in sorted(held):
        c = by_id[case_id]
        lines.append(
            (case_id, None, None, c.current_assignee, None, "", "on_hold", {}, c.balance, c.seq)
        )
    return _create_run(
        actor=actor,
        kind=AllocationRun.Kind.RULES,
        contract_id=rule_set.contract_id,
        rule_set=rule_set,
        parameters={
            "rule_set": rule_set_snapshot(rule_set),
            "batch_ids": sorted(int(b) for b in batch_ids),
            "at": at.isoformat(),
            "candidates": len(candidates),
        },
        lines=lines,
        collectors=collectors,
        excluded=[
            {
                "rule_id": pool.rule_id,
                "rule": names.get(pool.rule_id, ""),
                "collector_id": e.collector_id,
                "reason": e.reason,
                "params": _jsonable(e.params),
            }
            for pool in result.pools
            for e in pool.excluded
        ],
    )


def run_preview_manual(
    *,
    actor: User,
    case_ids: Sequence[int],
    collector: User | None = None,
    team: Team | None = None,
    at: datetime | None = None,
) -> AllocationRun:
    """Chosen cases to one collector, or spread over a team's collectors (balanced)."""
    _require_allocator(actor)
    if (collector is None) == (team is None):
        raise RecoupError(_("请选择一名催收员或一个小组。"))
    if not case_ids:
        raise RecoupError(_("请选择要分配的案件。"))
    at = at or clock_now()
    org = actor.organisation_id
    assert org is not None
    ids = sorted({int(i) for i in case_ids})
    marks = ", ".join(["%s"] * len(ids))
    candidates = _candidates(actor, f"c.id IN ({marks})", ids)
    found = {c.item.id for c in candidates}
    if len(found) != len(ids):
        raise RecoupError(
            _("有 %(n)s 个案件不存在或不在您的分案范围内。") % {"n": len(ids) - len(found)}
        )
    if collector is not None:
        if collector.organisation_id != org:
            raise RecoupError(_("找不到指定的催收员。"))
        pool = {collector.pk}
    else:
        assert team is not None
        if team.organisation_id != org:
            raise RecoupError(_("找不到指定的小组。"))
        pool = set(_team_members(org, {team.pk})[team.pk])
        if not pool:
            raise RecoupError(_("该小组没有催收员。"))
    collectors = _collectors(org, pool, at.date())
    statuses = dict(
        Case.objects.filter(pk__in=ids).values_list("pk", "status")  # small: chosen by hand
    )
    held = _held_case_ids(ids)
    lines: list[tuple[Any, ...]] = []
    workable: list[CandidateCase] = []
    for c in candidates:
        status = statuses[c.item.id]
        reason = ""
        if status not in OPEN_STATUSES:
            reason = "case_closed"
        elif c.item.id in held:
            reason = "on_hold"
        elif collector is not None and c.current_assignee == collector.pk:
            reason = "already_assigned_here"
        if reason:
            lines.append(
                (
                    c.item.id,
                    None,
                    None,
                    c.current_assignee,
                    None,
                    "",
                    reason,
                    {"status": status},
                    c.balance,
                    c.seq,
                )
            )
        else:
            workable.append(c)
    rule = engine.Rule(
        id=0,
        name=_("手工分案"),
        filter=engine.RuleFilter(),
        targets=tuple((uid, 1) for uid in sorted(pool)),
        required_skills=frozenset(),
    )
    result = engine.allocate(
        [c.item for c in workable],
        list(collectors.values()),
        [rule],
        engine.Options(keep_debtor_together=True, avoid_previous_collector=False),
    )
    by_id = {c.item.id: c for c in workable}
    for case_id, collector_id, _rule, _reason in result.placements.iter_rows():
        c = by_id[case_id]
        lines.append(
            (
                case_id,
                collector_id,
                collectors[collector_id].team_id,
                c.current_assignee,
                None,
                "",
                "manual",
                {},
                c.balance,
                c.seq,
            )
        )
    for u in result.unplaced:
        c = by_id[u.case_id]
        lines.append(
            (
                u.case_id,
                None,
                None,
                c.current_assignee,
                None,
                "",
                u.reason,
                _jsonable(u.params),
                c.balance,
                c.seq,
            )
        )
    return _create_run(
        actor=actor,
        kind=AllocationRun.Kind.MANUAL,
        contract_id=None,
        rule_set=None,
        parameters={
            "case_ids": ids,
            "collector_id": collector.pk if collector else None,
            "team_id": team.pk if team else None,
            "at": at.isoformat(),
        },
        lines=lines,
        collectors=collectors,
    )


# --- commit -----------------------------------------------------------------------------


def _exec(sql: str, params: list[Any]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount or 0)


def run_commit(*, run: AllocationRun, actor: User, at: datetime | None = None) -> AllocationRun:
    """Apply a previewed run in one transaction; refused whole when any case moved since."""
    _require_allocator(actor)
    if run.organisation_id != actor.organisation_id:
        raise PermissionDenied(_("无权操作该分案批次。"))
    at = at or clock_now()
    try:
        with transaction.atomic():
            locked = AllocationRun.objects.select_for_update().get(pk=run.pk)
            if locked.status != AllocationRun.Status.PREVIEW:
                raise RecoupError(
                    _("该分案批次已是“%(status)s”状态，不能再提交。")
                    % {"status": locked.get_status_display()}
                )
            expected = (
                AllocationLine.objects.filter(run=locked).exclude(collector__isnull=True).count()
            )
            if locked.kind == AllocationRun.Kind.RECALL:
                expected = AllocationLine.objects.filter(run=locked, reason="recalled").count()
            moved = _apply(locked, at)
            if moved != expected:
                raise StaleRun(
                    _(
                        "有 %(n)s 个案件在预览后已被其他操作改变（分案、收回或结案），"
                        "本次分案未提交任何更改；请重新预览。"
                    )
                    % {"n": expected - moved}
                )
            locked.status = AllocationRun.Status.COMMITTED
            locked.committed_by = actor
            locked.committed_at = at
            locked.save(update_fields=["status", "committed_by", "committed_at", "updated_at"])
            audit_record(
                action="allocation.run.committed",
                actor=actor,
                organisation=locked.organisation_id,
                object_type="allocation_run",
                object_id=locked.pk,
                data={
                    "kind": locked.kind,
                    "cases": locked.case_count,
                    "moved": moved,
                    "rule_set": (locked.parameters.get("rule_set") or {}).get("id"),
                    "rule_set_version": (locked.parameters.get("rule_set") or {}).get("version"),
                },
            )
    except StaleRun:
        AllocationRun.objects.filter(pk=run.pk, status=AllocationRun.Status.PREVIEW).update(
            status=AllocationRun.Status.STALE, updated_at=clock_now()
        )
        raise
    run.refresh_from_db()
    return run


def _apply(run: AllocationRun, at: datetime) -> int:
    ts = connection.ops.adapt_datetimefield_value(at)
    if run.kind == AllocationRun.Kind.RECALL:
        return _exec(
            "UPDATE cases_case SET previous_assignee_id = cases_case.assignee_id, "
            "assignee_id = NULL, team_id = NULL, status = 'pending', status_changed_at = %s, "
            "assigned_at = NULL, first_action_due_at = NULL, first_round_due_at = NULL, "
            "allocation_seq = cases_case.allocation_seq + 1, updated_at = %s "
            "FROM allocation_allocationline l WHERE l.run_id = %s AND l.reason = 'recalled' "
            "AND cases_case.id = l.case_id AND cases_case.allocation_seq = l.seq_at_preview "
            f"AND cases_case.status IN ({', '.join(repr(s) for s in OPEN_STATUSES)})",
            [ts, ts, run.pk],
        )
    first_action = at + timedelta(hours=FIRST_ACTION_HOURS)
    round_due = deadline(start=at, working_days=FIRST_ROUND_WORKING_DAYS)
    statuses = ", ".join(repr(s) for s in OPEN_STATUSES)
    return _exec(
        "UPDATE cases_case SET "
        "previous_assignee_id = CASE WHEN cases_case.assignee_id IS NOT NULL "
        "  THEN cases_case.assignee_id ELSE cases_case.previous_assignee_id END, "
        "assignee_id = l.collector_id, team_id = l.team_id, "
        "status = CASE WHEN cases_case.status = 'pending' THEN 'assigned' "
        "  ELSE cases_case.status END, "
        "status_changed_at = CASE WHEN cases_case.status = 'pending' THEN %s "
        "  ELSE cases_case.status_changed_at END, "
        "assigned_at = %s, first_action_due_at = %s, first_round_due_at = %s, "
        "sla_estimated = %s, allocation_seq = cases_case.allocation_seq + 1, updated_at = %s "
        "FROM allocation_allocationline l WHERE l.run_id = %s AND l.collector_id IS NOT NULL "
        "AND cases_case.id = l.case_id AND cases_case.allocation_seq = l.seq_at_preview "
        f"AND cases_case.status IN ({statuses})",
        [
            ts,
            ts,
            connection.ops.adapt_datetimefield_value(first_action),
            connection.ops.adapt_datetimefield_value(round_due.due),
            round_due.estimated,
            ts,
            run.pk,
        ],
    )


@transaction.atomic
def run_discard(*, run: AllocationRun, actor: User) -> AllocationRun:
    _require_allocator(actor)
    if run.organisation_id != actor.organisation_id:
        raise PermissionDenied(_("无权操作该分案批次。"))
    updated = AllocationRun.objects.filter(pk=run.pk, status=AllocationRun.Status.PREVIEW).update(
        status=AllocationRun.Status.DISCARDED, updated_at=clock_now()
    )
    if not updated:
        raise RecoupError(_("只能放弃尚未提交的预览。"))
    audit_record(
        action="allocation.run.discarded",
        actor=actor,
        organisation=run.organisation_id,
        object_type="allocation_run",
        object_id=run.pk,
        data={},
    )
    run.refresh_from_db()
    return run


def cases_allocate(
    *, actor: User, case_ids: Sequence[int], collector: User | None = None, team: Team | None = None
) -> AllocationRun:
    """Manual allocation in one step (preview + commit), e.g. from the case list."""
    run = run_preview_manual(actor=actor, case_ids=case_ids, collector=collector, team=team)
    if run.placed_count == 0:
        reasons = ", ".join(sorted(run.result.get("unplaced", {})))
        raise RecoupError(_("没有可分配的案件（%(reasons)s）。") % {"reasons": reasons})
    return run_commit(run=run, actor=actor)


def cases_recall(*, actor: User, case_ids: Sequence[int], reason: str) -> AllocationRun:
    """Take cases back into the allocation pool (收回), committed at once."""
    _require_allocator(actor)
    reason = reason.strip()
    if not reason:
        raise RecoupError(_("请填写收回原因。"))
    if not case_ids:
        raise RecoupError(_("请选择要收回的案件。"))
    ids = sorted({int(i) for i in case_ids})
    marks = ", ".join(["%s"] * len(ids))
    candidates = _candidates(actor, f"c.id IN ({marks})", ids)
    if len(candidates) != len(ids):
        raise RecoupError(
            _("有 %(n)s 个案件不存在或不在您的分案范围内。") % {"n": len(ids) - len(candidates)}
        )
    statuses = dict(Case.objects.filter(pk__in=ids).values_list("pk", "status"))
    lines: list[tuple[Any, ...]] = []
    for c in candidates:
        ok = c.current_assignee is not None and statuses[c.item.id] in OPEN_STATUSES
        lines.append(
            (
                c.item.id,
                None,
                None,
                c.current_assignee,
                None,
                "",
                "recalled" if ok else "not_assigned",
                {},
                c.balance,
                c.seq,
            )
        )
    if not any(line[6] == "recalled" for line in lines):
        raise RecoupError(_("所选案件都未分配给催收员，无需收回。"))
    run = _create_run(
        actor=actor,
        kind=AllocationRun.Kind.RECALL,
        contract_id=None,
        rule_set=None,
        parameters={"case_ids": ids, "reason": reason},
        lines=lines,
        collectors={},
        note=reason,
    )
    return run_commit(run=run, actor=actor)


def case_may_allocate(actor: User, case: Case) -> bool:
    return can_allocate(actor) and user_can(actor, ALLOCATE, case)

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
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import polars as pl
from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import connection, transaction
from django.utils.translation import gettext as _

from recoup.accounts.models import Role, Team, User
from recoup.accounts.roles import ALLOCATE
from recoup.accounts.services import person_depart
from recoup.allocation import engine
from recoup.allocation.messages import reason_label
from recoup.allocation.models import (
    AllocationLine,
    AllocationRun,
    CollectorProfile,
    Rule,
    RuleSet,
    RuleTarget,
)
from recoup.audit.services import audit_record
from recoup.cases.models import Case
from recoup.cases.permissions import cases_user_can
from recoup.core.bulk import insert_frame, read_frame
from recoup.core.clock import now as clock_now
from recoup.core.db import bulk_session, execute, sqlite_indexes_rebuilt
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


def require_allocator(actor: User) -> None:
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
    require_allocator(actor)
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
    daily_attempts_target: int | None = None,
    daily_effective_target: int | None = None,
) -> CollectorProfile:
    """A collector's capacity, skills and weight (allocation inputs) and daily work targets
    (shown on their workbench and to their team leader; empty: SPEC §6's 200 and 50)."""
    require_allocator(actor)
    if person.organisation_id != actor.organisation_id:
        raise PermissionDenied(_("无权操作该人员。"))
    if weight < 1 or weight > 100:
        raise RecoupError(_("权重必须在 1 到 100 之间。"))
    if max_total_balance is not None and max_total_balance < 0:
        raise RecoupError(_("金额上限不能为负数。"))
    for target in (daily_attempts_target, daily_effective_target):
        if target is not None and not 0 < target <= 2000:
            raise RecoupError(_("每日目标必须在 1 到 2000 之间。"))
    if (
        daily_attempts_target is not None
        and daily_effective_target is not None
        and daily_effective_target > daily_attempts_target
    ):
        raise RecoupError(_("有效通话目标不能多于拨打目标。"))
    assert actor.organisation_id is not None
    profile, _created = CollectorProfile.objects.update_or_create(
        user=person,
        defaults={
            "organisation_id": actor.organisation_id,
            "max_open_cases": max_open_cases,
            "max_total_balance": max_total_balance,
            "skills": sorted({s.strip() for s in skills if s.strip()}),
            "weight": weight,
            "daily_attempts_target": daily_attempts_target,
            "daily_effective_target": daily_effective_target,
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
            "daily_attempts_target": daily_attempts_target,
            "daily_effective_target": daily_effective_target,
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


# Each candidate column and the SQL that reads it (over ``c``, and ``d`` for the debtor's).
CANDIDATE_COLUMNS: dict[str, tuple[pl.DataType, str]] = {
    "id": (pl.Int64(), "c.id"),
    "balance": (pl.Int64(), "CAST(ROUND(c.total_owed * 100) AS BIGINT)"),  # cents
    "debtor_id": (pl.Int64(), "c.debtor_id"),
    "client_id": (pl.Int64(), "c.client_id"),
    "batch_id": (pl.Int64(), "c.batch_id"),
    "stage": (pl.String(), "c.stage"),
    "product": (pl.String(), "c.product"),
    "province": (pl.String(), "d.province"),
    "city": (pl.String(), "d.city"),
    "risk_grade": (pl.String(), "c.risk_grade"),
    "assignee_id": (pl.Int64(), "c.assignee_id"),
    "previous_id": (pl.Int64(), "c.previous_assignee_id"),
    "seq": (pl.Int64(), "c.allocation_seq"),
    "status": (pl.String(), "c.status"),
}
CANDIDATE_SCHEMA: dict[str, pl.DataType] = {k: t for k, (t, _) in CANDIDATE_COLUMNS.items()}
# Read for every run: the lines and the stale check need them.
ALWAYS_READ = frozenset({"id", "balance", "debtor_id", "assignee_id", "previous_id", "seq"})
DEBTOR_JOIN = "JOIN cases_debtor d ON d.id = c.debtor_id"


def _scope_sql(actor: User) -> tuple[str, list[Any]]:
    """The actor's allocation scope as SQL over ``c`` (the case policy's own filter).

    The policy's conditions are on the case's own columns, so they apply to ``c`` directly;
    as ``c.id IN (…)`` SQLite would first collect every id in scope (1M: 1.2 s). A condition
    through a join or a subquery names the table itself, so it stays ``c.id IN (…)``."""
    scope = cases_user_can(actor, ALLOCATE)
    query = scope.query
    try:
        sql, params = query.where.as_sql(query.get_compiler(connection=connection), connection)
    except EmptyResultSet:
        return "1 = 0", []
    except FullResultSet:
        return "1 = 1", []
    joined = sum(1 for n in query.alias_refcount.values() if n) > 1
    if joined or "SELECT" in sql.upper():
        sql, params = scope.order_by().values("pk").query.sql_with_params()
        return f"c.id IN ({sql})", list(params)
    table = connection.ops.quote_name(Case._meta.db_table)
    return f"({sql.replace(f'{table}.', 'c.')})", list(params)


def _candidates(
    actor: User, where: str, params: list[Any], *, columns: Collection[str] | None = None
) -> pl.DataFrame:
    """The cases the actor may allocate that match ``where`` (SQL over ``c``), by id, as a
    frame: a run may read a million cases, so no Python object per case outlives the read.

    ``columns`` limits what is read to the ``CANDIDATE_SCHEMA`` columns a run needs (with
    ``ALWAYS_READ``); the others come back empty. On SQLite every value read costs a Python
    object, so a rule set that filters on nothing reads 6 columns, not 14."""
    scope, scope_params = _scope_sql(actor)
    read = [c for c in CANDIDATE_COLUMNS if columns is None or c in ALWAYS_READ or c in columns]
    join = DEBTOR_JOIN if {"province", "city"} & set(read) else ""
    frame = read_frame(
        f"SELECT {', '.join(CANDIDATE_COLUMNS[c][1] for c in read)} FROM cases_case c {join} "
        f"WHERE {scope} AND {where} ORDER BY c.id",
        [*scope_params, *params],
        {c: CANDIDATE_SCHEMA[c] for c in read},
    )
    frame = frame.with_columns(
        pl.lit(None, CANDIDATE_SCHEMA[c]).alias(c) for c in CANDIDATE_SCHEMA if c not in read
    ).select(list(CANDIDATE_SCHEMA))
    return frame.with_columns(
        reallocated=pl.col("assignee_id").is_not_null() | pl.col("previous_id").is_not_null(),
        previous_assignee_id=pl.coalesce("previous_id", "assignee_id"),
        province=pl.col("province").fill_null(""),
        city=pl.col("city").fill_null(""),
        risk_grade=pl.col("risk_grade").fill_null(""),
    )


def _held_ids(actor: User, where: str, params: list[Any]) -> set[int]:
    """Cases matching ``where`` with an open hold (停催): few, so a plain set."""
    scope, scope_params = _scope_sql(actor)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT h.case_id FROM cases_hold h JOIN cases_case c ON c.id = h.case_id "
            f"WHERE h.released_at IS NULL AND {scope} AND {where}",
            [*scope_params, *params],
        )
        return {int(r[0]) for r in cursor.fetchall()}


def _debtor_holders(org_id: int) -> dict[int, int]:
    """debtor → the collector holding that debtor's open cases (the lowest id if several)."""
    statuses = ", ".join(["%s"] * len(WORKED_STATUSES))
    # "+debtor_id": without it SQLite walks the debtor index for the grouping's order and
    # looks up every case (1M: 0.5 s, even with none assigned); a scan is never worse.
    debtor = "+debtor_id" if connection.vendor == "sqlite" else "debtor_id"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {debtor}, MIN(assignee_id) FROM cases_case WHERE organisation_id = %s "
            f"AND assignee_id IS NOT NULL AND status IN ({statuses}) GROUP BY 1",
            [org_id, *WORKED_STATUSES],
        )
        return {int(d): int(a) for d, a in cursor.fetchall()}


# --- previews ---------------------------------------------------------------------------


def _jsonable(params: Any) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dict(params).items()}


LINE_SCHEMA: dict[str, pl.DataType] = {
    "case_id": pl.Int64(),
    "collector_id": pl.Int64(),
    "team_id": pl.Int64(),
    "previous_assignee_id": pl.Int64(),
    "rule_id_at_run": pl.Int64(),
    "rule_name": pl.String(),
    "reason": pl.String(),
    "params": pl.String(),  # JSON
    "balance": pl.Int64(),  # cents (written as yuan)
    "seq_at_preview": pl.Int64(),
}


def _unplaced_frame(
    candidates: pl.DataFrame, rows: Sequence[tuple[int, int | None, str, dict[str, Any]]]
) -> pl.DataFrame:
    """Lines for unplaced cases: (case_id, rule_id, reason, params)."""
    if not rows:
        return pl.DataFrame(schema=LINE_SCHEMA)
    ids, rules, reasons, params = zip(*rows, strict=True)
    frame = pl.DataFrame(
        {
            "case_id": list(ids),
            "rule_id_at_run": list(rules),
            "reason": list(reasons),
            "params": [json.dumps(p, ensure_ascii=False) if p else "{}" for p in params],
        },
        schema={k: LINE_SCHEMA[k] for k in ("case_id", "rule_id_at_run", "reason", "params")},
    )
    return _with_case_columns(frame, candidates).with_columns(
        collector_id=pl.lit(None, pl.Int64()), team_id=pl.lit(None, pl.Int64())
    )


def _with_case_columns(frame: pl.DataFrame, candidates: pl.DataFrame) -> pl.DataFrame:
    return frame.join(
        candidates.select(
            pl.col("id").alias("case_id"),
            pl.col("assignee_id").alias("previous_assignee_id"),
            "balance",
            pl.col("seq").alias("seq_at_preview"),
        ),
        on="case_id",
        how="left",
    )


def _placed_frame(
    placements: pl.DataFrame,
    candidates: pl.DataFrame,
    collectors: dict[int, engine.Collector],
    rule_names: dict[int, str],
    reason: str | None = None,
) -> pl.DataFrame:
    teams = {cid: c.team_id for cid, c in collectors.items()}
    frame = placements.select(
        "case_id",
        "collector_id",
        pl.col("rule_id").alias("rule_id_at_run"),
        pl.lit(reason).alias("reason") if reason else pl.col("reason"),
        pl.lit("{}").alias("params"),
    ).with_columns(
        team_id=pl.col("collector_id").replace_strict(teams, default=None, return_dtype=pl.Int64()),
        rule_name=pl.col("rule_id_at_run").replace_strict(
            rule_names, default="", return_dtype=pl.String()
        ),
    )
    return _with_case_columns(frame, candidates)


def _lines(*parts: pl.DataFrame) -> pl.DataFrame:
    frames = [p.select([pl.col(c).cast(t) for c, t in LINE_SCHEMA.items()]) for p in parts]
    lines = pl.concat(frames) if frames else pl.DataFrame(schema=LINE_SCHEMA)
    return lines.with_columns(
        rule_name=pl.col("rule_name").fill_null(""), params=pl.col("params").fill_null("{}")
    )


def _write_lines(run: AllocationRun, lines: pl.DataFrame) -> None:
    """COPY (PostgreSQL) or executemany (SQLite) the run's lines: a run may hold 1M cases."""
    cents = pl.col("balance")
    yuan = pl.format("{}.{}", cents // 100, (cents % 100).cast(pl.String()).str.zfill(2)).alias(
        "balance"
    )
    insert_frame(
        AllocationLine._meta.db_table,
        lines.with_columns(yuan).select(pl.lit(run.pk).alias("run_id"), *LINE_SCHEMA),
    )


def _summary(lines: pl.DataFrame, collectors: dict[int, engine.Collector]) -> dict[str, Any]:
    """Per collector: cases, balance, deviation from the mean; unplaced counts by reason."""
    placed = lines.filter(pl.col("collector_id").is_not_null())
    per = (
        placed.group_by("collector_id")
        .agg(pl.len().alias("cases"), pl.col("balance").sum().alias("cents"))
        .sort("collector_id")
    )
    unplaced = {
        str(r): int(n)
        for r, n in lines.filter(pl.col("collector_id").is_null())
        .group_by("reason")
        .len()
        .iter_rows()
    }
    rows: list[dict[str, Any]] = []
    spread = 0.0
    count_spread = 0
    mean = Decimal(0)
    if per.height:
        mean_cents = float(per["cents"].mean() or 0)  # type: ignore[arg-type]
        mean = (Decimal(mean_cents) / 100).quantize(Decimal("0.01"))
        for uid, n, c in per.iter_rows():
            deviation = (c - mean_cents) / mean_cents * 100 if mean_cents else 0.0
            rows.append(
                {
                    "collector_id": uid,
                    "cases": n,
                    "balance": str(Decimal(c).scaleb(-2)),
                    "deviation_pct": round(deviation, 4),
                }
            )
        high, low = int(per["cents"].max()), int(per["cents"].min())  # type: ignore[arg-type]
        spread = (high - low) / mean_cents * 100 if mean_cents else 0.0
        count_spread = int(per["cases"].max()) - int(per["cases"].min())  # type: ignore[arg-type]
    return {
        "collectors": rows,
        "unplaced": unplaced,
        "ineligible": [
            {"collector_id": c.id, "reason": c.ineligible_reason}
            for c in collectors.values()
            if c.ineligible_reason
        ],
        "balance_spread_pct": round(spread, 4),
        "count_spread": count_spread,
        "mean_balance": str(mean),
    }


def _create_run(
    *,
    actor: User,
    kind: str,
    contract_id: int | None,
    rule_set: RuleSet | None,
    parameters: dict[str, Any],
    lines: pl.DataFrame,
    collectors: dict[int, engine.Collector],
    note: str = "",
    excluded: list[dict[str, Any]] | None = None,
) -> AllocationRun:
    assert actor.organisation_id is not None
    summary = _summary(lines, collectors)
    summary["excluded"] = excluded or []
    placed = lines.filter(
        pl.col("collector_id").is_not_null() | pl.col("reason").is_in(["recalled", "returned"])
    ).height
    with bulk_session(), transaction.atomic():  # the session outlasts the commit
        run = AllocationRun.objects.create(
            organisation_id=actor.organisation_id,
            kind=kind,
            contract_id=contract_id,
            rule_set=rule_set,
            author=actor,
            parameters=parameters,
            result=summary,
            case_count=lines.height,
            placed_count=placed,
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


def _engine_cases(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(list(engine.CASE_SCHEMA))


def run_preview_rules(
    *, rule_set: RuleSet, actor: User, batch_ids: Sequence[int] = (), at: datetime | None = None
) -> AllocationRun:
    """Compute a rule-based allocation of the contract's unassigned cases (nothing moves)."""
    require_allocator(actor)
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
    team_ids = {t.team_id for r in rule_set.rules.all() for t in r.targets.all() if t.team_id}
    members = _team_members(org, team_ids)
    rules, pool = _engine_rules(rule_set, members)
    options = engine.Options(
        keep_debtor_together=rule_set.keep_debtor_together,
        avoid_previous_collector=rule_set.avoid_previous_collector,
    )
    needed = set(engine.required_columns(rules, options))
    with bulk_session():
        candidates = _candidates(actor, where, params, columns=needed)
    held = _held_ids(actor, where, params)
    collectors = _collectors(org, pool, at.date())
    workable = candidates.filter(~pl.col("id").is_in(list(held))) if held else candidates
    result = engine.allocate_frame(
        _engine_cases(workable),
        list(collectors.values()),
        rules,
        options,
        debtor_holders=_debtor_holders(org) if rule_set.keep_debtor_together else None,
    )
    names = {r.id: r.name for r in rules}
    lines = _lines(
        _placed_frame(result.placements, candidates, collectors, names),
        _unplaced_frame(
            candidates,
            [(u.case_id, u.rule_id, u.reason, _jsonable(u.params)) for u in result.unplaced],
        ).with_columns(
            rule_name=pl.col("rule_id_at_run").replace_strict(
                names, default="", return_dtype=pl.String()
            )
        ),
        _unplaced_frame(
            candidates, [(cid, None, "on_hold", {}) for cid in sorted(held)]
        ).with_columns(rule_name=pl.lit("")),
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
            "candidates": candidates.height,
        },
        lines=lines,
        collectors=collectors,
        excluded=[
            {
                "rule_id": pool_stats.rule_id,
                "rule": names.get(pool_stats.rule_id, ""),
                "collector_id": e.collector_id,
                "reason": e.reason,
                "params": _jsonable(e.params),
            }
            for pool_stats in result.pools
            for e in pool_stats.excluded
        ],
    )


def chosen_cases(actor: User, case_ids: Sequence[int]) -> tuple[list[int], pl.DataFrame]:
    """Cases picked by hand: every one must exist and be in the actor's scope."""
    ids = sorted({int(i) for i in case_ids})
    candidates = _candidates(actor, f"c.id IN ({', '.join(['%s'] * len(ids))})", ids)
    if candidates.height != len(ids):
        raise RecoupError(
            _("有 %(n)s 个案件不存在或不在您的分案范围内。") % {"n": len(ids) - candidates.height}
        )
    return ids, candidates


def run_preview_manual(
    *,
    actor: User,
    case_ids: Sequence[int],
    collector: User | None = None,
    team: Team | None = None,
    at: datetime | None = None,
) -> AllocationRun:
    """Chosen cases to one collector, or spread over a team's collectors (balanced)."""
    require_allocator(actor)
    if (collector is None) == (team is None):
        raise RecoupError(_("请选择一名催收员或一个小组。"))
    if not case_ids:
        raise RecoupError(_("请选择要分配的案件。"))
    at = at or clock_now()
    org = actor.organisation_id
    assert org is not None
    ids, candidates = chosen_cases(actor, case_ids)
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
    marks = ", ".join(["%s"] * len(ids))
    held = _held_ids(actor, f"c.id IN ({marks})", ids)
    refused: list[tuple[int, int | None, str, dict[str, Any]]] = []
    for cid, status, assignee in candidates.select("id", "status", "assignee_id").iter_rows():
        if status not in OPEN_STATUSES:
            refused.append((cid, None, "case_closed", {"status": status}))
        elif cid in held:
            refused.append((cid, None, "on_hold", {}))
        elif collector is not None and assignee == collector.pk:
            refused.append((cid, None, "already_assigned_here", {}))
    refused_ids = [r[0] for r in refused]
    workable = candidates.filter(~pl.col("id").is_in(refused_ids))
    rule = engine.Rule(
        id=1,
        name=_("手工分案"),
        filter=engine.RuleFilter(),
        targets=tuple((uid, 1) for uid in sorted(pool)),
        required_skills=frozenset(),
    )
    result = engine.allocate_frame(
        _engine_cases(workable),
        list(collectors.values()),
        [rule],
        engine.Options(keep_debtor_together=True, avoid_previous_collector=False),
    )
    lines = _lines(
        _placed_frame(result.placements, candidates, collectors, {}, reason="manual").with_columns(
            rule_id_at_run=pl.lit(None, pl.Int64())
        ),
        _unplaced_frame(
            candidates,
            [(u.case_id, None, u.reason, _jsonable(u.params)) for u in result.unplaced] + refused,
        ).with_columns(rule_name=pl.lit("")),
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


def _handover_pool(
    org: int, departing: User, team: Team | None, people: Sequence[User]
) -> set[int]:
    if people:
        pool = {p.pk for p in people if p.organisation_id == org and p.pk != departing.pk}
        if len(pool) != len({p.pk for p in people if p.pk != departing.pk}):
            raise RecoupError(_("找不到指定的催收员。"))
        return pool
    team_id = team.pk if team is not None else departing.team_id
    if team_id is None:
        raise RecoupError(_("该催收员不属于任何小组，请指定接手的小组或催收员。"))
    if team is not None and team.organisation_id != org:
        raise RecoupError(_("找不到指定的小组。"))
    return {uid for uid in _team_members(org, {team_id})[team_id] if uid != departing.pk}


def run_preview_handover(
    *,
    actor: User,
    departing: User,
    team: Team | None = None,
    collectors: Sequence[User] = (),
    end_access: bool = False,
    note: str = "",
    at: datetime | None = None,
) -> AllocationRun:
    """A collector leaves or changes role (交接): every open case of theirs, spread over their
    team (or the team or people named), balanced; committed only after a team leader's
    sign-off. Promises, plans and follow-ups belong to the case and move with it."""
    require_allocator(actor)
    org = actor.organisation_id
    assert org is not None
    if departing.organisation_id != org:
        raise RecoupError(_("找不到指定的催收员。"))
    if departing.pk == actor.pk:
        raise RecoupError(_("不能交接自己的案件。"))
    at = at or clock_now()
    statuses = ", ".join(["%s"] * len(OPEN_STATUSES))
    where = f"c.assignee_id = %s AND c.status IN ({statuses})"
    params: list[Any] = [departing.pk, *OPEN_STATUSES]
    candidates = _candidates(actor, where, params)
    if candidates.is_empty():
        raise RecoupError(
            _("%(name)s 名下没有在您管辖范围内的在催案件，无需交接。")
            % {"name": departing.display_name or departing.username}
        )
    pool = _handover_pool(org, departing, team, collectors)
    if not pool:
        raise RecoupError(_("没有可以接手的催收员。"))
    collector_rows = _collectors(org, pool, at.date())
    rule = engine.Rule(
        id=1,
        name=_("交接"),
        filter=engine.RuleFilter(),
        targets=tuple((uid, 1) for uid in sorted(pool)),
        required_skills=frozenset(),
    )
    # The cases are not new to the agency, but they are new to the pool: balance them as such.
    result = engine.allocate_frame(
        _engine_cases(candidates.with_columns(previous_assignee_id=pl.lit(None, pl.Int64()))),
        list(collector_rows.values()),
        [rule],
        engine.Options(keep_debtor_together=True, avoid_previous_collector=False),
    )
    lines = _lines(
        _placed_frame(
            result.placements, candidates, collector_rows, {}, reason="handover"
        ).with_columns(rule_id_at_run=pl.lit(None, pl.Int64())),
        _unplaced_frame(
            candidates,
            [(u.case_id, None, u.reason, _jsonable(u.params)) for u in result.unplaced],
        ).with_columns(rule_name=pl.lit("")),
    )
    run = _create_run(
        actor=actor,
        kind=AllocationRun.Kind.HANDOVER,
        contract_id=None,
        rule_set=None,
        parameters={
            "departing_id": departing.pk,
            "team_id": team.pk if team else departing.team_id,
            "collector_ids": sorted(pool),
            "before": {
                "cases": candidates.height,
                "balance": str(Decimal(int(candidates["balance"].sum())).scaleb(-2)),
            },
            "end_access": end_access,
            "at": at.isoformat(),
        },
        lines=lines,
        collectors=collector_rows,
        note=note,
    )
    AllocationRun.objects.filter(pk=run.pk).update(subject_user=departing, end_access=end_access)
    run.refresh_from_db()
    return run


def can_sign_off(user: User, run: AllocationRun) -> bool:
    """A hand-over is signed off by a team leader of the departing person's team; when that
    team has no active team leader, by a branch manager or HQ. Never by the departing person
    or by whoever previewed it alone (four eyes)."""
    if run.kind != AllocationRun.Kind.HANDOVER or run.subject_user is None:
        return False
    if user.organisation_id != run.organisation_id or user.pk == run.subject_user_id:
        return False
    if user.pk == run.author_id:
        return False
    team_id = run.subject_user.team_id
    if user.has_role(Role.Code.TEAM_LEADER) and team_id is not None and user.team_id == team_id:
        return True
    if team_id is not None:
        leaders = User.objects.filter(
            organisation_id=run.organisation_id,
            team_id=team_id,
            status=User.Status.ACTIVE,
            roles__code=Role.Code.TEAM_LEADER,
        ).exclude(pk=run.subject_user.pk)
        if leaders.exists():
            return False
    return user.has_role(Role.Code.BRANCH_MANAGER, Role.Code.HQ)


@transaction.atomic
def run_sign_off(*, run: AllocationRun, actor: User, at: datetime | None = None) -> AllocationRun:
    if not can_sign_off(actor, run):
        raise PermissionDenied(_("只有该小组的组长（无组长时由分公司经理或总公司）可以签认交接。"))
    at = at or clock_now()
    updated = AllocationRun.objects.filter(
        pk=run.pk, status=AllocationRun.Status.PREVIEW, signed_off_by__isnull=True
    ).update(signed_off_by=actor, signed_off_at=at, updated_at=at)
    if not updated:
        raise RecoupError(_("该交接已签认或已不是预览状态。"))
    audit_record(
        action="allocation.handover.signed_off",
        actor=actor,
        organisation=run.organisation_id,
        object_type="allocation_run",
        object_id=run.pk,
        data={"departing": run.subject_user_id, "cases": run.case_count},
    )
    run.refresh_from_db()
    return run


# --- commit -----------------------------------------------------------------------------


def run_commit(*, run: AllocationRun, actor: User, at: datetime | None = None) -> AllocationRun:
    """Apply a previewed run in one transaction; refused whole when any case moved since."""
    require_allocator(actor)
    if run.organisation_id != actor.organisation_id:
        raise PermissionDenied(_("无权操作该分案批次。"))
    at = at or clock_now()
    try:
        # The bulk session outlasts the transaction: its COMMIT then leaves the checkpoint of
        # a large run's log to the checkpoint thread (recoup.core.sqlite_wal).
        with bulk_session(), transaction.atomic():
            locked = AllocationRun.objects.select_for_update().get(pk=run.pk)
            if locked.status != AllocationRun.Status.PREVIEW:
                raise RecoupError(
                    _("该分案批次已是“%(status)s”状态，不能再提交。")
                    % {"status": locked.get_status_display()}
                )
            if locked.kind == AllocationRun.Kind.HANDOVER:
                if locked.signed_off_by_id is None:
                    raise RecoupError(_("交接需要组长签认后才能提交。"))
                unplaced = locked.case_count - locked.placed_count
                if unplaced:
                    raise RecoupError(
                        _("还有 %(n)s 个案件没有接手人：交接必须交代每一个案件。") % {"n": unplaced}
                    )
            expected = (
                AllocationLine.objects.filter(run=locked).exclude(collector__isnull=True).count()
            )
            if locked.kind in (AllocationRun.Kind.RECALL, AllocationRun.Kind.RETURN):
                reason = "recalled" if locked.kind == AllocationRun.Kind.RECALL else "returned"
                expected = AllocationLine.objects.filter(run=locked, reason=reason).count()
            with sqlite_indexes_rebuilt(
                Case._meta.db_table, MOVED_CASE_INDEXES, when=_moves_much(expected)
            ):
                moved = _apply(locked, at)
            if moved != expected:
                raise StaleRun(
                    _(
                        "有 %(n)s 个案件在预览后已被其他操作改变（分案、收回或结案），"
                        "本次分案未提交任何更改；请重新预览。"
                    )
                    % {"n": expected - moved}
                )
            if locked.kind == AllocationRun.Kind.HANDOVER and locked.subject_user is not None:
                _handover_finish(locked, actor)
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


def _handover_finish(run: AllocationRun, actor: User) -> None:
    """After the cases moved: nothing open may remain with the departing person (every case
    accounted for), and their access ends when the hand-over says so."""
    subject = run.subject_user
    assert subject is not None
    left = Case.objects.filter(assignee=subject, status__in=OPEN_STATUSES).count()
    if left:
        raise StaleRun(
            _("%(name)s 名下仍有 %(n)s 个在催案件（预览后新分配的？），交接未提交；请重新预览。")
            % {"name": subject.display_name or subject.username, "n": left}
        )
    if run.end_access and subject.status == User.Status.ACTIVE:
        person_depart(person=subject, actor=actor, via_handover=run.pk)


# The case indexes whose columns a commit changes (assignee, team, status). SQLite updates an
# index entry per moved case in each; when a run moves a large share of the table, one sorted
# build of each afterwards costs less (bench/allocate.py at 1M cases: see bench/RESULTS.md).
MOVED_CASE_INDEXES = (
    "case_org_status",
    "case_org_assignee",
    "case_org_team",
    "case_org_branch",
    "case_org_client",
)
REBUILD_SHARE = 0.25  # of the table's cases
REBUILD_MIN_CASES = 10_000


def _moves_much(cases: int) -> bool:
    if connection.vendor != "sqlite" or cases < REBUILD_MIN_CASES:
        return False
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {Case._meta.db_table}")
        (total,) = cursor.fetchone()
    return cases >= REBUILD_SHARE * int(total)


def _apply(run: AllocationRun, at: datetime) -> int:
    ts = connection.ops.adapt_datetimefield_value(at)
    if run.kind == AllocationRun.Kind.RETURN:
        # 退案: out of every collector's view, history kept, closed as returned.
        return execute(
            "UPDATE cases_case SET previous_assignee_id = COALESCE(cases_case.assignee_id, "
            "cases_case.previous_assignee_id), assignee_id = NULL, team_id = NULL, "
            "status = 'returned', status_changed_at = %s, closed_at = %s, "
            "allocation_seq = cases_case.allocation_seq + 1, updated_at = %s "
            "FROM allocation_allocationline l WHERE l.run_id = %s AND l.reason = 'returned' "
            "AND cases_case.id = l.case_id AND cases_case.allocation_seq = l.seq_at_preview "
            f"AND cases_case.status IN ({', '.join(repr(s) for s in OPEN_STATUSES)})",
            [ts, ts, ts, run.pk],
        )
    if run.kind == AllocationRun.Kind.RECALL:
        return execute(
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
    return execute(
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
    require_allocator(actor)
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
        reasons = _("、").join(reason_label(r) for r in sorted(run.result.get("unplaced", {})))
        raise RecoupError(_("没有可分配的案件（%(reasons)s）。") % {"reasons": reasons})
    return run_commit(run=run, actor=actor)


def cases_recall(*, actor: User, case_ids: Sequence[int], reason: str) -> AllocationRun:
    """Take cases back into the allocation pool (收回), committed at once."""
    require_allocator(actor)
    reason = reason.strip()
    if not reason:
        raise RecoupError(_("请填写收回原因。"))
    if not case_ids:
        raise RecoupError(_("请选择要收回的案件。"))
    ids, candidates = chosen_cases(actor, case_ids)
    rows: list[tuple[int, int | None, str, dict[str, Any]]] = [
        (
            cid,
            None,
            "recalled" if assignee is not None and status in OPEN_STATUSES else "not_assigned",
            {},
        )
        for cid, status, assignee in candidates.select("id", "status", "assignee_id").iter_rows()
    ]
    if not any(r[2] == "recalled" for r in rows):
        raise RecoupError(_("所选案件都未分配给催收员，无需收回。"))
    return commit_unassigning_run(
        actor=actor,
        kind=AllocationRun.Kind.RECALL,
        candidates=candidates,
        rows=rows,
        parameters={"case_ids": ids, "reason": reason},
        note=reason,
    )


def commit_unassigning_run(
    *,
    actor: User,
    kind: str,
    candidates: pl.DataFrame,
    rows: Sequence[tuple[int, int | None, str, dict[str, Any]]],
    parameters: dict[str, Any],
    note: str,
) -> AllocationRun:
    """A run that takes cases away from their collectors (recall, return), committed at once:
    ``rows`` are (case_id, rule_id, reason, params), one per chosen case."""
    run = _create_run(
        actor=actor,
        kind=kind,
        contract_id=None,
        rule_set=None,
        parameters=parameters,
        lines=_lines(_unplaced_frame(candidates, rows).with_columns(rule_name=pl.lit(""))),
        collectors={},
        note=note,
    )
    return run_commit(run=run, actor=actor)

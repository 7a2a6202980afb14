"""allocate: a rule-based allocation (分案) of a million open cases, previewed and committed.

The figure is the wall time of what a supervisor waits for, end to end:

  preview   services.run_preview_rules: the cases read from the database into a polars frame
            (COPY … TO STDOUT on PostgreSQL; on SQLite only the columns the rules need),
            collectors with capacity, skills and current load, the engine (rules → pools →
            count quotas → balance by heap), the run and its lines written (COPY on
            PostgreSQL; on SQLite the varying columns by executemany and the repeated ones
            once, joined back by one INSERT … SELECT)
  commit    services.run_commit: one UPDATE … FROM the run's lines over every placed case
            (assignee, team, status, SLA deadlines in Chinese working days, allocation_seq),
            refused whole if any case moved since the preview; one audit event. On SQLite a
            run that moves a quarter of the cases or more drops the five indexes it changes
            for the UPDATE and builds them again in the same transaction

Data (fresh database each run: PostgreSQL ``recoup_bench_alloc`` or SQLite
``var/bench/allocate.sqlite3``, migrated and seeded with the demo agency without cases):
``--collectors`` collectors in teams of 20 (1,000 → 50 teams) with a capacity of 1.2× their
fair share of cases and unlimited balance, and 3 skills (``legal`` for a fifth of the teams,
``high_balance`` for a tenth, ``cantonese`` for a seventh); ``--cases`` pending cases of
one contract, balances lognormal (median ≈ 8,000 yuan, 500–200,000), stages M1–M6+, 10 % of
debtors with two cases (kept together). Personal data is not generated: allocation never
reads it (debtor and account blobs are empty placeholders).

Rule set: "M6+ → legal teams" (skill legal), "≥ 100,000 yuan → high-balance teams" (skill
high_balance), "debtors in 广东省 → Cantonese-speaking teams" (skill cantonese), "everything
else → all teams". Each skill pool gets at most its fair share from its own rule, and the
last rule evens out the total load, so the spread is measured over all collectors.

Floor (same run, same data): the least work that records and applies the same assignment —
COPY the (case, collector) pairs into an unindexed table and one ``UPDATE … SET assignee_id
= … FROM`` it, applied to ``bench_cases``, a copy of the cases table with all its indexes
made before the run (so it is as fresh as the table the commit updates). It pays the same
index maintenance as the commit (assignee_id is indexed, so no HOT update).

    .venv/bin/python bench/allocate.py --cases 1000000 --collectors 1000 --db postgres
    .venv/bin/python bench/allocate.py --cases 1000000 --collectors 1000

``--reuse`` keeps the generated data (before the preview, with the floor's copy of the cases
table) as a snapshot, ``var/bench/allocate-snapshot-….sqlite3`` or the PostgreSQL database
``recoup_bench_alloc_snap_…``, and later runs with the same sizes, rules and seed start from
it instead of generating the data again (2–3 minutes at 1M). Delete the snapshot by hand.
Runs take ``var/bench/allocate.lock``: a second run at the same time stops at once.
"""

from __future__ import annotations

import argparse
import cProfile
import math
import os
import pstats
import random
import shutil
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from _lock import single_run_lock  # bench/_lock.py (a script's own folder is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DIR = ROOT / "var" / "bench"
SQLITE_PATH = BENCH_DIR / "allocate.sqlite3"
# Another PostgreSQL server (a tuned one, say) on this host: RECOUP_BENCH_PG_PORT=5433.
PG_PORT = int(os.environ.get("RECOUP_BENCH_PG_PORT", "5432"))
PG_DBNAME = "recoup_bench_alloc"
PG_ADMIN_URL = f"postgresql://postgres@127.0.0.1:{PG_PORT}/postgres"
PG_URL = f"postgres://postgres@127.0.0.1:{PG_PORT}/{PG_DBNAME}"

parser = argparse.ArgumentParser(description="Allocation of open cases, preview + commit")
parser.add_argument("--cases", type=int, default=1_000_000)
parser.add_argument("--collectors", type=int, default=1_000)
parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
parser.add_argument("--seed", type=int, default=20261122)
parser.add_argument("--profile", action="store_true", help="cProfile the preview (times inflate)")
parser.add_argument(
    "--reuse",
    action="store_true",
    help="keep the generated data as a snapshot (a SQLite file or a PostgreSQL template "
    "database) and start from it when the same sizes, rules and seed run again",
)
parser.add_argument(
    "--rules",
    choices=["skills", "single"],
    default="skills",
    help="skills: four rules routing by skill (default); single: one rule over all teams",
)
ARGS = parser.parse_args()

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("RECOUP_DEBUG", "1")
os.environ["RECOUP_DATABASE_URL"] = (
    PG_URL if ARGS.db == "postgres" else f"sqlite:///{SQLITE_PATH.relative_to(ROOT)}"
)


SNAPSHOT_KEY = f"{ARGS.cases}_{ARGS.collectors}_{ARGS.rules}_{ARGS.seed}"
SQLITE_SNAPSHOT = BENCH_DIR / f"allocate-snapshot-{SNAPSHOT_KEY}.sqlite3"
PG_SNAPSHOT = f"recoup_bench_alloc_snap_{SNAPSHOT_KEY}"


def reset_database() -> bool:
    """A fresh database; True when it was restored from a ``--reuse`` snapshot."""
    if ARGS.db == "postgres":
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DBNAME} WITH (FORCE)")
            if (
                ARGS.reuse
                and conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", [PG_SNAPSHOT]
                ).fetchone()
            ):
                conn.execute(f"CREATE DATABASE {PG_DBNAME} TEMPLATE {PG_SNAPSHOT}")
                return True
            conn.execute(f"CREATE DATABASE {PG_DBNAME}")
        return False
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(str(SQLITE_PATH) + suffix).unlink(missing_ok=True)
    if ARGS.reuse and SQLITE_SNAPSHOT.exists():
        shutil.copyfile(SQLITE_SNAPSHOT, SQLITE_PATH)
        return True
    return False


def save_snapshot() -> None:
    """After setup: the data as generated, for the next ``--reuse`` run."""
    if ARGS.db == "sqlite":
        import sqlite3

        # SQLite's backup API: a consistent copy, whatever is still in the write-ahead log.
        SQLITE_SNAPSHOT.unlink(missing_ok=True)
        connection.ensure_connection()
        target = sqlite3.connect(SQLITE_SNAPSHOT)
        try:
            connection.connection.backup(target)
        finally:
            target.close()
        return
    import psycopg

    connection.close()  # a template database must have no other connection
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_SNAPSHOT}")
        conn.execute(f"CREATE DATABASE {PG_SNAPSHOT} TEMPLATE {PG_DBNAME}")


# Runs delete and restore the same bench database: one at a time.
LOCK = single_run_lock(BENCH_DIR, "allocate")  # held until the process ends
RESTORED = reset_database()

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from recoup.accounts.models import Organisation, OrgUnit, Role, RoleAssignment, Team, User  # noqa: E402
from recoup.allocation import services  # noqa: E402
from recoup.allocation.models import CollectorProfile, RuleSet  # noqa: E402
from recoup.allocation.services import RuleInput, TargetInput  # noqa: E402
from recoup.cases.models import Case  # noqa: E402
from recoup.clients.models import Contract  # noqa: E402
from recoup.core.bulk import insert_rows  # noqa: E402
from recoup.core.clock import now  # noqa: E402
from recoup.core.db import refresh_planner_statistics  # noqa: E402
from recoup.demo.services import DEMO_ORG_CODE, demo_seed  # noqa: E402

STAGES = ["M1", "M1", "M1", "M2", "M2", "M3", "M4", "M5", "M6+"]
PROVINCES = ["北京市", "上海市", "广东省", "江苏省", "浙江省", "四川省", "湖北省", "山东省"]


def single_rule(teams: list[Team]) -> list[RuleInput]:
    return [RuleInput(name="全部", targets=[TargetInput(team_id=t.pk) for t in teams])]


def setup() -> dict[str, Any]:
    call_command("migrate", verbosity=0)
    demo_seed(cases=0)
    org = Organisation.objects.get(code=DEMO_ORG_CODE)
    branch = OrgUnit.objects.filter(organisation=org, kind="branch").order_by("code").first()
    assert branch is not None
    contract = Contract.objects.get(organisation=org, client__code="bank-a")
    actor = User.objects.get(organisation=org, username="hq")
    rng = random.Random(ARGS.seed)
    today = now().date()
    teams = [
        Team.objects.create(organisation=org, branch=branch, name=f"B组{t:02d}", code=f"b{t:02d}")
        for t in range(math.ceil(ARGS.collectors / 20))
    ]
    hashed = "!"  # unusable password: these people never log in
    users = User.objects.bulk_create(
        User(
            username=f"bench{i:05d}",
            password=hashed,
            organisation=org,
            unit=branch,
            team=teams[i // 20],
            display_name=f"催收员{i:05d}",
            training_valid_until=today + timedelta(days=365),
            nda_valid_until=today + timedelta(days=365),
        )
        for i in range(ARGS.collectors)
    )
    collector_role = Role.objects.get(code=Role.Code.COLLECTOR)
    RoleAssignment.objects.bulk_create(RoleAssignment(user=u, role=collector_role) for u in users)
    n_teams = len(teams)
    # Each skill pool is at least its fair share of the collectors for the cases its rule
    # routes to it, so the last rule ("everything else → all teams") can even out the totals.
    legal_teams = teams[: max(1, n_teams // 5)]  # M6+ (1/9 of cases) → 1/5 of the teams
    high_teams = teams[-max(1, n_teams // 10) :]  # ≥ 100,000 yuan (≈ 0.6 %) → 1/10
    # 广东省 (1/8 of the debtors) → 1/7 of the teams (at least a fair share: 50 // 8 would be 6)
    cantonese_teams = [t for i, t in enumerate(teams) if i % 7 == 3]
    capacity = math.ceil(ARGS.cases / ARGS.collectors * 1.2)
    profiles = []
    for u in users:
        skills = []
        if u.team in legal_teams:
            skills.append("legal")
        if u.team in high_teams:
            skills.append("high_balance")
        if u.team in cantonese_teams:
            skills.append("cantonese")
        profiles.append(
            CollectorProfile(
                organisation=org, user=u, max_open_cases=capacity, skills=skills, weight=1
            )
        )
    CollectorProfile.objects.bulk_create(profiles)
    # Debtors and cases, straight into the tables (COPY / executemany).
    n_debtors = int(ARGS.cases / 1.1)
    ts = now()
    is_pg = connection.vendor == "postgresql"
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT COALESCE(MAX(id), 0) FROM cases_debtor")
            first_debtor = int(cursor.fetchone()[0]) + 1
        insert_rows(
            "cases_debtor",
            [
                "id",
                "organisation_id",
                "uid",
                "pii",
                "pii_key_id",
                "id_number_bidx",
                "name_bidx",
                "province",
                "city",
                "gender",
                "created_at",
                "updated_at",
            ],
            (
                (
                    first_debtor + d,
                    org.pk,
                    f"{d:032x}" if not is_pg else f"00000000-0000-4000-8000-{d:012x}",
                    b"",
                    "bench",
                    f"b{d:031x}",
                    f"n{d:031x}",
                    PROVINCES[d % len(PROVINCES)],
                    "",
                    "M",
                    ts,
                    ts,
                )
                for d in range(n_debtors)
            ),
        )
        if is_pg:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence('cases_debtor', 'id'), "
                    "(SELECT MAX(id) FROM cases_debtor))"
                )

        def cases() -> Any:
            for i in range(ARGS.cases):
                debtor = first_debtor + (i if i < n_debtors else rng.randrange(n_debtors))
                yuan = min(200_000.0, max(500.0, rng.lognormvariate(math.log(8000), 1.0)))
                total = Decimal(round(yuan * 100)).scaleb(-2)
                yield (
                    org.pk,
                    contract.client_id,
                    contract.pk,
                    debtor,
                    f"BA{i:08d}",
                    "card",
                    b"",
                    "bench",
                    f"a{i:031x}",
                    "CNY",
                    total,
                    Decimal(0),
                    Decimal(0),
                    total,
                    total,
                    30 * STAGES.index(STAGES[i % len(STAGES)]) + 15,
                    STAGES[i % len(STAGES)],
                    branch.pk,
                    "",
                    "pending",
                    ts,
                    ts,
                    ts,
                    ts,
                )

        insert_rows(
            "cases_case",
            [
                "organisation_id",
                "client_id",
                "contract_id",
                "debtor_id",
                "client_case_number",
                "product",
                "account_sealed",
                "account_key_id",
                "account_bidx",
                "currency",
                "principal",
                "interest",
                "fees",
                "total_owed",
                "entrusted_amount",
                "overdue_days",
                "stage",
                "branch_id",
                "region",
                "status",
                "status_changed_at",
                "placed_at",
                "created_at",
                "updated_at",
            ],
            cases(),
        )
    refresh_planner_statistics()
    if is_pg:
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
    rule_set = services.rule_set_save(
        contract=contract,
        name="bench",
        actor=actor,
        keep_debtor_together=True,
        rules=single_rule(teams)
        if ARGS.rules == "single"
        else [
            RuleInput(
                name="M6+ 法务",
                filters={"stages": ["M6+"]},
                required_skills=["legal"],
                targets=[TargetInput(team_id=t.pk) for t in legal_teams],
            ),
            RuleInput(
                name="高额",
                filters={"min_balance": "100000"},
                required_skills=["high_balance"],
                targets=[TargetInput(team_id=t.pk) for t in high_teams],
            ),
            RuleInput(
                name="粤语",
                filters={"provinces": ["广东省"]},
                required_skills=["cantonese"],
                targets=[TargetInput(team_id=t.pk) for t in cantonese_teams],
            ),
            RuleInput(name="其余", targets=[TargetInput(team_id=t.pk) for t in teams]),
        ],
    )
    return {"actor": actor, "rule_set": rule_set, "capacity": capacity, "org": org}


def restored_context() -> dict[str, Any]:
    """What ``setup`` returns, read back from a restored snapshot (migrated to this code)."""
    call_command("migrate", verbosity=0)
    org = Organisation.objects.get(code=DEMO_ORG_CODE)
    return {
        "actor": User.objects.get(organisation=org, username="hq"),
        "rule_set": RuleSet.objects.get(organisation=org, name="bench"),
        "capacity": math.ceil(ARGS.cases / ARGS.collectors * 1.2),
        "org": org,
    }


def _copy_cases_table() -> None:
    """bench_cases: the cases as they were before the commit, with every index cases_case has."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("CREATE TABLE bench_cases (LIKE cases_case INCLUDING ALL)")
            cursor.execute("INSERT INTO bench_cases SELECT * FROM cases_case")
            cursor.execute("UPDATE bench_cases SET assignee_id = NULL, team_id = NULL")
            cursor.execute("VACUUM (ANALYZE) bench_cases")
            return
        cursor.execute("SELECT sql FROM sqlite_master WHERE name = 'cases_case'")
        (table_sql,) = cursor.fetchone()
        cursor.execute(table_sql.replace('"cases_case"', '"bench_cases"', 1))
        cursor.execute("INSERT INTO bench_cases SELECT * FROM cases_case")
        cursor.execute("UPDATE bench_cases SET assignee_id = NULL, team_id = NULL")
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
            "AND tbl_name = 'cases_case' AND sql IS NOT NULL"
        )
        for name, sql in cursor.fetchall():
            cursor.execute(
                sql.replace(f'"{name}"', f'"bench_{name}"', 1).replace(
                    'ON "cases_case"', 'ON "bench_cases"'
                )
            )


def floor(run_id: int) -> float:
    """COPY the same (case, collector) pairs into a plain table, then one UPDATE … FROM a
    fresh copy of the cases table with all its indexes (the least work that applies the same
    assignment; the copy is made outside the timing, from the cases before the commit)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT case_id, collector_id FROM allocation_allocationline "
            "WHERE run_id = %s AND collector_id IS NOT NULL",
            [run_id],
        )
        pairs = cursor.fetchall()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
    t0 = time.perf_counter()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE bench_floor (case_id bigint, collector_id bigint)")
        insert_rows("bench_floor", ["case_id", "collector_id"], pairs)
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE bench_cases SET assignee_id = f.collector_id FROM bench_floor f "
                "WHERE bench_cases.id = f.case_id"
            )
    seconds = time.perf_counter() - t0
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_floor")
        cursor.execute("DROP TABLE bench_cases")
    return seconds


def main() -> None:
    print(
        f"allocate: cases={ARGS.cases} collectors={ARGS.collectors} db={ARGS.db} "
        f"(python {sys.version.split()[0]}, {os.cpu_count()} cpus)"
    )
    t = time.perf_counter()
    if RESTORED:
        ctx = restored_context()
        print(f"setup (restored from the --reuse snapshot): {time.perf_counter() - t:.1f} s")
    else:
        ctx = setup()
        print(f"setup (data generated and loaded): {time.perf_counter() - t:.1f} s")
        _copy_cases_table()  # for the floor, before anything is assigned
        if ARGS.reuse:
            save_snapshot()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
    profiler = cProfile.Profile() if ARGS.profile else None
    t0 = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    run = services.run_preview_rules(rule_set=ctx["rule_set"], actor=ctx["actor"])
    if profiler is not None:
        profiler.disable()
        pstats.Stats(profiler).sort_stats(
            os.environ.get("BENCH_PROFILE_SORT", "cumulative")
        ).print_stats(int(os.environ.get("BENCH_PROFILE_LINES", "25")))
    t1 = time.perf_counter()
    run = services.run_commit(run=run, actor=ctx["actor"])
    t2 = time.perf_counter()
    preview, commit = t1 - t0, t2 - t1
    print(f"preview {preview:.2f} s, commit {commit:.2f} s, total {t2 - t0:.2f} s")
    # Checks: every case placed once or reported; capacity; spreads over all collectors.
    per = run.result["collectors"]
    balances = [Decimal(r["balance"]) for r in per]
    counts = [r["cases"] for r in per]
    mean = sum(balances) / len(balances)
    spread_pct = float((max(balances) - min(balances)) / mean * 100)
    assigned = Case.objects.filter(assignee__isnull=False).count()
    pending = Case.objects.filter(assignee__isnull=True).count()
    unplaced = sum(run.result["unplaced"].values())
    problems = []
    if assigned != run.placed_count:
        problems.append(f"assigned {assigned} != placed {run.placed_count}")
    if pending != unplaced:
        problems.append(f"pending {pending} != unplaced {unplaced}")
    if max(counts) > ctx["capacity"]:
        problems.append(f"capacity exceeded: {max(counts)} > {ctx['capacity']}")
    print(
        f"placed {run.placed_count}, unplaced {unplaced} {run.result['unplaced']}; "
        f"collectors with cases {len(per)}; counts {min(counts)}–{max(counts)} "
        f"(mean {statistics.mean(counts):.1f}); balance spread {spread_pct:.3f} %"
    )
    for problem in problems:
        print("CHECK FAILED:", problem)
    floor_s = floor(run.pk)
    print(f"floor (COPY pairs + one UPDATE … FROM): {floor_s:.2f} s")
    total = t2 - t0
    print(
        f"RESULT allocate cases={ARGS.cases} collectors={ARGS.collectors} db={ARGS.db} "
        f"rules={ARGS.rules} "
        f"seconds={total:.2f} preview_seconds={preview:.2f} commit_seconds={commit:.2f} "
        f"floor_seconds={floor_s:.2f} floor_ratio={total / floor_s:.2f} "
        f"balance_spread_pct={spread_pct:.3f} count_spread={max(counts) - min(counts)} "
        f"placed={run.placed_count} checks={'ok' if not problems else 'failed'}"
    )


if __name__ == "__main__":
    main()

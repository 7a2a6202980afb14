"""payments: a client's repayment file (还款明细) of 500k rows matched and posted.

The figure is the wall time from the file on disk to every payment posted, as the admin
assistant waits for it: ``import_upload`` (stored, SHA-256, headers read) + ``import_confirm``
+ ``import_run``, which reads and normalises the rows (polars), matches them to cases by the
client's case number (a join in polars), stages them through COPY in a temporary table, finds
repeats and the other matches in set-based SQL, and in the same transaction posts them
(``recoup.money.posting.post_job``): payments written, exceptions set aside (over-balance,
returned cases), one ledger entry per payment, case balances lowered, promises re-evaluated,
cases paid in full closed (结清). ``post`` is that last step alone.

Data (fresh database each run: PostgreSQL ``recoup_bench_pay`` or SQLite
``var/bench/payments.sqlite3``): the demo agency without cases, 200 collectors, ``--cases``
open cases of one contract (balances lognormal, median ≈ 8,000 yuan), 5 % of them with an open
promise; the file: ``--rows`` payments, 97 % to existing cases by case number (some cases
twice), 2 % to unknown numbers (unmatched), 1 % to returned cases; amounts 5–60 % of the
balance, 3 % of cases paid in full (they close), a few more than the balance.

Floor (same run, same data, rolled back): the least work that applies the same file — COPY
its (case number, amount) pairs into an unindexed table and one ``UPDATE cases_case SET
total_owed = total_owed - s.paid FROM (… JOIN on the case number GROUP BY case)``.

Reconciliation (the second figure): ``--month-payments`` (2M) posted payments of the same
cases are loaded for the previous month, and the client's statement for that month is
written: 98.5 % of them as they are, 1 % with another amount, 0.5 % missing (only in
Recoup), plus 0.5 % lines Recoup does not have. ``reconcile`` is ``statement_upload`` end to
end: the CSV read and checked (count, total, month, currency, repeats), the lines matched to
payments by transaction id, the breaks written, the counters. Its floor: COPY the (txn id,
amount) pairs into a plain table and one join counting the matches.

    .venv/bin/python bench/payments.py --cases 1000000 --rows 500000 --db postgres
    .venv/bin/python bench/payments.py --cases 1000000 --rows 500000
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import math
import os
import pstats
import random
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DIR = ROOT / "var" / "bench"
SQLITE_PATH = BENCH_DIR / "payments.sqlite3"
PG_DBNAME = "recoup_bench_pay"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL = f"postgres://postgres@127.0.0.1:5432/{PG_DBNAME}"

parser = argparse.ArgumentParser(description="A repayment file matched and posted")
parser.add_argument("--cases", type=int, default=1_000_000)
parser.add_argument("--rows", type=int, default=500_000)
parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
parser.add_argument("--seed", type=int, default=20261123)
parser.add_argument("--profile", action="store_true", help="cProfile the run (times inflate)")
parser.add_argument("--trace", action="store_true", help="time each SQL statement of the run")
parser.add_argument(
    "--month-payments",
    type=int,
    default=2_000_000,
    help="posted payments in the reconciled month (0: skip the reconciliation figure)",
)
ARGS = parser.parse_args()

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("RECOUP_DEBUG", "1")
os.environ["RECOUP_DATABASE_URL"] = (
    PG_URL if ARGS.db == "postgres" else f"sqlite:///{SQLITE_PATH.relative_to(ROOT)}"
)


def reset_database() -> None:
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    if ARGS.db == "postgres":
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DBNAME} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {PG_DBNAME}")
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(str(SQLITE_PATH) + suffix).unlink(missing_ok=True)


reset_database()

import django  # noqa: E402

django.setup()

from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from recoup.accounts.models import Organisation, OrgUnit, Role, RoleAssignment, Team, User  # noqa: E402
from recoup.cases import ledger  # noqa: E402
from recoup.cases.models import Case  # noqa: E402
from recoup.clients.models import Contract  # noqa: E402
from recoup.core.bulk import insert_rows  # noqa: E402
from recoup.core.clock import now  # noqa: E402
from recoup.core.db import refresh_planner_statistics  # noqa: E402
from recoup.demo.services import DEMO_ORG_CODE, demo_seed  # noqa: E402
from recoup.intake import hooks  # noqa: E402
from recoup.intake import services as intake  # noqa: E402
from recoup.money import posting, reconcile  # noqa: E402
from recoup.money.models import Payment  # noqa: E402

UNUSABLE = "!"  # an unusable password: these people never log in
HEADERS = ["交易流水号", "案件编号", "还款金额", "还款日期", "还款渠道"]


def setup() -> dict[str, Any]:
    call_command("migrate", verbosity=0)
    demo_seed(cases=0)
    org = Organisation.objects.get(code=DEMO_ORG_CODE)
    branch = OrgUnit.objects.filter(organisation=org, kind="branch").order_by("code").first()
    assert branch is not None
    contract = Contract.objects.get(organisation=org, client__code="bank-a")
    clerk = User.objects.get(organisation=org, username="bj_assistant")
    rng = random.Random(ARGS.seed)
    today = now().date()
    teams = [
        Team.objects.create(organisation=org, branch=branch, name=f"P组{t:02d}", code=f"p{t:02d}")
        for t in range(10)
    ]
    users = User.objects.bulk_create(
        User(
            username=f"pay{i:04d}",
            password=UNUSABLE,
            organisation=org,
            unit=branch,
            team=teams[i // 20],
            display_name=f"催收员{i:04d}",
            training_valid_until=today + timedelta(days=365),
            nda_valid_until=today + timedelta(days=365),
        )
        for i in range(200)
    )
    role = Role.objects.get(code=Role.Code.COLLECTOR)
    RoleAssignment.objects.bulk_create(RoleAssignment(user=u, role=role) for u in users)
    ts = now()
    placed = ts - timedelta(days=40)
    is_pg = connection.vendor == "postgresql"
    balances: list[Decimal] = []
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
                    "北京市",
                    "",
                    "M",
                    ts,
                    ts,
                )
                for d in range(ARGS.cases)
            ),
        )

        def cases() -> Any:
            for i in range(ARGS.cases):
                yuan = min(200_000.0, max(500.0, rng.lognormvariate(math.log(8000), 1.0)))
                total = Decimal(round(yuan * 100)).scaleb(-2)
                balances.append(total)
                user = users[i % len(users)]
                status = "returned" if i % 100 == 99 else "collecting"
                yield (
                    org.pk,
                    contract.client_id,
                    contract.pk,
                    first_debtor + i,
                    f"PC{i:08d}",
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
                    60,
                    "M2",
                    branch.pk,
                    user.team_id,
                    user.pk,
                    "",
                    status,
                    ts,
                    placed,
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
                "team_id",
                "assignee_id",
                "region",
                "status",
                "status_changed_at",
                "placed_at",
                "created_at",
                "updated_at",
            ],
            cases(),
        )
        if is_pg:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence('cases_debtor', 'id'), "
                    "(SELECT MAX(id) FROM cases_debtor))"
                )
        with connection.cursor() as cursor:
            cursor.execute("SELECT MIN(id) FROM cases_case WHERE client_case_number LIKE 'PC%%'")
            first_case = int(cursor.fetchone()[0])
        # 5 % of the cases hold an open promise, due in the coming week.
        insert_rows(
            "contact_promise",
            [
                "organisation_id",
                "case_id",
                "amount",
                "due_on",
                "status",
                "paid_amount",
                "created_by_id",
                "created_at",
                "updated_at",
            ],
            (
                (
                    org.pk,
                    first_case + i,
                    (balances[i] / 10).quantize(Decimal("0.01")),
                    today + timedelta(days=1 + i % 7),
                    "open",
                    Decimal(0),
                    users[0].pk,
                    placed,
                    placed,
                )
                for i in range(0, ARGS.cases, 20)
            ),
        )
    refresh_planner_statistics()
    return {"org": org, "contract": contract, "clerk": clerk, "balances": balances, "rng": rng}


def write_file(ctx: dict[str, Any]) -> tuple[Path, list[tuple[str, Decimal]]]:
    rng: random.Random = ctx["rng"]
    balances: list[Decimal] = ctx["balances"]
    today = now().date()
    path = BENCH_DIR / f"repayments-{ARGS.rows}.csv"
    pairs: list[tuple[str, Decimal]] = []
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(HEADERS)
        for n in range(ARGS.rows):
            roll = rng.random()
            if roll < 0.02:
                number, amount = f"UNKNOWN{n:08d}", Decimal(rng.randrange(100_00, 900_00)) / 100
            else:
                i = rng.randrange(ARGS.cases)
                number = f"PC{i:08d}"
                share = Decimal(1) if roll > 0.97 else Decimal(rng.randrange(5, 60)) / 100
                amount = (balances[i] * share).quantize(Decimal("0.01")) or Decimal("1.00")
            paid = today - timedelta(days=rng.randrange(0, 20))
            out.writerow([f"TX{n:010d}", number, str(amount), paid.isoformat(), "手机银行"])
            pairs.append((number, amount))
    return path, pairs


def floor(pairs: list[tuple[str, Decimal]]) -> float:
    """COPY the pairs, one UPDATE of the balances by case number; rolled back."""
    t0 = time.perf_counter()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE bench_floor (number varchar(80), amount numeric(16,2))")
        insert_rows("bench_floor", ["number", "amount"], pairs)
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE cases_case SET total_owed = total_owed - s.paid FROM ("
                " SELECT c.id AS cid, SUM(f.amount) AS paid FROM bench_floor f"
                " JOIN cases_case c ON c.contract_id = %s AND c.client_case_number = f.number"
                " GROUP BY c.id) s WHERE cases_case.id = s.cid AND cases_case.total_owed >= s.paid",
                [Contract.objects.get(client__code="bank-a", organisation__code=DEMO_ORG_CODE).pk],
            )
        seconds = time.perf_counter() - t0
        transaction.set_rollback(True)
    return seconds


def reconcile_figure(ctx: dict[str, Any]) -> tuple[float, float, Any]:
    """Load a month of posted payments, write its statement, time the reconciliation."""
    rng: random.Random = ctx["rng"]
    org, contract, clerk = ctx["org"], ctx["contract"], ctx["clerk"]
    first_of_this = now().date().replace(day=1)
    month = (first_of_this - timedelta(days=1)).replace(day=1)
    days = (first_of_this - month).days
    ts = now()
    with connection.cursor() as cursor:
        cursor.execute("SELECT MIN(id) FROM cases_case WHERE client_case_number LIKE 'PC%%'")
        first_case = int(cursor.fetchone()[0])
    n = ARGS.month_payments
    t = time.perf_counter()
    amounts = [Decimal(rng.randrange(100, 500_000)).scaleb(-2) for _ in range(n)]
    with transaction.atomic():
        insert_rows(
            "money_payment",
            [
                "organisation_id",
                "contract_id",
                "case_id",
                "source",
                "status",
                "exception_code",
                "transaction_id",
                "amount",
                "currency",
                "paid_on",
                "channel",
                "match_method",
                "client_case_number",
                "account_bidx",
                "id_number_bidx",
                "evidence",
                "evidence_sha256",
                "note",
                "created_at",
                "posted_at",
                "reason",
            ],
            (
                (
                    org.pk,
                    contract.pk,
                    first_case + i % ARGS.cases,
                    "file",
                    "posted",
                    "",
                    f"M{i:010d}",
                    amounts[i],
                    "CNY",
                    month + timedelta(days=i % days),
                    "",
                    "case_number",
                    f"PC{i % ARGS.cases:08d}",
                    "",
                    "",
                    "",
                    "",
                    "",
                    ts,
                    ts,
                    "",
                )
                for i in range(n)
            ),
        )
    refresh_planner_statistics()
    print(f"  {n} posted payments for {month:%Y-%m} loaded in {time.perf_counter() - t:.1f} s")
    path = BENCH_DIR / f"statement-{n}.csv"
    pairs: list[tuple[str, Decimal]] = []
    total = Decimal(0)
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["交易流水号", "案件编号", "还款金额", "还款日期"])
        for i in range(n):
            roll = i % 200
            if roll == 0:
                continue  # 0.5 %: only in Recoup
            amount = amounts[i] + Decimal("1.00") if roll in (1, 2) else amounts[i]
            paid = month + timedelta(days=i % days)
            out.writerow([f"M{i:010d}", f"PC{i % ARGS.cases:08d}", str(amount), paid.isoformat()])
            pairs.append((f"M{i:010d}", amount))
            total += amount
            if roll == 3:  # 0.5 %: only in the client's statement
                extra = Decimal("12.34")
                out.writerow(
                    [f"X{i:010d}", f"PC{i % ARGS.cases:08d}", str(extra), paid.isoformat()]
                )
                pairs.append((f"X{i:010d}", extra))
                total += extra
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
    t0 = time.perf_counter()
    with path.open("rb") as fh:
        statement = reconcile.statement_upload(
            actor=clerk,
            data=reconcile.StatementUpload(
                contract=contract,
                month=month,
                file_name=path.name,
                stream=fh,
                currency="CNY",
                declared_count=len(pairs),
                declared_total=total,
            ),
        )
    seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE bench_stmt (txn varchar(80), amount numeric(16,2))")
        insert_rows("bench_stmt", ["txn", "amount"], pairs)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*) FROM bench_stmt s JOIN money_payment p ON p.contract_id = %s "
                "AND p.transaction_id = s.txn AND p.status = 'posted' AND p.amount = s.amount",
                [contract.pk],
            )
            cursor.fetchone()
        floor_s = time.perf_counter() - t1
        transaction.set_rollback(True)
    return seconds, floor_s, statement


def main() -> None:
    print(
        f"payments: cases={ARGS.cases} rows={ARGS.rows} db={ARGS.db} "
        f"(python {sys.version.split()[0]}, {os.cpu_count()} cpus)"
    )
    t = time.perf_counter()
    ctx = setup()
    path, pairs = write_file(ctx)
    print(f"setup (data generated and loaded, file written): {time.perf_counter() - t:.1f} s")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
    post_seconds: list[float] = []

    def timed_post(job: Any) -> int:
        t0 = time.perf_counter()
        n = posting.post_job(job)
        post_seconds.append(time.perf_counter() - t0)
        return n

    hooks._HANDLERS[:] = [timed_post]  # the same handler, timed
    if ARGS.trace:
        from recoup.intake import incremental

        def traced(inner: Any) -> Any:
            def run(sql: str, params: list[Any]) -> int:
                t = time.perf_counter()
                n = inner(sql, params)
                print(
                    f"  {time.perf_counter() - t:7.2f} s {n:>8} rows  {' '.join(sql.split())[:110]}"
                )
                return int(n)

            return run

        posting.execute = traced(posting.execute)  # type: ignore[assignment]
        incremental.execute = traced(incremental.execute)  # type: ignore[assignment]

        def phase(module: Any, name: str) -> None:
            inner = getattr(module, name)

            def run(*args: Any, **kwargs: Any) -> Any:
                t = time.perf_counter()
                out = inner(*args, **kwargs)
                print(f"  {time.perf_counter() - t:7.2f} s phase {name}")
                return out

            setattr(module, name, run)

        for name in ("stage_incremental", "filter_incremental", "apply_incremental"):
            phase(incremental, name)
        for name in ("import_upload", "import_confirm"):
            phase(intake, name)
        for name in ("_readmit", "_post", "after_posting", "analyze_tables"):
            phase(posting, name)
        phase(posting, "apply_payments")
        from django.db.backends.base.base import BaseDatabaseWrapper

        phase(BaseDatabaseWrapper, "_commit")
    profiler = cProfile.Profile() if ARGS.profile else None
    t0 = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    with path.open("rb") as fh:
        upload = SimpleUploadedFile(path.name, fh.read(), content_type="text/csv")
    job = intake.import_upload(
        upload=intake.Upload(
            contract=ctx["contract"], kind="repayments", file=upload, file_name=path.name
        ),
        actor=ctx["clerk"],
    )
    intake.import_confirm(job=job, columns=job.columns, actor=ctx["clerk"])
    job = intake.import_run(job_id=job.pk)
    if profiler is not None:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    total = time.perf_counter() - t0
    assert job.status == "succeeded", (job.status, job.error_message)
    counts = {
        s: Payment.objects.filter(job=job, status=s).count()
        for s in ("posted", "unmatched", "exception")
    }
    problems = []
    if sum(counts.values()) + job.rows_duplicate != ARGS.rows:
        problems.append(f"rows {sum(counts.values())} + dup {job.rows_duplicate} != {ARGS.rows}")
    mismatched = ledger.mismatches(limit=5)
    if mismatched:
        problems.append(f"ledger mismatches: {mismatched}")
    paid_off = Case.objects.filter(status="paid_off").count()
    print(
        f"posted {counts['posted']}, unmatched {counts['unmatched']}, exceptions "
        f"{counts['exception']}, paid off {paid_off}; import+post {total:.2f} s, "
        f"post step {post_seconds[0]:.2f} s"
    )
    floors = [floor(pairs) for _ in range(3)]
    floor_s = sorted(floors)[1]
    print(f"floor (COPY pairs + one UPDATE, median of 3): {floor_s:.2f} s")
    reconcile_part = ""
    if ARGS.month_payments:
        rec_s, rec_floor, st = reconcile_figure(ctx)
        n = ARGS.month_payments
        expected = (n // 200, n - n // 200 - 2 * (n // 200), 2 * (n // 200), n // 200)
        got = (
            st.breaks.filter(kind="only_ours").count(),
            st.matched_count,
            st.breaks.filter(kind="differs").count(),
            st.breaks.filter(kind="only_client").count(),
        )
        if got != expected:
            problems.append(f"reconciliation {got} != {expected}")
        print(
            f"reconcile {rec_s:.2f} s: {st.lines_count} lines, {st.matched_count} matched, "
            f"{st.breaks_open} breaks; floor {rec_floor:.2f} s"
        )
        reconcile_part = (
            f"reconcile_seconds={rec_s:.2f} reconcile_floor_seconds={rec_floor:.2f} "
            f"month_payments={n} statement_lines={st.lines_count} breaks={st.breaks_open} "
        )
    print("checks:", "OK" if not problems else "; ".join(problems))
    print(
        f"RESULT payments rows={ARGS.rows} cases={ARGS.cases} db={ARGS.db} "
        f"post_seconds={total:.2f} post_step_seconds={post_seconds[0]:.2f} "
        f"floor_seconds={floor_s:.2f} ratio={total / floor_s:.1f} "
        f"posted={counts['posted']} unmatched={counts['unmatched']} "
        f"exceptions={counts['exception']} paid_off={paid_off} "
        f"{reconcile_part or 'reconcile_seconds=skipped '}"
        f"checks={'ok' if not problems else 'FAILED'}"
    )


if __name__ == "__main__":
    main()

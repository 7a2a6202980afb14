"""Case-list latency at scale: what a user waits for on the first page, searches and filters.

Loads N synthetic cases (the demo agency: 2 branches, 4 teams, 2 clients) into the bench
database, then measures the median latency of:

  hq_page         HQ user, first page: Paginator(case_list_for_user(hq), 50).get_page(1),
                  the count included, 50 rows materialised with masked names
                  (selectors.case_masked_summary: decrypts the debtor record and the account)
  collector_page  a collector's first page (scope "own")
  phone_search    HQ user, q = a debtor's mobile (blind index on contact points)
  id_search       HQ user, q = a debtor's ID-card number (blind index on debtors)
  filter          HQ user, status=collecting + client=bank-a
  floor           raw SQL on the same connection: SELECT count(*) FROM cases_case WHERE
                  organisation_id=? plus SELECT <case columns> … ORDER BY placed_at DESC, id DESC
                  LIMIT 50

Each iteration also loads the user by username (as the auth middleware does per request) so
the role and unit look-ups are counted. Scenarios run round-robin, one warm-up then
``--repeat`` timed rounds; medians are reported. ``--explain`` prints every SQL statement of
one run of each scenario with its time and the plan of the slow ones; ``--proposed``
re-measures with candidate indexes (created in the bench database, dropped again) and a
candidate search that resolves case ids first. Planner statistics are refreshed before
measuring (``recoup.core.db.refresh_planner_statistics``), as imports and the nightly
``manage.py db_analyze`` do in production.

Loading (reported, not the figure): ``demo_seed(cases=0)`` for the agency, people and
contracts, then the cases through Recoup's own builders (debtor_build, contact_point_build,
case_build) with the rows written by executemany (SQLite) or COPY (PostgreSQL) in one
transaction; ``--loader orm`` uses bulk_create(batch_size=5000) instead. A loaded database
with the same N is reused; ``--reload`` forces a fresh one.

    .venv/bin/python bench/case_list.py --cases 200000
    .venv/bin/python bench/case_list.py --cases 200000 --db postgres
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)

PG_URL = "postgres://postgres@127.0.0.1:5432/recoup_bench"
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
PG_DBNAME = "recoup_bench"
SQLITE_PATH = ROOT / "var" / "bench" / "case_list.sqlite3"

parser = argparse.ArgumentParser(description="Case-list latency at scale")
parser.add_argument("--cases", type=int, default=200_000)
parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
parser.add_argument("--repeat", type=int, default=7)
parser.add_argument("--reload", action="store_true", help="drop and load the bench database")
parser.add_argument("--loader", choices=["raw", "orm"], default="raw")
parser.add_argument("--explain", action="store_true", help="print SQL, timings and plans")
parser.add_argument(
    "--proposed",
    action="store_true",
    help="also measure with candidate indexes and the candidate search (bench database only)",
)
ARGS = parser.parse_args()

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("RECOUP_DEBUG", "1")
if ARGS.db == "postgres":
    os.environ["RECOUP_DATABASE_URL"] = PG_URL
else:
    os.environ.setdefault("RECOUP_DATABASE_URL", "sqlite:///var/bench/case_list.sqlite3")


def pg_ensure_database(drop: bool) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [PG_DBNAME])
        exists = found.fetchone()
        if exists and drop:
            conn.execute(f"DROP DATABASE {PG_DBNAME} WITH (FORCE)")
            exists = None
        if not exists:
            conn.execute(f"CREATE DATABASE {PG_DBNAME}")


if ARGS.db == "postgres":
    pg_ensure_database(drop=False)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.core.paginator import Paginator  # noqa: E402
from django.db import connection, models, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from recoup.accounts.models import Organisation, OrgUnit, Team, User  # noqa: E402
from recoup.accounts.roles import VIEW  # noqa: E402
from recoup.cases import selectors  # noqa: E402
from recoup.cases.models import Case, ContactPoint, Debtor, Hold  # noqa: E402
from recoup.cases.permissions import cases_user_can  # noqa: E402
from recoup.cases.selectors import (  # noqa: E402
    CaseFilters,
    case_list_for_user,
    case_masked_summary,
)
from recoup.cases.services import (  # noqa: E402
    CaseInput,
    DebtorInput,
    case_build,
    contact_point_build,
    debtor_build,
)
from recoup.clients.models import Batch, Client, Contract  # noqa: E402
from recoup.core.clock import now  # noqa: E402
from recoup.core.db import refresh_planner_statistics  # noqa: E402
from recoup.demo.services import DEMO_ORG_CODE, THIRD_PARTY_ROLES, demo_seed  # noqa: E402
from recoup.demo.synthetic import PersonFactory  # noqa: E402

CHUNK = 5000
MONTHS = 12  # monthly batches per client: placed_at spread over a year, as real imports are
HOLD_SHARE = 0.01  # active stop-collection holds on 1 % of open cases
STATUSES = [
    (Case.Status.PENDING_ALLOCATION, 15),
    (Case.Status.ASSIGNED, 20),
    (Case.Status.IN_COLLECTION, 40),
    (Case.Status.PROMISED, 12),
    (Case.Status.ON_PLAN, 6),
    (Case.Status.PAID_OFF, 4),
    (Case.Status.SETTLED, 2),
    (Case.Status.RETURNED, 1),
]
BJ_PROVINCES = ("北京市", "山东省", "陕西省", "湖北省", "四川省")

# Candidate indexes tried by --proposed (created in the bench database, dropped afterwards).
# Every query carries organisation_id = ?, so the composite indexes lead with it: counts become
# index-only, and the page can walk (organisation_id, placed_at, id) and stop after 50 rows.
PROPOSED_INDEXES = {
    "bench_case_org_placed": "cases_case (organisation_id, placed_at DESC, id DESC)",
    "bench_case_org_number": "cases_case (organisation_id, client_case_number)",
    "bench_case_org_assignee": "cases_case (organisation_id, assignee_id, status)",
    "bench_case_org_team": "cases_case (organisation_id, team_id, status)",
    "bench_case_org_branch": "cases_case (organisation_id, branch_id, status)",
    "bench_case_org_client": "cases_case (organisation_id, client_id, status)",
    "bench_contact_org_bidx": "cases_contactpoint (organisation_id, value_bidx)",
    "bench_debtor_org_name": "cases_debtor (organisation_id, name_bidx)",
}
SEARCH_LIMIT = 500


# --------------------------------------------------------------------------- database setup


def reset_database() -> None:
    connection.close()
    if connection.vendor == "postgresql":
        pg_ensure_database(drop=True)
    else:
        name = Path(connection.settings_dict["NAME"])
        for suffix in ("", "-wal", "-shm"):
            Path(str(name) + suffix).unlink(missing_ok=True)
    call_command("migrate", verbosity=0)


def loaded_cases() -> int | None:
    try:
        org = Organisation.objects.filter(code=DEMO_ORG_CODE).first()
    except Exception:  # no tables yet
        return None
    return None if org is None else Case.objects.for_org(org).count()


# --------------------------------------------------------------------------- row writers


class RowWriter:
    """Writes unsaved model instances: executemany (SQLite) or COPY (PostgreSQL)."""

    def __init__(self, model: type[models.Model], stamp: Any) -> None:
        self.model = model
        self.table = model._meta.db_table
        self.fields = list(model._meta.concrete_fields)
        self.columns = [f.column for f in self.fields]
        self.stamp = stamp
        self.pg = connection.vendor == "postgresql"
        memo: dict[Any, Any] = {}
        convs: list[Callable[[Any], Any] | None] = []
        for f in self.fields:
            kind = f.get_internal_type()
            if self.pg or kind not in ("DateTimeField", "UUIDField", "DecimalField"):
                convs.append(None)  # psycopg and sqlite3 adapt these as they are
            elif kind == "DateTimeField":
                convs.append(lambda v, f=f: _memo(memo, v, f))
            else:
                convs.append(lambda v, f=f: f.get_db_prep_save(v, connection))
        self.convs = convs
        self.auto = [
            getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) for f in self.fields
        ]

    def rows(self, objs: Iterable[models.Model]) -> Iterable[tuple[Any, ...]]:
        spec = list(zip((f.attname for f in self.fields), self.convs, self.auto, strict=True))
        stamp = self.stamp
        for obj in objs:
            row = []
            for attname, conv, auto in spec:
                value = getattr(obj, attname)
                if auto and value is None:
                    value = stamp
                if conv is not None and value is not None:
                    value = conv(value)
                row.append(value)
            yield tuple(row)

    def write(self, objs: list[models.Model]) -> None:
        cols = ", ".join(connection.ops.quote_name(c) for c in self.columns)
        with connection.cursor() as cur:
            if self.pg:
                with cur.cursor.copy(f"COPY {self.table} ({cols}) FROM STDIN") as copy:
                    for row in self.rows(objs):
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(self.columns))
                # Table and column names come from the model's _meta, values are parameters.
                sql = f"INSERT INTO {self.table} ({cols}) VALUES ({marks})"  # noqa: S608
                cur.executemany(sql, list(self.rows(objs)))


def _memo(memo: dict[Any, Any], value: Any, field: models.Field) -> Any:
    got = memo.get(value)
    if got is None:
        got = memo[value] = field.get_db_prep_save(value, connection)
    return got


class OrmWriter:
    def __init__(self, model: type[models.Model], stamp: Any) -> None:
        self.model = model

    def write(self, objs: list[models.Model]) -> None:
        self.model._default_manager.bulk_create(objs, batch_size=CHUNK)


def next_id(model: type[models.Model]) -> int:
    return (model._default_manager.aggregate(m=models.Max("id"))["m"] or 0) + 1


def fix_sequences() -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cur:
        for model in (Debtor, ContactPoint, Case, Hold):
            table = model._meta.db_table
            seq = f"pg_get_serial_sequence('{table}', 'id')"
            cur.execute(f"SELECT setval({seq}, (SELECT max(id) FROM {table}))")  # noqa: S608


# --------------------------------------------------------------------------- loader


def load(n_cases: int, loader: str) -> dict[str, float]:
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    demo_seed(cases=0)
    timings["demo_seed(cases=0)"] = time.perf_counter() - t0

    org = Organisation.objects.get(code=DEMO_ORG_CODE)
    units = {u.code: u for u in OrgUnit.objects.filter(organisation=org)}
    teams = {t.code: t for t in Team.objects.filter(organisation=org)}
    contracts = {c.client.code: c for c in Contract.objects.filter(organisation=org)}
    collectors: dict[str, list[User]] = {code: [] for code in teams}
    for u in User.objects.filter(organisation=org, team__isnull=False).select_related("team"):
        if "collector" in u.role_codes:
            collectors[u.team.code].append(u)
    risk = User.objects.get(username="risk")

    rng = random.Random(4242)
    batches: dict[str, list[Batch]] = {key: [] for key in contracts}
    for key, contract in contracts.items():
        for month_back in range(MONTHS - 1, -1, -1):
            received = now() - timedelta(days=30 * month_back + 2)
            batch, _ = Batch.objects.get_or_create(
                organisation=org,
                contract=contract,
                reference=f"BENCH-{key.upper()}-{month_back:02d}",
                defaults={
                    "status": Batch.Status.IMPORTED,
                    "received_at": received,
                    "imported_at": received + timedelta(minutes=40),
                    "file_name": f"bench-{key}-{month_back:02d}.xlsx",
                },
            )
            batches[key].append(batch)

    # Synthetic inputs (Faker): generated first, timed apart from the build and the writes.
    t0 = time.perf_counter()
    factory = PersonFactory(7001)  # demo_seed used 2026 for its one person
    n_people = max(1, int(n_cases * 0.85))
    persons = [factory.person() for _ in range(n_people)]
    contact_names = [factory.contact_name() for _ in range(2000)]
    timings["synthetic people (Faker)"] = time.perf_counter() - t0

    stamp = now()
    writer_cls = RowWriter if loader == "raw" else OrmWriter
    w_debtor = writer_cls(Debtor, stamp)
    w_contact = writer_cls(ContactPoint, stamp)
    w_case = writer_cls(Case, stamp)
    w_hold = writer_cls(Hold, stamp)
    status_pop = [s for s, weight in STATUSES for _ in range(weight)]
    debtor_id, contact_id, case_id = next_id(Debtor), next_id(ContactPoint), next_id(Case)
    hold_ids = iter(range(next_id(Hold), 10**12))
    debtor_refs: list[tuple[int, str, str]] = []  # (id, province, region) for repeat cases
    build_s = write_s = 0.0
    counts = {"debtors": 0, "contacts": 0, "cases": 0, "holds": 0}

    def build_case(i: int, debtor: Debtor, province: str, region: str) -> Case:
        client_key = "bank-a" if (i % 5) < 3 else "bank-b"
        if i >= n_people:  # the same person placed by the other client
            client_key = "bank-b" if client_key == "bank-a" else "bank-a"
        product = Case.Product.CARD if client_key == "bank-a" else Case.Product.LOAN
        branch_code = "bj" if province in BJ_PROVINCES else "sh"
        overdue = rng.choice(
            [
                rng.randrange(1, 31),
                rng.randrange(31, 91),
                rng.randrange(91, 181),
                rng.randrange(181, 720),
            ]
        )
        principal = Decimal(rng.randrange(2_000_00, 200_000_00)) / 100
        interest = (principal * Decimal(rng.randrange(2, 25)) / 100).quantize(Decimal("0.01"))
        account = (
            "6225" + f"{rng.randrange(0, 10**12):012d}"
            if product == Case.Product.CARD
            else f"LN{rng.randrange(0, 10**14):014d}"
        )
        batch = rng.choice(batches[client_key])
        case = case_build(
            contract=contracts[client_key],
            debtor=debtor,
            branch=units[branch_code],
            batch=batch,
            placed_at=batch.imported_at,
            data=CaseInput(
                client_case_number=f"{client_key[-1].upper()}{batch.received_at:%y%m}{i:07d}",
                product=product,
                account_number=account,
                principal=principal,
                interest=interest,
                fees=Decimal(rng.randrange(0, 2_000_00)) / 100,
                overdue_days=overdue,
                region=region,
            ),
        )
        case.status = rng.choice(status_pop)
        if case.status != Case.Status.PENDING_ALLOCATION:
            team_code = rng.choice([c for c in teams if c.startswith(branch_code)])
            case.team = teams[team_code]
            case.assignee = rng.choice(collectors[team_code])
        if case.status in Case.TERMINAL:
            case.closed_at = stamp
        return case

    def holds_for(cases: list[Case]) -> list[Hold]:
        return [
            Hold(
                id=next(hold_ids),
                organisation_id=org.pk,
                case=c,
                reason=rng.choice(
                    [Hold.Reason.COMPLAINT, Hold.Reason.DISPUTE, Hold.Reason.LITIGATION]
                ),
                note="bench",
                set_by=risk,
            )
            for c in cases
            if c.status not in Case.TERMINAL and rng.random() < HOLD_SHARE
        ]

    def flush(debtors: list[Any], contacts: list[Any], cases: list[Any]) -> None:
        nonlocal write_s
        holds = holds_for(cases)
        t = time.perf_counter()
        if debtors:
            w_debtor.write(debtors)
        if contacts:
            w_contact.write(contacts)
        if cases:
            w_case.write(cases)
        if holds:
            w_hold.write(holds)
        write_s += time.perf_counter() - t
        counts["debtors"] += len(debtors)
        counts["contacts"] += len(contacts)
        counts["cases"] += len(cases)
        counts["holds"] += len(holds)

    t_all = time.perf_counter()
    with transaction.atomic():
        for start in range(0, n_people, CHUNK):
            t = time.perf_counter()
            debtors, contacts, cases = [], [], []
            for i in range(start, min(start + CHUNK, n_people)):
                p = persons[i]
                d = debtor_build(
                    organisation_id=org.pk,
                    data=DebtorInput(
                        name=p.name,
                        id_number=p.id_number,
                        employer=p.employer,
                        employer_address=p.employer_address,
                        province=p.province,
                        city=p.city,
                    ),
                )
                d.pk, debtor_id = debtor_id, debtor_id + 1
                debtors.append(d)
                debtor_refs.append((d.pk, p.province, f"{p.province}{p.city}"))
                own = [
                    contact_point_build(debtor=d, kind="phone", value=p.mobile, label="手机"),
                    contact_point_build(
                        debtor=d, kind="address", value=p.home_address, label="家庭地址"
                    ),
                    contact_point_build(
                        debtor=d, kind="address", value=p.employer_address, label="单位地址"
                    ),
                ]
                if rng.random() < 0.3:
                    own.append(
                        contact_point_build(
                            debtor=d, kind="phone", value=factory.mobile(), label="备用手机"
                        )
                    )
                for _ in range(rng.randrange(1, 4)):
                    own.append(
                        contact_point_build(
                            debtor=d,
                            kind="phone",
                            value=factory.mobile(),
                            role=rng.choice(THIRD_PARTY_ROLES),
                            name=rng.choice(contact_names),
                            label="联系人",
                        )
                    )
                for cp in own:
                    cp.pk, contact_id = contact_id, contact_id + 1
                contacts.extend(own)
                if i < n_cases:
                    c = build_case(i, d, p.province, f"{p.province}{p.city}")
                    c.pk, case_id = case_id, case_id + 1
                    cases.append(c)
            build_s += time.perf_counter() - t
            flush(debtors, contacts, cases)
        for start in range(n_people, n_cases, CHUNK):
            t = time.perf_counter()
            cases = []
            for i in range(start, min(start + CHUNK, n_cases)):
                ref_id, province, region = debtor_refs[rng.randrange(0, n_people)]
                stub = Debtor(id=ref_id, organisation_id=org.pk)
                c = build_case(i, stub, province, region)
                c.pk, case_id = case_id, case_id + 1
                cases.append(c)
            build_s += time.perf_counter() - t
            flush([], [], cases)
        fix_sequences()
    timings["build instances (Recoup builders)"] = build_s
    timings[f"write rows ({loader})"] = write_s
    timings["build + write, one transaction"] = time.perf_counter() - t_all
    if connection.vendor == "postgresql":  # the steady state autovacuum reaches after a load
        t0 = time.perf_counter()
        with connection.cursor() as cur:
            cur.execute("VACUUM (ANALYZE)")
        timings["VACUUM (ANALYZE)"] = time.perf_counter() - t0
    for key, value in counts.items():
        print(f"  {key}: {value}")
    return timings


# --------------------------------------------------------------------------- candidate search


def candidate_case_list_for_user(user: User, filters: CaseFilters | None = None) -> Any:
    """Candidate (not Recoup's code): resolve a search to case ids with indexed look-ups first.

    Recoup's search is ``pk IN (cases by number) OR debtor_id IN (debtors by blind index)``:
    no database can use an index for that OR of sub-queries, so both the count and the page
    read every case of the organisation. Here each branch is one indexed look-up (without
    the model's default ORDER BY, which lures SQLite onto the placed_at index) and the list
    is filtered by ``pk IN (<ids>)``; everything else is Recoup's own selector.
    """
    f = filters or CaseFilters()
    q = f.q.strip()
    if not q:
        return case_list_for_user(user, f)
    base = cases_user_can(user, VIEW).order_by()
    ids = set(base.filter(client_case_number=q).values_list("pk", flat=True)[:SEARCH_LIMIT])
    debtors = selectors._debtor_ids_for_search(user, q)
    if debtors is not None:
        debtor_ids = list(debtors.order_by().values_list("pk", flat=True)[:SEARCH_LIMIT])
        if debtor_ids:
            by_debtor = base.filter(debtor_id__in=debtor_ids).values_list("pk", flat=True)
            ids.update(by_debtor[:SEARCH_LIMIT])
    return case_list_for_user(user, replace(f, q="")).filter(pk__in=sorted(ids))


LIST_FN: list[Callable[..., Any]] = [case_list_for_user]


# --------------------------------------------------------------------------- scenarios


def page_for(username: str, filters: CaseFilters | None = None) -> Callable[[], int]:
    def run() -> int:
        user = User.objects.get(username=username)
        page = Paginator(LIST_FN[0](user, filters), 50).get_page(1)
        rows = [(case, case_masked_summary(case)) for case in page.object_list]
        assert page.paginator.count >= len(rows)
        return page.paginator.count

    return run


def floor_for(org_id: int) -> Callable[[], int]:
    cols = ", ".join(f.column for f in Case._meta.concrete_fields)
    where = "WHERE organisation_id = %s ORDER BY placed_at DESC, id DESC LIMIT 50"
    page_sql = f"SELECT {cols} FROM cases_case {where}"  # noqa: S608  (columns from _meta)

    def run() -> int:
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM cases_case WHERE organisation_id = %s", [org_id])
            (count,) = cur.fetchone()
            cur.execute(page_sql, [org_id])
            rows = cur.fetchall()
        assert len(rows) == 50
        return int(count)

    return run


def search_values(org: Organisation) -> dict[str, str]:
    total = Debtor.objects.for_org(org).count()
    debtor = Debtor.objects.for_org(org).order_by("id")[total // 2]
    phone = ContactPoint.objects.for_org(org).filter(debtor=debtor, kind="phone", role="debtor")[0]
    case = Case.objects.for_org(org).filter(debtor=debtor).first()
    assert case is not None
    return {
        "id": debtor.personal_data()["id_number"],
        "name": debtor.personal_data()["name"],
        "phone": phone.personal_data()["value"],
        "number": case.client_case_number,
    }


def scenarios(org: Organisation) -> dict[str, Callable[[], int]]:
    values = search_values(org)
    bank_a = Client.objects.get(organisation=org, code="bank-a")
    return {
        "hq_page": page_for("hq"),
        "collector_page": page_for("bj_t1_c1"),
        "phone_search": page_for("hq", CaseFilters(q=values["phone"])),
        "id_search": page_for("hq", CaseFilters(q=values["id"])),
        "filter": page_for("hq", CaseFilters(status="collecting", client=bank_a.pk)),
        "floor": floor_for(org.pk),
        # extras (table only)
        "branch_manager_page": page_for("bj_manager"),
        "name_search": page_for("hq", CaseFilters(q=values["name"])),
        "case_number_search": page_for("hq", CaseFilters(q=values["number"])),
        "collector_phone_search": page_for("bj_t1_c1", CaseFilters(q=values["phone"])),
    }


def measure(runs: dict[str, Callable[[], int]], repeat: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in runs}
    counts: dict[str, int] = {}
    for name, fn in runs.items():  # warm-up: caches, statement plans, key objects
        counts[name] = fn()
    for _ in range(repeat):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - t0) * 1000)
    medians = {name: statistics.median(v) for name, v in samples.items()}
    print(f"  {'scenario':<24}{'median ms':>10}{'min':>9}{'max':>9}{'count':>9}")
    for name, v in samples.items():
        print(f"  {name:<24}{medians[name]:>10.2f}{min(v):>9.2f}{max(v):>9.2f}{counts[name]:>9}")
    return medians


class QueryTimer:
    """An execute wrapper timing each statement with perf_counter (connection.queries: 1 ms)."""

    def __init__(self) -> None:
        self.timed: list[float] = []

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.timed.append((time.perf_counter() - t0) * 1000)


def explain(runs: dict[str, Callable[[], int]], slow_ms: float = 5.0) -> None:
    """Each statement of one run: time to the first row (SQLite steps lazily, so the rest of
    a scan happens while rows are fetched) and a full execute + fetchall; plans of slow ones."""
    for name, fn in runs.items():
        timer = QueryTimer()
        with CaptureQueriesContext(connection) as ctx, connection.execute_wrapper(timer):
            fn()
        print(f"\n=== {name}: {len(timer.timed)} queries")
        print("  first-row ms   full ms  SQL")
        for first, q in zip(timer.timed, ctx.captured_queries, strict=True):
            sql = q["sql"]  # with the parameters inlined by the backend
            with connection.cursor() as cur:
                t0 = time.perf_counter()
                cur.execute(sql)
                cur.fetchall()
                full = (time.perf_counter() - t0) * 1000
            print(f"  {first:11.2f} {full:9.2f}  {sql[:200]}{' …' if len(sql) > 200 else ''}")
            if full >= slow_ms:
                print(f"            full SQL: {sql}")
                print_plan(sql)


def print_plan(sql: str) -> None:
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        else:
            cur.execute("EXPLAIN QUERY PLAN " + sql)
        rows = cur.fetchall()
    print("            plan:")
    for row in rows:
        print("              " + (row[0] if len(row) == 1 else str(row[3])))


def measure_proposed(runs: dict[str, Callable[[], int]], analyzed: bool) -> None:
    with connection.cursor() as cur:
        for name, target in PROPOSED_INDEXES.items():
            cur.execute(f"CREATE INDEX {name} ON {target}")
        if analyzed or connection.vendor == "postgresql":
            cur.execute("ANALYZE")
    LIST_FN[0] = candidate_case_list_for_user
    try:
        print("\nwith the candidate indexes and search (bench database only):")
        for name, target in PROPOSED_INDEXES.items():
            print(f"  CREATE INDEX {name} ON {target}")
        print("  search: candidate_case_list_for_user (case ids first, then pk IN (...))")
        measure(runs, ARGS.repeat)
        if ARGS.explain:
            explain(runs)
    finally:
        LIST_FN[0] = case_list_for_user
        with connection.cursor() as cur:
            for name in PROPOSED_INDEXES:
                cur.execute(f"DROP INDEX IF EXISTS {name}")


def main() -> None:
    db = "postgres" if connection.vendor == "postgresql" else "sqlite"
    print(f"database: {db} ({connection.settings_dict['NAME']}), cases={ARGS.cases}")
    call_command("migrate", verbosity=0)
    have = loaded_cases()
    if ARGS.reload or have != ARGS.cases:
        print(f"loading {ARGS.cases} cases (found {have}) with the {ARGS.loader} loader …")
        reset_database()
        t0 = time.perf_counter()
        timings = load(ARGS.cases, ARGS.loader)
        total = time.perf_counter() - t0
        for key, value in timings.items():
            print(f"  {key:<36}{value:>8.1f} s")
        print(f"  {'total loading':<36}{total:>8.1f} s")
    else:
        print(f"reusing the loaded bench database ({have} cases); --reload to rebuild")

    org = Organisation.objects.get(code=DEMO_ORG_CODE)
    runs = scenarios(org)
    # As in production: imports and the nightly `manage.py db_analyze` refresh the statistics.
    refresh_planner_statistics()
    analyzed = True
    try:
        label = "with planner statistics (manage.py db_analyze)"
        print(f"\nmedian of {ARGS.repeat} rounds after one warm-up ({label}):")
        med = measure(runs, ARGS.repeat)
        if ARGS.explain:
            explain(runs)
        if ARGS.proposed:
            measure_proposed(runs, analyzed)
    finally:
        pass

    print(
        f"RESULT case_list cases={ARGS.cases} db={db} hq_page_ms={med['hq_page']:.2f} "
        f"collector_page_ms={med['collector_page']:.2f} "
        f"phone_search_ms={med['phone_search']:.2f} id_search_ms={med['id_search']:.2f} "
        f"filter_ms={med['filter']:.2f} floor_ms={med['floor']:.2f} "
        f"ratio={med['hq_page'] / med['floor']:.2f}"
    )


if __name__ == "__main__":
    main()

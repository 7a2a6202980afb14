"""gate: compliance-gate decision latency and a collector's queue page under load, at scale.

Issue 5 (Speed): with 1M cases and 10M logged attempts in the database, gate decision
p99 ≤ 5 ms (PostgreSQL and SQLite); a collector's queue page with 500 open cases p95 ≤ 150 ms
with 50 concurrent users against gunicorn.

Part 1, the gate. ``--decisions`` calls of ``recoup.contact.gate.decide()`` for random
(collector, open case assigned to them, the debtor's own phone), voice channel, each in its
own transaction as in production (``decide`` opens it), the clock moved to 10:00 Beijing time
on the data's last day (``time_machine``, ticking; ``at`` left to default to ``now()`` as the
UI does). Each call gets a fresh copy of its collector (as a request's user: role codes not
yet cached) and a case loaded by the caller; ``decide`` re-reads case and number under the
lock itself. Reported: p50/p99 in ms, how many were allowed, the refusal codes, and that the
gate unsealed no personal data (``crypto.unseal`` is counted during the warm-up).

  floor  the least a logged decision can cost: one transaction with as many single-row
         primary-key SELECTs as the gate issued (counted on the warm-up decisions; the case,
         debtor and contact-point rows of the same request, in turn) and one INSERT of a
         decision row into ``contact_contactdecision`` (same table, same indexes; an
         already-expired grant so it holds no slot). Timed interleaved with the gate, one
         floor right after each decision, so load on the shared cores hits both alike.

After the timed calls, ``min(200, N)`` more decisions run with a per-statement timer and the
statements are listed by total time (where the time goes); ``--profile`` adds a cProfile of
them. Decisions the benchmark made (and the floor's rows) are deleted afterwards, so a kept
database stays as generated.

Part 2, the queue page. ``/work/`` (``contact:queue``) when that URL exists, otherwise the
case list ``/cases/`` (reported as ``page=``). First one collector's page is rendered in
this process (Django's test client after a real login): its median time (``page_ms=``) and
its SQL statements by time are printed (``--profile`` adds a cProfile). When that alone takes
longer than ``--max-page-ms`` (default 5 s) the load test is skipped: it could only time
out. Otherwise gunicorn (``config.wsgi``, ``--workers`` sync
workers, default 4 = 2 × cores as docs/deploy.md says) is started against the bench database
with production settings (``RECOUP_DEBUG`` off, the bench's own keys) and its clock moved to
the same 10:00 (a ``post_fork`` hook starts ``time_machine`` in each worker). ``--users``
collectors, each with exactly 500 open cases, log in through ``POST /accounts/login/`` (CSRF
token from the form's cookie); then a stdlib asyncio load generator (locust and wrk are not
available here) keeps that many users requesting the page back to back, closed loop without
think time (as wrk or locust without ``wait_time`` do), one connection per request (the sync
worker closes it); ``--think S`` makes each user wait 0.5–1.5 × S between pages instead
(arrivals spread over one think time). A request unanswered after ``--request-timeout``
(60 s) counts at 60 s. A 5 s warm-up, then 3 rounds of (floor, page), ``--duration``/3
seconds each, each phase starting once the server is idle again; the percentiles pool all
requests of a kind.

  floor  ``/healthz`` (one ``SELECT 1``, no session) under the same load: the cost of the
         server stack and the load generator on these cores.

With N users in a closed loop, latency ≈ N ÷ throughput (Little's law): 50 users under
150 ms at p95 need ≳ 350 pages a second from the 2 cores, which the load generator shares.

``--proposed`` measures with candidate indexes (``PROPOSED`` below: what the figures showed
to be missing), created in the bench database before the run and dropped after it.

Data (generated once per size; ``--keep`` reuses it; PostgreSQL database
``gatebench_c<cases>_a<attempts>`` or SQLite
``var/bench/gate-c<cases>-a<attempts>.sqlite3``): the demo agency (``demo_seed(cases=0)``,
profile cn-default), ``cases ÷ 1.1`` debtors (every tenth case is a second case of an
existing debtor), each with a sealed record (name, ID number, employer) and 2–3 sealed
contact points (own mobile, home address, a relative's mobile for every other debtor), all
sealed and blind-indexed exactly as the builders do (``crypto.Sealer``, the bench's own
keys), so pages that show masked names really decrypt. Cases: 88 % open (assigned 12 %,
collecting 66 %, promised 12 %, on plan 10 %), 4 % pending, 8 % closed; every open case
belongs to a collector with exactly 500 open cases (teams of 20), 1 % carry an active hold
(停催), promised cases an open promise due around today. Attempts: ``--attempts`` calls over
the 60 days before 10:00 on the data's last day, 08:00–22:00 local, spread over the worked
cases (1–3× weights), to the debtor's mobile (12 % to the relative's, for debtors who have
one); results mixed (no answer, busy, off, voicemail, invalid, wrong person, debtor reached,
refused, hung up, third party), ``local_day`` the Beijing date of ``started_at``, 30 %
through a dialer with a call id; each with its consumed allowed ``ContactDecision``
(one-to-one). The cases carry their last attempt, last conversation and first action times.
Loading: COPY (PostgreSQL; FK triggers off via ``session_replication_role=replica`` during
the load, the generated keys being consistent by construction) or executemany (SQLite,
``foreign_keys=OFF`` during the load), then planner statistics (PostgreSQL ``VACUUM
(ANALYZE)``, SQLite ``ANALYZE``). Attempt notes are not generated (NULL): neither the gate
nor the queue reads them.

    .venv/bin/python bench/gate.py --cases 100000 --attempts 1000000
    .venv/bin/python bench/gate.py --keep
    .venv/bin/python bench/gate.py --keep --db postgres
    .venv/bin/python bench/gate.py --keep --proposed --skip-gate --think 10
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import copy
import cProfile
import gc
import hashlib
import http.client
import math
import os
import pstats
import random
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)
BENCH_DIR = ROOT / "var" / "bench"

parser = argparse.ArgumentParser(description="Gate decision latency and queue page under load")
parser.add_argument("--cases", type=int, default=1_000_000)
parser.add_argument("--attempts", type=int, default=10_000_000)
parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
parser.add_argument("--decisions", type=int, default=2000, help="timed gate decisions")
parser.add_argument("--users", type=int, default=50, help="concurrent users on the queue page")
parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
parser.add_argument("--duration", type=float, default=30.0, help="seconds of page load in all")
parser.add_argument(
    "--keep", action="store_true", help="reuse the generated database of this size if complete"
)
parser.add_argument("--skip-gate", action="store_true", help="only the queue page")
parser.add_argument("--skip-web", action="store_true", help="only the gate")
parser.add_argument("--profile", action="store_true", help="cProfile the extra gate decisions")
parser.add_argument("--explain", action="store_true", help="query plans of the gate's statements")
parser.add_argument(
    "--proposed",
    action="store_true",
    help="measure with the candidate indexes (created in the bench database, dropped after)",
)
parser.add_argument(
    "--think",
    type=float,
    default=0.0,
    help="mean seconds a user waits between pages (default 0: closed loop, as wrk)",
)
parser.add_argument(
    "--max-page-ms",
    type=float,
    default=5000.0,
    help="skip the load test when one page alone takes longer in process (it cannot pass)",
)
parser.add_argument("--request-timeout", type=float, default=60.0, help="seconds per page")
parser.add_argument("--debug", action="store_true", help="RECOUP_DEBUG=1 (default: production)")
parser.add_argument("--seed", type=int, default=20261123)
ARGS = parser.parse_args()

DB_TAG = f"c{ARGS.cases}_a{ARGS.attempts}"
PG_DBNAME = f"gatebench_{DB_TAG}"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SQLITE_PATH = BENCH_DIR / f"gate-{DB_TAG.replace('_', '-')}.sqlite3"


def _bench_key(label: str) -> str:
    return base64.b64encode(hashlib.sha256(f"recoup gatebench {label}".encode()).digest()).decode()


# Production settings need real keys; these are the bench's own (fixed, so a kept database
# stays readable). Never used for anything but this synthetic data.
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "RECOUP_DEBUG": "1" if ARGS.debug else "0",
        "RECOUP_SECRET_KEY": "gatebench-" + _bench_key("secret"),
        "RECOUP_DATA_KEYS": "gatebench:" + _bench_key("data"),
        "RECOUP_BLIND_INDEX_KEY": _bench_key("blind"),
        "RECOUP_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "RECOUP_DATABASE_URL": (
            f"postgres://postgres@127.0.0.1:5432/{PG_DBNAME}"
            if ARGS.db == "postgres"
            else f"sqlite:///{SQLITE_PATH.relative_to(ROOT)}"
        ),
    }
)
for _name in ("RECOUP_DATA_KEYS_FILE", "RECOUP_SECRET_KEY_FILE", "RECOUP_BLIND_INDEX_KEY_FILE"):
    os.environ.pop(_name, None)

SH = ZoneInfo("Asia/Shanghai")
OPEN_STATES = ("assigned", "collecting", "promised", "on_plan")
PER_COLLECTOR = 500  # open cases per collector (the queue page's size)
TEAM_SIZE = 20
CHUNK = 50_000  # cases per load step
WARMUP = 30  # untimed gate decisions first
PASSWORD = "gatebench-Passw0rd-2026"  # noqa: S105 (synthetic logins of the bench database)
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯"
    "邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟"
)
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华飞玉萍红建国文辉力婷雪梅志宏鹏斌宇浩凯丹琳"
)
PLACES = [
    ("北京市", "北京市", "110101", "bj"),
    ("上海市", "上海市", "310101", "sh"),
    ("广东省", "广州市", "440103", "sh"),
    ("江苏省", "南京市", "320102", "sh"),
    ("浙江省", "杭州市", "330102", "sh"),
    ("四川省", "成都市", "510104", "bj"),
    ("湖北省", "武汉市", "420102", "bj"),
    ("山东省", "济南市", "370102", "bj"),
    ("河南省", "郑州市", "410102", "bj"),
    ("陕西省", "西安市", "610102", "bj"),
]
ROADS = ["人民路", "解放路", "中山路", "建设路", "和平路", "新华路", "胜利路", "长江路"]
TRADES = ["科技", "贸易", "物流", "餐饮", "建筑"]
REASONS = [
    "cash_flow",
    "limited_means",
    "family_dispute",
    "civil_dispute",
    "wilful",
    "other",
    "criminal",
    "false_loan",
]


def pg_exists() -> bool:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [PG_DBNAME])
        return found.fetchone() is not None


def drop_database() -> None:
    if ARGS.db == "postgres":
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DBNAME} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {PG_DBNAME}")
    else:
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(str(SQLITE_PATH) + suffix).unlink(missing_ok=True)


if ARGS.db == "postgres" and not pg_exists():
    drop_database()  # creates it

import django  # noqa: E402

django.setup()

import polars as pl  # noqa: E402
import time_machine  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import NoReverseMatch, reverse  # noqa: E402

from recoup.accounts.models import Organisation, OrgUnit, Role, RoleAssignment, Team, User  # noqa: E402
from recoup.cases import pii  # noqa: E402
from recoup.cases.models import Case, ContactPoint  # noqa: E402
from recoup.clients.models import Contract  # noqa: E402
from recoup.core import crypto  # noqa: E402
from recoup.core.bulk import insert_frame, insert_rows  # noqa: E402
from recoup.core.clock import now  # noqa: E402
from recoup.core.db import bulk_session, refresh_planner_statistics  # noqa: E402
from recoup.core.identity import id_check_char  # noqa: E402
from recoup.core.uids import OrderedUids  # noqa: E402
from recoup.demo.services import DEMO_ORG_CODE, demo_seed  # noqa: E402

IS_PG = connection.vendor == "postgresql"


def log(*parts: Any) -> None:
    print(*parts, flush=True)


# --------------------------------------------------------------------------- meta (keep)


def read_meta() -> dict[str, str] | None:
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT k, v FROM gatebench_meta")
            meta = dict(cur.fetchall())
    except Exception:
        return None
    if meta.get("complete") != "1":
        return None
    return meta


def write_meta(values: dict[str, Any]) -> None:
    with connection.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS gatebench_meta (k varchar(40) PRIMARY KEY, v text)")
        cur.execute("DELETE FROM gatebench_meta")
        for k, v in values.items():
            cur.execute("INSERT INTO gatebench_meta (k, v) VALUES (%s, %s)", [k, str(v)])


# --------------------------------------------------------------------------- value helpers

TS_SUFFIX = "+00" if IS_PG else ""


def ts(epoch: int | None) -> str | None:
    """A UTC epoch second as the column value (text both engines read back as Django does)."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S") + TS_SUFFIX


def uid_value(hex32: str, canonical: str) -> str:
    return canonical if IS_PG else hex32


def ts_expr(col: pl.Expr) -> pl.Expr:
    """Polars: epoch seconds → the same text as ts()."""
    return pl.from_epoch(col, time_unit="s").dt.strftime("%Y-%m-%d %H:%M:%S") + TS_SUFFIX


def uid_expr(tag: int, col: pl.Expr) -> pl.Expr:
    """Polars: a unique UUID per id (a table tag, then the id in decimal digits)."""
    digits = col.cast(pl.Utf8).str.zfill(24)
    head = f"{tag:08x}"
    if not IS_PG:
        return pl.lit(head) + digits
    return pl.concat_str(
        [
            pl.lit(head + "-"),
            digits.str.slice(0, 4),
            pl.lit("-"),
            digits.str.slice(4, 4),
            pl.lit("-"),
            digits.str.slice(8, 4),
            pl.lit("-"),
            digits.str.slice(12, 12),
        ]
    )


def h(col: str, seed: int, mod: int) -> pl.Expr:
    """A deterministic pseudo-random integer in [0, mod) from a column."""
    return (pl.col(col).hash(seed=seed) % mod).cast(pl.Int64)


def next_id(table: str) -> int:
    with connection.cursor() as cur:
        cur.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608 (fixed names)
        return int(cur.fetchone()[0]) + 1


# --------------------------------------------------------------------------- generation


def case_frame(n: int, n_debtors: int, n_open: int, n_collectors: int) -> pl.DataFrame:
    """One row per case with everything decided up front (vectorised, deterministic)."""
    n_pending = n // 25
    df = pl.DataFrame({"i": pl.int_range(0, n, eager=True)})
    df = df.with_columns(r=(pl.col("i").hash(seed=ARGS.seed).rank("ordinal") - 1).cast(pl.Int64))
    df = df.with_columns(
        cls=pl.when(pl.col("r") < n_open)
        .then(pl.lit("open"))
        .when(pl.col("r") < n_open + n_pending)
        .then(pl.lit("pending"))
        .otherwise(pl.lit("closed")),
        debtor=pl.when(pl.col("i") < n_debtors).then(pl.col("i")).otherwise(h("i", 4, n_debtors)),
        s3=h("i", 3, 100),
        s7=h("i", 7, 100),
        s8=h("i", 8, 100),
        w=100 + h("i", 5, 200),
    )
    df = df.with_columns(
        collector=pl.when(pl.col("cls") == "open")
        .then(pl.col("r") // PER_COLLECTOR)
        .when(pl.col("cls") == "closed")
        .then(h("i", 2, n_collectors))
        .otherwise(None),
        status=pl.when(pl.col("cls") == "pending")
        .then(pl.lit("pending"))
        .when(pl.col("cls") == "closed")
        .then(
            pl.when(pl.col("s3") < 50)
            .then(pl.lit("paid_off"))
            .when(pl.col("s3") < 75)
            .then(pl.lit("settled"))
            .otherwise(pl.lit("returned"))
        )
        .when(pl.col("s3") < 12)
        .then(pl.lit("assigned"))
        .when(pl.col("s3") < 78)
        .then(pl.lit("collecting"))
        .when(pl.col("s3") < 90)
        .then(pl.lit("promised"))
        .otherwise(pl.lit("on_plan")),
    )
    worked = pl.col("status").is_in(["collecting", "promised", "on_plan"])
    df = df.with_columns(w=pl.when(worked).then(pl.col("w")).otherwise(0))
    total_w = int(df["w"].sum())
    df = df.with_columns(k=(pl.col("w") * ARGS.attempts // max(total_w, 1)).cast(pl.Int64))
    rest = ARGS.attempts - int(df["k"].sum())
    # The remainder: one more attempt for the first `rest` worked cases in a random order.
    df = df.with_columns(
        rr=pl.when(pl.col("w") > 0).then(h("i", 6, 1 << 40)).otherwise(None).rank("ordinal")
    )
    df = df.with_columns(
        k=pl.col("k") + pl.when(pl.col("rr") <= rest).then(1).otherwise(0).cast(pl.Int64)
    )
    df = df.with_columns(off=(pl.col("k").cum_sum() - pl.col("k")).cast(pl.Int64))
    return df.drop("rr", "s3")


RESULT_DEBTOR = [
    ("no_answer", 380),
    ("busy", 90),
    ("off", 70),
    ("voicemail", 30),
    ("invalid", 15),
    ("wrong_person", 15),
    ("debtor", 300),
    ("refused", 40),
    ("hung_up", 40),
    ("third_party", 20),
]
RESULT_RELATIVE = [
    ("third_party", 450),
    ("no_answer", 350),
    ("busy", 80),
    ("off", 60),
    ("refused", 40),
    ("hung_up", 20),
]


def result_expr(x: pl.Expr, table: list[tuple[str, int]]) -> pl.Expr:
    edge = 0
    expr: Any = None
    for code, share in table:
        edge += share
        expr = (pl.when(x < edge) if expr is None else expr.when(x < edge)).then(pl.lit(code))
    return expr.otherwise(pl.lit(table[-1][0]))


def attempts_frame(chunk: pl.DataFrame, ctx: dict[str, Any]) -> pl.DataFrame:
    """The chunk's attempts, one row each, ordered by case (then time)."""
    day0 = ctx["day0"]  # epoch of 00:00 Beijing on the decision day
    a = (
        chunk.filter(pl.col("k") > 0)
        .select("i", "debtor", "collector", "k", "off")
        .with_columns(j=pl.int_ranges(0, pl.col("k")))
        .explode("j")
        .with_columns(aid=pl.col("off") + pl.col("j"))
        .drop("k", "off", "j")
    )
    a = a.with_columns(
        rel=(pl.col("debtor") % 2 == 0) & (h("aid", 20, 100) < 12),
        back=h("aid", 21, 60),
        sec=8 * 3600 + h("aid", 22, 14 * 3600),
        rx=h("aid", 23, 1000),
        mode_x=h("aid", 24, 10),
        dur=h("aid", 25, 600),
        reason_x=h("aid", 26, 100),
    )
    # Nothing after 10:00 on the decision day: such draws go to another of the 60 days.
    a = a.with_columns(
        back=pl.when((pl.col("back") == 0) & (pl.col("sec") >= 10 * 3600))
        .then(1 + h("aid", 27, 59))
        .otherwise(pl.col("back"))
    )
    a = a.with_columns(
        start=day0 - pl.col("back") * 86400 + pl.col("sec"),
        result=pl.when(pl.col("rel"))
        .then(result_expr(pl.col("rx"), RESULT_RELATIVE))
        .otherwise(result_expr(pl.col("rx"), RESULT_DEBTOR)),
    )
    conv = pl.col("result").is_in(["debtor", "third_party", "refused", "hung_up"])
    a = a.with_columns(
        conversation=conv,
        debtor_conversation=(pl.col("result") == "debtor")
        | (pl.col("result").is_in(["refused", "hung_up"]) & ~pl.col("rel")),
        ended=pl.col("start") + pl.when(conv).then(30 + pl.col("dur")).otherwise(25),
        answered=pl.when(conv).then(pl.col("start") + 5).otherwise(None),
        local_day=pl.from_epoch(pl.col("start") + 8 * 3600, time_unit="s").dt.date(),
    )
    return a.sort("i", "start")


def write_attempts(a: pl.DataFrame, ctx: dict[str, Any]) -> None:
    org_id = ctx["org_id"]
    collectors = pl.DataFrame(
        {
            "collector": list(range(len(ctx["collector_ids"]))),
            "actor_id": ctx["collector_ids"],
        },
        schema={"collector": pl.Int64, "actor_id": pl.Int64},
    )
    base = a.join(collectors, on="collector", how="left", maintain_order="left").select(
        aid="aid",
        case_id=pl.col("i") + ctx["case0"],
        debtor_id=pl.col("debtor") + ctx["debtor0"],
        contact_point_id=ctx["cp0"]
        + pl.col("debtor") * 3
        + pl.when(pl.col("rel")).then(2).otherwise(0),
        actor_id="actor_id",
        party_role=pl.when(pl.col("rel")).then(pl.lit("relative")).otherwise(pl.lit("debtor")),
        mode=pl.when(pl.col("mode_x") < 3)
        .then(pl.lit("dialer"))
        .when(pl.col("mode_x") < 5)
        .then(pl.lit("click"))
        .otherwise(pl.lit("manual")),
        via=pl.when(pl.col("mode_x") < 3).then(pl.lit("api")).otherwise(pl.lit("ui")),
        start="start",
        ended="ended",
        answered="answered",
        local_day=pl.col("local_day").dt.strftime("%Y-%m-%d"),
        result="result",
        conversation="conversation",
        debtor_conversation="debtor_conversation",
        rel="rel",
        reason_x="reason_x",
    )
    decisions = base.select(
        id=pl.col("aid") + ctx["decision0"],
        organisation_id=pl.lit(org_id),
        uid=uid_expr(0xDEC15104, pl.col("aid")),
        case_id="case_id",
        debtor_id="debtor_id",
        contact_point_id="contact_point_id",
        actor_id="actor_id",
        channel=pl.lit("call"),
        mode="mode",
        party_role="party_role",
        at=ts_expr(pl.col("start") - 3),
        zone=pl.lit("Asia/Shanghai"),
        allowed=pl.lit(True),
        rules=pl.lit("[]"),
        notices=pl.when(pl.col("rel"))
        .then(pl.lit('[{"code": "third_party_script", "params": {}}]'))
        .otherwise(pl.lit("[]")),
        profile_versions=pl.lit('{"cn-default": 1}'),
        via="via",
        expires_at=ts_expr(pl.col("start") + 177),
        consumed_at=ts_expr(pl.col("ended") + 2),
        created_at=ts_expr(pl.col("start") - 3),
    )
    insert_frame("contact_contactdecision", decisions)
    reason = pl.lit(None, dtype=pl.Utf8)
    for idx, code in enumerate(REASONS):
        reason = pl.when(pl.col("reason_x") == idx).then(pl.lit(code)).otherwise(reason)
    attempts = base.select(
        id=pl.col("aid") + ctx["attempt0"],
        organisation_id=pl.lit(org_id),
        uid=uid_expr(0xA77E3B70, pl.col("aid")),
        case_id="case_id",
        debtor_id="debtor_id",
        contact_point_id="contact_point_id",
        decision_id=pl.col("aid") + ctx["decision0"],
        actor_id="actor_id",
        channel=pl.lit("call"),
        mode="mode",
        party_role="party_role",
        call_id=pl.when(pl.col("via") == "api")
        .then(pl.lit("CALL") + pl.col("aid").cast(pl.Utf8).str.zfill(12))
        .otherwise(pl.lit("")),
        started_at=ts_expr(pl.col("start")),
        answered_at=ts_expr(pl.col("answered")),
        ended_at=ts_expr(pl.col("ended")),
        local_day="local_day",
        result="result",
        conversation="conversation",
        debtor_conversation="debtor_conversation",
        overdue_reason=pl.when(pl.col("result") == "debtor")
        .then(reason.fill_null(""))
        .otherwise(pl.lit("")),
        lexicon_hits=pl.lit("[]"),
        flagged_for_review=pl.lit(False),
        third_party_refused=pl.lit(False),
        created_at=ts_expr(pl.col("ended") + 2),
        updated_at=ts_expr(pl.col("ended") + 2),
    )
    insert_frame("contact_contactattempt", attempts)


def person(d: int) -> dict[str, Any]:
    """Deterministic synthetic person number d (unique ID number and mobiles)."""
    place = PLACES[d % len(PLACES)]
    born = date(1962, 1, 1) + timedelta(days=(d // len(PLACES)) % 14000)
    seq = (d // (len(PLACES) * 14000)) % 1000
    first17 = f"{place[2]}{born:%Y%m%d}{seq:03d}"
    x = (d * 2654435761) & 0xFFFFFFFF
    name = SURNAMES[x % len(SURNAMES)] + GIVEN[(x >> 8) % len(GIVEN)]
    if (x >> 16) % 3:
        name += GIVEN[(x >> 20) % len(GIVEN)]
    return {
        "name": name,
        "id_number": first17 + id_check_char(first17),
        "employer": f"{place[1]}某某{TRADES[(x >> 4) % len(TRADES)]}有限公司",
        "employer_address": f"{place[0]}{place[1]}{ROADS[(x >> 12) % len(ROADS)]}{x % 300 + 1}号",
        "home_address": (
            f"{place[0]}{place[1]}{ROADS[(x >> 3) % len(ROADS)]}{x % 97 + 1}弄{x % 30 + 1}号"
        ),
        "province": place[0],
        "city": place[1],
        "branch": place[3],
        "gender": "M" if seq % 2 else "F",
        "birth_year": born.year,
        "mobile": f"13{(d * 3):09d}",
        "relative_mobile": f"15{(d * 3 + 2):09d}",
    }


DEBTOR_COLUMNS = [
    "id",
    "organisation_id",
    "uid",
    "pii",
    "pii_key_id",
    "id_number_bidx",
    "name_bidx",
    "birth_year",
    "gender",
    "province",
    "city",
    "created_at",
    "updated_at",
]
CONTACT_COLUMNS = [
    "id",
    "organisation_id",
    "debtor_id",
    "uid",
    "kind",
    "role",
    "label",
    "sealed",
    "pii_key_id",
    "value_bidx",
    "validity",
    "source",
    "refused_contact",
    "refused_at",
    "created_at",
    "updated_at",
]


def write_people(n_debtors: int, ctx: dict[str, Any]) -> None:
    """Debtors and their contact points, sealed and blind-indexed as the builders do."""
    sealer = crypto.Sealer()
    uids = OrderedUids()
    org_id, stamp = ctx["org_id"], ts(ctx["t_epoch"] - 90 * 86400)
    debtor0, cp0 = ctx["debtor0"], ctx["cp0"]
    for lo in range(0, n_debtors, CHUNK):
        debtors: list[tuple[Any, ...]] = []
        contacts: list[tuple[Any, ...]] = []
        for d in range(lo, min(lo + CHUNK, n_debtors)):
            p = person(d)
            hx, canon = uids.next()
            record = {k: p[k] for k in ("name", "id_number", "employer", "employer_address")}
            debtors.append(
                (
                    debtor0 + d,
                    org_id,
                    uid_value(hx, canon),
                    sealer.seal_json(record, b"debtor:" + canon.encode()),
                    sealer.key_id,
                    sealer.blind(pii.BIDX_ID, p["id_number"]),
                    sealer.blind(pii.BIDX_NAME, p["name"]),
                    p["birth_year"],
                    p["gender"],
                    p["province"],
                    p["city"],
                    stamp,
                    stamp,
                )
            )
            points = [
                (0, "phone", "debtor", "手机", p["mobile"], ""),
                (1, "address", "debtor", "家庭地址", p["home_address"], ""),
            ]
            if d % 2 == 0:  # the attempts plan calls relatives of even debtors only
                points.append((2, "phone", "relative", "联系人", p["relative_mobile"], "联系人"))
            for k, kind, role, label, value, name in points:
                hx, canon = uids.next()
                validity = (
                    "valid" if (d + k) % 10 < 7 else ("invalid" if d % 97 == 5 else "unknown")
                )
                contacts.append(
                    (
                        cp0 + 3 * d + k,
                        org_id,
                        debtor0 + d,
                        uid_value(hx, canon),
                        kind,
                        role,
                        label,
                        sealer.seal_json(
                            {"value": value, "name": name}, b"contact:" + canon.encode()
                        ),
                        sealer.key_id,
                        sealer.blind(pii.BIDX_PHONE, value) if kind == "phone" else "",
                        validity,
                        "client",
                        False,
                        None,
                        stamp,
                        stamp,
                    )
                )
        insert_rows("cases_debtor", DEBTOR_COLUMNS, debtors)
        insert_rows("cases_contactpoint", CONTACT_COLUMNS, contacts)


CASE_COLUMNS = [
    "id",
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
    "team_id",
    "assignee_id",
    "status",
    "status_changed_at",
    "placed_at",
    "closed_at",
    "assigned_at",
    "period_ends_on",
    "last_attempt_at",
    "last_conversation_at",
    "next_follow_up_at",
    "broken_promises",
    "intensive_follow_up",
    "first_action_at",
    "created_at",
    "updated_at",
]


def write_cases(chunk: pl.DataFrame, agg: pl.DataFrame, ctx: dict[str, Any]) -> None:
    sealer = crypto.Sealer()
    org_id, t_epoch = ctx["org_id"], ctx["t_epoch"]
    rows = chunk.join(agg, on="i", how="left").sort("i")
    holds: list[tuple[Any, ...]] = []
    promises: list[tuple[Any, ...]] = []
    out: list[tuple[Any, ...]] = []
    org_prefix = b"case-account:" + str(org_id).encode() + b":"
    t_day = ctx["t_day"]
    for row in rows.iter_rows(named=True):
        i = row["i"]
        x = (i * 2654435761 + 12345) & 0xFFFFFFFF
        bank_a = i % 5 < 3
        contract = ctx["contract_a"] if bank_a else ctx["contract_b"]
        account = f"6225{i:012d}" if bank_a else f"LN{i:014d}"
        bidx = sealer.blind(pii.BIDX_ACCOUNT, account)
        principal = Decimal(2_000_00 + x % 198_000_00) / 100
        interest = (principal * Decimal(2 + x % 23) / 100).quantize(Decimal("0.01"))
        fees = Decimal((x >> 7) % 200_00) / 100
        total = principal + interest + fees
        overdue = 1 + (x >> 3) % 720
        stage = Case.stage_for(overdue)
        collector = row["collector"]
        if collector is not None:
            assignee = ctx["collector_ids"][collector]
            team_id, branch_id = ctx["collector_team"][collector]
        else:
            assignee, team_id = None, None
            branch_id = ctx["branch_ids"][person(row["debtor"])["branch"]]
        placed = t_epoch - (60 + (x >> 5) % 120) * 86400 - 8 * 3600
        status = row["status"]
        is_open = status in OPEN_STATES
        follow = t_epoch + ((x >> 9) % 72) * 3600 if is_open and (x >> 11) % 10 < 3 else None
        broken = 1 if row["s8"] < 5 else (2 if row["s8"] < 7 else 0)
        case_id = ctx["case0"] + i
        out.append(
            (
                case_id,
                org_id,
                contract.client_id,
                contract.pk,
                ctx["debtor0"] + row["debtor"],
                f"{'A' if bank_a else 'B'}{i:09d}",
                "card" if bank_a else "loan",
                sealer.seal(account.encode(), org_prefix + bidx.encode()),
                sealer.key_id,
                bidx,
                "CNY",
                principal,
                interest,
                fees,
                total,
                total,
                overdue,
                stage,
                branch_id,
                "",
                team_id,
                assignee,
                status,
                ts(row["last_start"] or placed + 86400),
                ts(placed),
                ts(t_epoch - 86400) if status not in OPEN_STATES and status != "pending" else None,
                ts(placed + 86400) if assignee else None,
                (datetime.fromtimestamp(placed, UTC).date() + timedelta(days=365)).isoformat(),
                ts(row["last_start"]),
                ts(row["last_conv"]),
                ts(follow),
                broken if is_open else 0,
                broken >= 2 and is_open,
                ts(row["first_start"]),
                ts(placed),
                ts(row["last_start"] or placed),
            )
        )
        if is_open and row["s7"] == 0:
            holds.append(
                (
                    org_id,
                    case_id,
                    ("complaint", "dispute", "litigation")[x % 3],
                    "bench",
                    ctx["risk_id"],
                    None,
                    None,
                    None,
                    ts(t_epoch - 5 * 86400),
                    ts(t_epoch - 5 * 86400),
                )
            )
        if status == "promised":
            due = t_day + timedelta(days=(x >> 13) % 15 - 3)
            promises.append(
                (
                    org_id,
                    case_id,
                    None,
                    min(total, Decimal(500 + (x >> 2) % 5000)),
                    due.isoformat(),
                    "open",
                    Decimal(0),
                    None,
                    assignee,
                    ts(row["last_start"] or placed),
                    ts(row["last_start"] or placed),
                )
            )
    insert_rows("cases_case", CASE_COLUMNS, out)
    insert_rows(
        "cases_hold",
        [
            "organisation_id",
            "case_id",
            "reason",
            "note",
            "set_by_id",
            "expires_at",
            "released_at",
            "released_by_id",
            "created_at",
            "updated_at",
        ],
        holds,
    )
    insert_rows(
        "contact_promise",
        [
            "organisation_id",
            "case_id",
            "attempt_id",
            "amount",
            "due_on",
            "status",
            "paid_amount",
            "evaluated_at",
            "created_by_id",
            "created_at",
            "updated_at",
        ],
        promises,
    )


def fix_sequences() -> None:
    if not IS_PG:
        return
    tables = [
        "cases_debtor",
        "cases_contactpoint",
        "cases_case",
        "cases_hold",
        "contact_promise",
        "contact_contactdecision",
        "contact_contactattempt",
    ]
    with connection.cursor() as cur:
        for table in tables:
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )


def generate() -> dict[str, str]:
    t_start = time.perf_counter()
    call_command("migrate", verbosity=0)
    demo_seed(cases=0)
    org = Organisation.objects.get(code=DEMO_ORG_CODE)
    n = ARGS.cases
    n_debtors = max(1, int(n / 1.1))
    n_open = int(n * 0.88) // PER_COLLECTOR * PER_COLLECTOR
    if n_open < PER_COLLECTOR * ARGS.users:
        sys.exit(f"--cases {n} gives {n_open} open cases: too few for {ARGS.users} collectors")
    n_collectors = n_open // PER_COLLECTOR
    t_day = now().astimezone(SH).date()
    t_moment = datetime.combine(t_day, dtime(10, 0), tzinfo=SH)
    day0 = int(datetime.combine(t_day, dtime(0, 0), tzinfo=SH).timestamp())
    log(
        f"generating: {n} cases, {n_debtors} debtors, {n_open} open cases for {n_collectors} "
        f"collectors, {ARGS.attempts} attempts before {t_moment.isoformat()}"
    )
    units = {u.code: u for u in OrgUnit.objects.filter(organisation=org)}
    today = t_day
    n_teams = math.ceil(n_collectors / TEAM_SIZE)
    teams = Team.objects.bulk_create(
        Team(
            organisation=org,
            branch=units["bj" if t % 2 == 0 else "sh"],
            name=f"G组{t:03d}",
            code=f"g{t:03d}",
        )
        for t in range(n_teams)
    )
    teams = list(Team.objects.filter(organisation=org, code__startswith="g").order_by("code"))
    hashed = make_password(PASSWORD)
    users = User.objects.bulk_create(
        User(
            username=f"gc{k:05d}",
            password=hashed,
            organisation=org,
            unit=teams[k // TEAM_SIZE].branch,
            team=teams[k // TEAM_SIZE],
            display_name=f"催收员{k:05d}",
            training_completed_on=today - timedelta(days=30),
            training_valid_until=today + timedelta(days=365),
            nda_signed_on=today - timedelta(days=30),
            nda_valid_until=today + timedelta(days=365),
        )
        for k in range(n_collectors)
    )
    ids = dict(
        User.objects.filter(organisation=org, username__startswith="gc").values_list(
            "username", "id"
        )
    )
    collector_ids = [ids[f"gc{k:05d}"] for k in range(n_collectors)]
    role = Role.objects.get(code=Role.Code.COLLECTOR)
    RoleAssignment.objects.bulk_create(RoleAssignment(user_id=u, role=role) for u in collector_ids)
    del users
    ctx: dict[str, Any] = {
        "org_id": org.pk,
        "t_epoch": int(t_moment.timestamp()),
        "t_day": t_day,
        "day0": day0,
        "collector_ids": collector_ids,
        "collector_team": [
            (teams[k // TEAM_SIZE].pk, teams[k // TEAM_SIZE].branch_id) for k in range(n_collectors)
        ],
        "branch_ids": {"bj": units["bj"].pk, "sh": units["sh"].pk},
        "contract_a": Contract.objects.get(organisation=org, client__code="bank-a"),
        "contract_b": Contract.objects.get(organisation=org, client__code="bank-b"),
        "risk_id": User.objects.get(username="risk").pk,
        "debtor0": next_id("cases_debtor"),
        "cp0": next_id("cases_contactpoint"),
        "case0": next_id("cases_case"),
        "decision0": next_id("contact_contactdecision"),
        "attempt0": next_id("contact_contactattempt"),
    }
    frame = case_frame(n, n_debtors, n_open, n_collectors)
    log(f"  case plan: {time.perf_counter() - t_start:.1f} s")
    if not IS_PG:
        with connection.cursor() as cur:
            cur.execute("PRAGMA foreign_keys = OFF")
    timings: dict[str, float] = defaultdict(float)
    with bulk_session():
        with transaction.atomic():
            if IS_PG:
                with connection.cursor() as cur:
                    cur.execute("SET LOCAL session_replication_role = replica")
            t = time.perf_counter()
            write_people(n_debtors, ctx)
            timings["debtors + contact points"] += time.perf_counter() - t
        for start in range(0, n, CHUNK):
            with transaction.atomic():
                if IS_PG:
                    with connection.cursor() as cur:
                        cur.execute("SET LOCAL session_replication_role = replica")
                chunk = frame.slice(start, CHUNK)
                t = time.perf_counter()
                a = attempts_frame(chunk, ctx)
                agg = a.group_by("i").agg(
                    last_start=pl.col("start").max(),
                    first_start=pl.col("start").min(),
                    last_conv=pl.col("start").filter(pl.col("conversation")).max(),
                )
                timings["attempt plan (polars)"] += time.perf_counter() - t
                t = time.perf_counter()
                write_cases(chunk, agg, ctx)
                timings["cases, holds, promises"] += time.perf_counter() - t
                t = time.perf_counter()
                write_attempts(a, ctx)
                timings["decisions + attempts"] += time.perf_counter() - t
            done = min(start + CHUNK, n)
            log(
                f"  {done}/{n} cases loaded, {time.perf_counter() - t_start:.0f} s "
                f"({', '.join(f'{k} {v:.0f} s' for k, v in timings.items())})"
            )
        fix_sequences()
    if not IS_PG:
        with connection.cursor() as cur:
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute("PRAGMA foreign_key_check(contact_contactattempt)")
            bad = cur.fetchmany(5)
        if bad:
            sys.exit(f"foreign key check failed: {bad}")
    t = time.perf_counter()
    if IS_PG:
        with connection.cursor() as cur:
            cur.execute("VACUUM (ANALYZE)")
    else:
        refresh_planner_statistics()
    timings["planner statistics"] = time.perf_counter() - t
    total = time.perf_counter() - t_start
    meta = {
        "cases": n,
        "attempts": ARGS.attempts,
        "t": t_moment.isoformat(),
        "collectors": n_collectors,
        "seconds": f"{total:.0f}",
        "complete": "1",
    }
    write_meta(meta)
    log(f"generated in {total:.0f} s: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
    return {k: str(v) for k, v in meta.items()}


def counts() -> dict[str, int]:
    out = {}
    with connection.cursor() as cur:
        for table in ("cases_case", "cases_debtor", "cases_contactpoint"):
            cur.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 (fixed names)
            out[table] = int(cur.fetchone()[0])
        for table in ("contact_contactattempt", "contact_contactdecision"):
            cur.execute(f"SELECT MAX(id) FROM {table}")  # noqa: S608 (fixed names)
            out[table + " (max id)"] = int(cur.fetchone()[0] or 0)
    return out


# --------------------------------------------------------------------------- part 1: gate


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


class StatementTimer:
    """An execute wrapper that times each statement (grouped by its SQL text)."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.times[sql].append((time.perf_counter() - t0) * 1000)


def fresh(user: User) -> User:
    """A copy of the collector as a new request would load it (no cached role codes)."""
    clone = copy.copy(user)
    clone.__dict__.pop("role_codes", None)
    clone.__dict__.pop("_client_id_cache", None)
    return clone


def gate_part(meta: dict[str, str]) -> dict[str, Any]:
    from recoup.contact.gate import ContactRequest, decide

    org = Organisation.objects.get(code=DEMO_ORG_CODE)
    t_moment = datetime.fromisoformat(meta["t"])
    rng = random.Random(ARGS.seed)
    watermark = next_id("contact_contactdecision") - 1
    open_ids = list(
        Case.objects.for_org(org)
        .filter(status__in=OPEN_STATES)
        .order_by()
        .values_list("id", flat=True)
    )
    n = ARGS.decisions
    extra = min(200, n)
    picks = rng.sample(open_ids, WARMUP + 2 * n + extra)
    cases = Case.objects.in_bulk(picks)
    phones = {
        cp.debtor_id: cp
        for cp in ContactPoint.objects.filter(
            debtor_id__in={c.debtor_id for c in cases.values()}, role="debtor", kind="phone"
        )
    }
    actors = User.objects.in_bulk({c.assignee_id for c in cases.values()})
    plan = [(cases[pk], phones[cases[pk].debtor_id], actors[cases[pk].assignee_id]) for pk in picks]

    def request(item: tuple[Case, ContactPoint, User]) -> ContactRequest:
        case, point, actor = item
        return ContactRequest(
            actor=fresh(actor), case=case, channel="call", contact_point=point, mode="manual"
        )

    # Floor statements: K primary-key SELECTs of the request's own rows + one INSERT.
    pg = IS_PG
    insert_sql = (
        "INSERT INTO contact_contactdecision (organisation_id, uid, case_id, debtor_id, "
        "contact_point_id, actor_id, channel, mode, party_role, at, zone, until, allowed, "
        "rules, notices, profile_versions, via, expires_at, consumed_at, created_at) VALUES "
        "(%s, %s, %s, %s, %s, %s, 'call', 'manual', 'debtor', %s, 'Asia/Shanghai', NULL, %s, "
        "%s, '[]', '{\"cn-default\": 1}', 'ui', %s, NULL, %s)"
    )
    adapt = connection.ops.adapt_datetimefield_value
    uid_gen = OrderedUids()

    def floor_once(item: tuple[Case, ContactPoint, User], k: int) -> float:
        case, point, actor = item
        rows = [
            ("cases_case", case.pk),
            ("cases_debtor", case.debtor_id),
            ("cases_contactpoint", point.pk),
        ]
        at = now()
        hx, canon = uid_gen.next()
        params = [
            case.organisation_id,
            canon if pg else hx,
            case.pk,
            case.debtor_id,
            point.pk,
            actor.pk,
            adapt(at),
            True,
            "[]",
            adapt(at),  # expired at once: holds no slot of the caps
            adapt(at),
        ]
        t0 = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cur:
            for q in range(k):
                table, pk = rows[q % 3]
                cur.execute(f"SELECT * FROM {table} WHERE id = %s", [pk])  # noqa: S608
                cur.fetchone()
            cur.execute(insert_sql, params)
        return (time.perf_counter() - t0) * 1000

    result: dict[str, Any] = {}
    unseals = [0]
    real_unseal = crypto.unseal

    def counting_unseal(blob: bytes, *, aad: bytes) -> bytes:
        unseals[0] += 1
        return real_unseal(blob, aad=aad)

    with time_machine.travel(t_moment, tick=True):
        # Warm-up: count the statements, check nothing personal is unsealed.
        crypto.unseal = counting_unseal  # type: ignore[assignment]
        selects: list[int] = []
        statements: list[int] = []
        try:
            for item in plan[:WARMUP]:
                with CaptureQueriesContext(connection) as captured:
                    decide(request(item))
                sqls = [q["sql"] for q in captured.captured_queries]
                statements.append(len(sqls))
                selects.append(sum(1 for s in sqls if _is_select(s)))
        finally:
            crypto.unseal = real_unseal  # type: ignore[assignment]
        k = int(statistics.median(selects))
        log(
            f"gate warm-up: {WARMUP} decisions, statements per decision median "
            f"{statistics.median(statements)} (SELECTs {k}), personal data unsealed {unseals[0]}×"
        )
        # Timed: a decision, then its floor, alternating.
        gate_ms: list[float] = []
        floor_ms: list[float] = []
        gc_ms: list[float] = []  # the collector's pauses inside each decision
        outcomes: Counter[str] = Counter()
        body = plan[WARMUP : WARMUP + n]
        floors = plan[WARMUP + n : WARMUP + 2 * n]
        paused = [0.0, 0.0]  # [pause so far in this decision, start of the current one]

        def on_gc(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                paused[1] = time.perf_counter()
            else:
                paused[0] += (time.perf_counter() - paused[1]) * 1000

        gc.callbacks.append(on_gc)
        try:
            for item, floor_item in zip(body, floors, strict=True):
                req = request(item)
                paused[0] = 0.0
                t0 = time.perf_counter()
                decision = decide(req)
                gate_ms.append((time.perf_counter() - t0) * 1000)
                gc_ms.append(paused[0])
                floor_ms.append(floor_once(floor_item, k))
                if decision.allowed:
                    outcomes["allowed"] += 1
                for code in decision.codes:
                    outcomes[code] += 1
        finally:
            gc.callbacks.remove(on_gc)
        # Where the time goes: the same decisions with a per-statement timer (not the figure).
        timer = StatementTimer()
        profiler = cProfile.Profile() if ARGS.profile else None
        tail = plan[WARMUP + 2 * n :]
        with connection.execute_wrapper(timer):
            if profiler is not None:
                profiler.enable()
            t0 = time.perf_counter()
            for item in tail:
                decide(request(item))
            tail_ms = (time.perf_counter() - t0) * 1000 / max(1, len(tail))
            if profiler is not None:
                profiler.disable()
    total_sql = sum(sum(v) for v in timer.times.values()) / max(1, len(tail))
    log(f"\nper decision: {tail_ms:.2f} ms wall, of which SQL {total_sql:.2f} ms:")
    log(f"  {'ms/decision':>11} {'calls/dec':>9} {'mean ms':>8}  statement")
    for sql, times in sorted(timer.times.items(), key=lambda kv: -sum(kv[1])):
        log(
            f"  {sum(times) / len(tail):11.3f} {len(times) / len(tail):9.2f} "
            f"{statistics.mean(times):8.3f}  {re.sub(r'\s+', ' ', sql)[:160]}"
        )
    if ARGS.explain:
        explain_gate(plan[-1])
    if profiler is not None:
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(30)
        stats.sort_stats("tottime").print_stats(25)
    with connection.cursor() as cur:
        cur.execute("DELETE FROM contact_contactdecision WHERE id > %s", [watermark])
        removed = cur.rowcount
        if IS_PG:
            # What autovacuum would do: the next run (and the page test) should not read the
            # dead index entries of this run's decisions.
            cur.execute("VACUUM (ANALYZE) contact_contactdecision")
    log(f"removed the {removed} decisions this run logged (gate and floor)")
    result.update(
        p50_ms=percentile(gate_ms, 50),
        p99_ms=percentile(gate_ms, 99),
        # The same decisions less the garbage collector's pauses inside them: how much of
        # the tail is the collector's, not the gate's.
        p99_nogc_ms=percentile([g - c for g, c in zip(gate_ms, gc_ms, strict=True)], 99),
        gc_paused_pct=100 * sum(1 for c in gc_ms if c > 0) / n,
        gc_max_ms=max(gc_ms),
        max_ms=max(gate_ms),
        mean_ms=statistics.mean(gate_ms),
        floor_p50_ms=percentile(floor_ms, 50),
        floor_p99_ms=percentile(floor_ms, 99),
        allowed_pct=100 * outcomes["allowed"] / n,
        selects=k,
        unsealed=unseals[0],
    )
    refused = {c: v for c, v in outcomes.items() if c != "allowed"}
    log(
        f"\ngate: {n} decisions at ~{t_moment:%H:%M} Beijing: p50 {result['p50_ms']:.2f} ms, "
        f"p99 {result['p99_ms']:.2f} ms, max {result['max_ms']:.2f} ms, mean "
        f"{result['mean_ms']:.2f}; floor ({k} PK SELECTs + 1 INSERT, one transaction) p50 "
        f"{result['floor_p50_ms']:.2f} ms, p99 {result['floor_p99_ms']:.2f} ms"
    )
    log(f"allowed {outcomes['allowed']}/{n}; refusals by rule: {dict(refused)}")
    return result


def _is_select(sql: str) -> bool:
    """A captured statement is a SELECT (prepared ones are captured as "QUERY = '…' - PARAMS
    = (…)" by Django, with the statement text inside)."""
    text = sql.lstrip()
    if text.startswith("QUERY = '"):
        text = text[len("QUERY = '") :]
    return text.upper().startswith("SELECT")


def _unprepared(statements: list[tuple[str, list[Any]]]) -> list[list[Any]]:
    """``core.db.fetch_prepared`` without preparing: each statement captured with its values
    in the text, so it can be EXPLAINed."""
    results = []
    with connection.cursor() as cur:
        for sql, params in statements:
            cur.execute(sql, params)
            results.append(cur.fetchall())
    return results


def explain_gate(item: tuple[Case, ContactPoint, User]) -> None:
    from recoup.contact import gate
    from recoup.contact.gate import ContactRequest, decide

    case, point, actor = item
    prepared = gate.__dict__["fetch_prepared"]
    setattr(gate, "fetch_prepared", _unprepared)  # noqa: B010 - patched for this one call
    try:
        with CaptureQueriesContext(connection) as captured:
            decide(
                ContactRequest(
                    actor=fresh(actor),
                    case=case,
                    channel="call",
                    contact_point=point,
                    mode="manual",
                )
            )
    finally:
        setattr(gate, "fetch_prepared", prepared)  # noqa: B010
    for q in captured.captured_queries:
        sql = q["sql"]
        if not sql.lstrip().upper().startswith("SELECT"):
            continue
        log(f"\n{sql}")
        with connection.cursor() as cur:
            cur.execute(("EXPLAIN (ANALYZE, BUFFERS) " if IS_PG else "EXPLAIN QUERY PLAN ") + sql)
            for row in cur.fetchall():
                log("    " + (row[0] if len(row) == 1 else str(row[-1])))


# --------------------------------------------------------------------------- part 2: web


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cookies_of(resp: http.client.HTTPResponse) -> dict[str, str]:
    out = {}
    for header, value in resp.getheaders():
        if header.lower() == "set-cookie":
            name, _, rest = value.partition("=")
            out[name.strip()] = rest.split(";", 1)[0]
    return out


def login(port: int, username: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/accounts/login/")
    resp = conn.getresponse()
    resp.read()
    csrf = cookies_of(resp)["csrftoken"]
    conn.close()
    body = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": csrf, "username": username, "password": PASSWORD}
    )
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(
        "POST",
        "/accounts/login/",
        body=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={csrf}",
        },
    )
    resp = conn.getresponse()
    resp.read()
    session = cookies_of(resp).get("sessionid")
    conn.close()
    if resp.status != 302 or not session:
        raise RuntimeError(f"login of {username} failed: HTTP {resp.status}")
    return f"csrftoken={csrf}; sessionid={session}"


async def fetch(port: int, raw: bytes) -> tuple[float, int, int]:
    t0 = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    size = 0
    head = b""
    while True:
        data = await reader.read(1 << 18)
        if not data:
            break
        if not head:
            head = data[:16]
        size += len(data)
    writer.close()
    elapsed = (time.perf_counter() - t0) * 1000
    try:
        status = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        status = 0
    return elapsed, status, size


async def load(
    port: int, raws: list[bytes], seconds: float
) -> tuple[list[float], Counter[int], float]:
    """Each raw request is one user repeating it back to back until the time is up."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    deadline = time.perf_counter() + seconds

    async def user(raw: bytes) -> None:
        if ARGS.think:  # users arrive spread over one think time, not all at once
            await asyncio.sleep(ARGS.think * random.random())
        while time.perf_counter() < deadline:
            try:
                elapsed, status, _ = await asyncio.wait_for(fetch(port, raw), ARGS.request_timeout)
            except TimeoutError:  # counted at the timeout, as status 0
                elapsed, status = ARGS.request_timeout * 1000, 0
            latencies.append(elapsed)
            statuses[status] += 1
            if ARGS.think:
                await asyncio.sleep(ARGS.think * (0.5 + random.random()))

    t0 = time.perf_counter()
    await asyncio.gather(*(user(raw) for raw in raws))
    return latencies, statuses, time.perf_counter() - t0


def drain(port: int) -> None:
    """Wait until the server is idle again: requests abandoned at a timeout are still being
    served, and the next phase must not queue behind them."""
    quick = 0
    t_end = time.perf_counter() + 600
    while quick < 3 and time.perf_counter() < t_end:
        t0 = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        conn.request("GET", "/healthz")
        conn.getresponse().read()
        conn.close()
        quick = quick + 1 if time.perf_counter() - t0 < 0.05 else 0
        time.sleep(0.05)


def raw_get(path: str, cookie: str = "") -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", "Accept: text/html"]
    if cookie:
        lines.append(f"Cookie: {cookie}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def page_path() -> tuple[str, str]:
    try:
        return reverse("contact:queue"), "work"
    except NoReverseMatch:
        return reverse("cases:case-list"), "cases"


def page_breakdown(path: str, meta: dict[str, str]) -> float:
    """One collector's page in this process (Django's test client, a real login): its wall
    time and its SQL statements by total time; ``--profile`` adds a cProfile of it."""
    from django.test import Client

    with time_machine.travel(datetime.fromisoformat(meta["t"]), tick=True):
        client = Client()
        client.post("/accounts/login/", {"username": "gc00000", "password": PASSWORD})
        walls = []
        for _ in range(3):
            t0 = time.perf_counter()
            resp = client.get(path)
            walls.append((time.perf_counter() - t0) * 1000)
        if resp.status_code != 200:
            raise RuntimeError(f"{path} answered {resp.status_code} in process")
        timer = StatementTimer()
        with connection.execute_wrapper(timer):
            t0 = time.perf_counter()
            client.get(path)
            wall = (time.perf_counter() - t0) * 1000
        sql_ms = sum(sum(v) for v in timer.times.values())
        log(
            f"\n{path} in process, one collector (500 open cases): "
            f"{statistics.median(walls):.1f} ms (median of 3 after login); "
            f"timed once more: {wall:.1f} ms, of which SQL "
            f"{sql_ms:.1f} ms in {sum(len(v) for v in timer.times.values())} statements:"
        )
        for sql, times in sorted(timer.times.items(), key=lambda kv: -sum(kv[1]))[:12]:
            log(f"  {sum(times):9.2f} ms {len(times):3d}×  {re.sub(r'\s+', ' ', sql)[:170]}")
        if ARGS.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            client.get(path)
            profiler.disable()
            stats = pstats.Stats(profiler)
            stats.sort_stats("cumulative").print_stats(40)
            stats.sort_stats("tottime").print_stats(30)
    return statistics.median(walls)


def web_part(meta: dict[str, str]) -> dict[str, Any]:
    path, page = page_path()
    in_process_ms = page_breakdown(path, meta)
    if in_process_ms > ARGS.max_page_ms:
        log(
            f"\nload test skipped: one page alone takes {in_process_ms:.0f} ms in process "
            f"(> --max-page-ms {ARGS.max_page_ms:.0f}); {ARGS.users} users would queue for "
            f"≈ {ARGS.users * in_process_ms / 1000 / (os.cpu_count() or 1):.0f} s a page"
        )
        nan = float("nan")
        return {
            "page": page,
            "page_ms": in_process_ms,
            "queue_p50_ms": nan,
            "queue_p95_ms": nan,
            "queue_rps": nan,
            "queue_errors": 0,
            "floor_queue_p50_ms": nan,
            "floor_queue_p95_ms": nan,
            "floor_rps": nan,
            "skipped": True,
        }
    port = free_port()
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    conf = BENCH_DIR / "gate_gunicorn.py"
    server_log = BENCH_DIR / "gate_gunicorn.log"
    conf.write_text(
        "# Written by bench/gate.py: the workers' clock at the data's 10:00 (ticking).\n"
        f"bind = '127.0.0.1:{port}'\n"
        f"workers = {ARGS.workers}\n"
        "worker_class = 'sync'\n"
        "timeout = 120\n"
        "backlog = 2048\n"
        "accesslog = None\n"
        f"errorlog = {str(server_log)!r}\n"
        "loglevel = 'warning'\n\n\n"
        "def post_fork(server, worker):\n"
        "    import datetime\n\n"
        "    import time_machine\n\n"
        f"    moment = datetime.datetime.fromisoformat({meta['t']!r})\n"
        "    time_machine.travel(moment, tick=True).start()\n"
    )
    # Fresh logins: unlock the collectors and forget earlier sessions.
    usernames = [f"gc{k:05d}" for k in range(ARGS.users)]
    User.objects.filter(username__in=usernames).update(
        failed_login_count=0, locked_until=None, current_session_key=""
    )
    env = dict(os.environ)
    gunicorn = str(ROOT / ".venv" / "bin" / "gunicorn")
    with open(server_log, "a") as errors:
        server = subprocess.Popen(  # noqa: S603 (our own virtualenv's gunicorn)
            [gunicorn, "config.wsgi", "-c", str(conf)], cwd=ROOT, env=env, stderr=errors
        )
    log(f"\ngunicorn pid {server.pid}: {ARGS.workers} sync workers on 127.0.0.1:{port}")
    try:
        for _ in range(600):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError(f"gunicorn did not answer; see {server_log}")
        t0 = time.perf_counter()
        cookies = [login(port, u) for u in usernames]
        log(f"{len(cookies)} collectors logged in ({time.perf_counter() - t0:.1f} s)")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", path, headers={"Cookie": cookies[0]})
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{path} answered {resp.status} for a logged-in collector")
        rows = body.count(b"<tr")
        log(f"page {path}: {len(body)} bytes, {rows} table rows for the first collector")
        page_raws = [raw_get(path, c) for c in cookies]
        health_raws = [raw_get("/healthz") for _ in cookies]
        per_round = ARGS.duration / 3
        asyncio.run(load(port, page_raws, 5.0))  # warm-up
        page_lat: list[float] = []
        floor_lat: list[float] = []
        page_status: Counter[int] = Counter()
        floor_status: Counter[int] = Counter()
        page_secs = floor_secs = 0.0
        for rnd in range(3):
            drain(port)
            lat, st, secs = asyncio.run(load(port, health_raws, per_round))
            floor_lat += lat
            floor_status += st
            floor_secs += secs
            log(
                f"  round {rnd + 1} /healthz: {len(lat)} requests, p95 "
                f"{percentile(lat, 95):.1f} ms, {len(lat) / secs:.0f}/s"
            )
            drain(port)
            lat, st, secs = asyncio.run(load(port, page_raws, per_round))
            page_lat += lat
            page_status += st
            page_secs += secs
            log(
                f"  round {rnd + 1} {path}: {len(lat)} requests, p95 "
                f"{percentile(lat, 95):.1f} ms, {len(lat) / secs:.0f}/s, statuses {dict(st)}"
            )
    finally:
        server.terminate()
        server.wait(timeout=60)
    res = {
        "page": page,
        "page_ms": in_process_ms,
        "queue_p50_ms": percentile(page_lat, 50),
        "queue_p95_ms": percentile(page_lat, 95),
        "queue_rps": len(page_lat) / page_secs,
        "queue_errors": sum(v for s, v in page_status.items() if s != 200),
        "floor_queue_p50_ms": percentile(floor_lat, 50),
        "floor_queue_p95_ms": percentile(floor_lat, 95),
        "floor_rps": len(floor_lat) / floor_secs,
        "floor_errors": sum(v for s, v in floor_status.items() if s != 200),
    }
    log(
        f"\n{path} with {ARGS.users} users ("
        + (f"think {ARGS.think:g} s" if ARGS.think else "closed loop")
        + f", {ARGS.workers} workers): p50 "
        f"{res['queue_p50_ms']:.1f} ms, p95 {res['queue_p95_ms']:.1f} ms, "
        f"{res['queue_rps']:.1f} pages/s, non-200 {res['queue_errors']}; /healthz p50 "
        f"{res['floor_queue_p50_ms']:.1f} ms, p95 {res['floor_queue_p95_ms']:.1f} ms, "
        f"{res['floor_rps']:.0f}/s"
    )
    return res


# --------------------------------------------------------------------------- candidates

# Candidate indexes tried by --proposed (bench database only; dropped again at the end).
# The queue page counts the collector's unrecorded grants (recoup.contact.selectors.
# unrecorded_grants: actor_id IN (…), allowed, consumed_at IS NULL, at < day start); no index
# starts with the actor, so both engines read every decision. Open grants are few (reported
# calls consume theirs), so a partial index stays tiny.
# PostgreSQL already answers that one from the small decision_number_open partial index; its
# slow statement is the collector's daily figures (recoup.contact.queue.daily_figures:
# actor_id IN (…) AND local_day = …, without the organisation that attempt_actor_day starts
# with), a scan of that whole index. SQLite skip-scans it.
PROPOSED = (
    {
        "gatebench_decision_actor_open": (
            "contact_contactdecision (actor_id, at) WHERE (allowed AND consumed_at IS NULL)"
        ),
        "gatebench_attempt_actor_day": "contact_contactattempt (actor_id, local_day)",
    }
    if IS_PG
    else {
        "gatebench_decision_actor_open": (
            '"contact_contactdecision" ("actor_id", "at") '
            'WHERE ("allowed" = 1 AND "consumed_at" IS NULL)'
        ),
    }
)


def proposed(create: bool) -> None:
    with connection.cursor() as cur:
        for name, target in PROPOSED.items():
            if create:
                log(f"candidate: CREATE INDEX {name} ON {target}")
                cur.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")
                table = target.split(" ", 1)[0].strip('"')
                cur.execute(f"ANALYZE {table if IS_PG else name}")
            else:
                cur.execute(f"DROP INDEX IF EXISTS {name}")


# --------------------------------------------------------------------------- main


def main() -> None:
    log(
        f"gate: cases={ARGS.cases} attempts={ARGS.attempts} db={ARGS.db} "
        f"(python {sys.version.split()[0]}, {os.cpu_count()} cpus, load "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())})"
    )
    meta = read_meta() if ARGS.keep else None
    if meta and (int(meta["cases"]), int(meta["attempts"])) == (ARGS.cases, ARGS.attempts):
        log(f"reusing the generated database (made in {meta['seconds']} s, at {meta['t']})")
    else:
        connection.close()
        drop_database()
        meta = generate()
    call_command("migrate", verbosity=0)  # a kept database gets new migrations too
    log(f"rows: {counts()}")
    res: dict[str, Any] = {}
    proposed(create=False)  # never measure a leftover candidate by accident
    if ARGS.proposed:
        proposed(create=True)
    try:
        if not ARGS.skip_gate:
            res.update(gate_part(meta))
        if not ARGS.skip_web:
            res.update(web_part(meta))
    finally:
        proposed(create=False)
    parts = [f"RESULT gate attempts={ARGS.attempts} cases={ARGS.cases} db={ARGS.db}"]
    if not ARGS.skip_gate:
        parts.append(
            f"decisions={ARGS.decisions} p50_ms={res['p50_ms']:.2f} p99_ms={res['p99_ms']:.2f} "
            f"floor_p50_ms={res['floor_p50_ms']:.2f} floor_p99_ms={res['floor_p99_ms']:.2f} "
            f"floor_ratio={res['p50_ms'] / res['floor_p50_ms']:.2f} "
            f"allowed_pct={res['allowed_pct']:.1f} unsealed={res['unsealed']} "
            f"p99_nogc_ms={res['p99_nogc_ms']:.2f} gc_paused_pct={res['gc_paused_pct']:.1f} "
            f"gc_max_ms={res['gc_max_ms']:.2f}"
        )
    if not ARGS.skip_web:
        parts.append(
            f"page={res['page']} page_ms={res['page_ms']:.1f} users={ARGS.users} "
            + (f"think_s={ARGS.think:g} " if ARGS.think else "")
            + f"workers={ARGS.workers} "
            f"queue_p50_ms={res['queue_p50_ms']:.1f} queue_p95_ms={res['queue_p95_ms']:.1f} "
            f"queue_rps={res['queue_rps']:.1f} queue_errors={res['queue_errors']} "
            f"floor_queue_p95_ms={res['floor_queue_p95_ms']:.1f} floor_rps={res['floor_rps']:.0f}"
        )
    if res.get("skipped"):
        parts.append("load=skipped_page_too_slow")
    if ARGS.proposed:
        parts.append("variant=proposed")
    print(" ".join(parts))


if __name__ == "__main__":
    main()

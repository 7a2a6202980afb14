"""import_cases: a synthetic bank file imported end to end, against the physical floor.

The figure is the wall time of Recoup's new-case import of one bank file, end to end:

  upload    services.import_upload: the file copied into storage with its SHA-256, the
            header row read and a mapping suggested (the job is a draft)
  confirm   services.import_confirm: the mapping checked against the headers again, queued
  run       services.import_run: stage (stream, normalise, seal, COPY/executemany into the
            staging tables), filter (duplicates, existing cases, stop list: set-based SQL),
            switch-over (one transaction of INSERT … SELECT), planner statistics refreshed

Each run starts from a fresh bench database (dropped and re-created: PostgreSQL database
``recoup_bench``, SQLite file ``var/bench/import_cases.sqlite3``), migrated and seeded with
the demo agency (``demo_seed(cases=0)``) and 20 people of the file on the stop list, so the
import is a real new-case import of a never-seen file (the same file twice is refused by
design). The admin assistant of the Beijing branch imports into bank-a's contract (policy:
quarantine the bad rows, load the rest).

The file (generated once per rows + seed + format under ``var/bench/`` and reused when kept
with ``--keep-file``) has 30 columns: 26 mapped by the built-in header synonyms and 4 kept as
custom fields. Chinese names and addresses, valid GB 11643 ID numbers (1 % in the legacy
15-digit form), mobiles in several spellings, landlines with area codes, amounts with
thousands separators, ¥, ￥, RMB and 元, overdue days and dates in four spellings. Planted:
2 % bad rows (bad ID check digit, negative principal, bad overdue days, impossible or future
overdue date, bad own mobile, missing name), 1 % repeated case numbers (exact re-sends of an
earlier row), 3 % rows of a person already in the file under another account, 0.5 % bad
phone numbers of a second contact (a warning: the case loads without that phone). The
generator knows what it planted, so the bench checks the job's counters, the cases, debtors,
holds and issues against it.

Floor (timed in the same run, alternating with the import, medians of ``--repeat``):
- CSV, both databases: PostgreSQL ``COPY … FROM STDIN (FORMAT csv, HEADER true)`` of the same
  file's raw bytes (psycopg 3 ``copy.write`` of 1 MB blocks) into an unindexed table of 30
  text columns in ``recoup_bench``: the least work that gets these bytes into a database.
- CSV on SQLite, printed too: ``executemany`` of the file's rows (streamed from csv.reader)
  into a plain 30-column table, one transaction, WAL, synchronous=NORMAL.
- XLSX: reading the sheet with calamine (``polars.read_excel(engine="calamine")`` when
  fastexcel is installed, else python-calamine's rows), all cells materialised.

Schema floor (``--schema-floor``, after each import, printed and added to the RESULT line):
the debtors, cases and contact points the import wrote, copied with ``INSERT … SELECT`` in
insertion order into empty copies of their tables (PostgreSQL ``LIKE … INCLUDING ALL``;
SQLite the same DDL, foreign keys included), one transaction with its commit. It is the
least the database must do to hold what this file becomes on this schema (about 5.8 contact
points a case), before any parsing, sealing, staging or filtering: a target below it cannot
be met without changing the schema.

Peak memory is the import's own: the process's high-water mark is reset (Linux
``/proc/self/clear_refs``) before each import and read with ``getrusage`` after it. It counts
the pages of the CSV that polars maps into memory while reading it. A large file is staged by
two processes (recoup.intake.parallel): ``peak_mb`` is then the sum of both peaks (this
process's, ``main_peak_mb``, and its helper's, ``helper_peak_mb``, read with
``RUSAGE_CHILDREN``), an upper bound of what the import held at once. The phases below are
this process's: the helper's share of staging shows only as this process waiting for it
("stage: other"). ``RECOUP_IMPORT_PROCESSES=1`` measures the import staged by one process.

Reported besides the figure: seconds per phase (the intake's functions wrapped with
``perf_counter``, timing only; commits are attributed to the batch they end or to the
switch-over) and the slowest SQL statements (a connection execute wrapper). ``--profile``
runs ``import_run`` under cProfile (times inflate) and prints the top functions.
``--proposed`` applies, from outside the intake's code, fixes the intake did not have yet
(fresh planner statistics before the set-based SQL; no per-row lists in ``_seal_rows``) and
skips any the source already contains. Runs take ``var/bench/import_cases.lock``: they share
the bench database, the floor table and the media directory.

    .venv/bin/python bench/import_cases.py --rows 1000000
    .venv/bin/python bench/import_cases.py --rows 1000000 --db postgres
    .venv/bin/python bench/import_cases.py --xlsx --db postgres   # 200,000 rows
    .venv/bin/python bench/import_cases.py --rows 200000 --profile var/bench/import.prof
    .venv/bin/python bench/import_cases.py --rows 1000000 --schema-floor
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import csv
import functools
import gc
import inspect
import json
import os
import pstats
import random
import resource
import shutil
import sqlite3
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from _lock import single_run_lock  # bench/_lock.py (a script's own folder is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)

BENCH_DIR = ROOT / "var" / "bench"
# Another PostgreSQL server (a tuned one, say) on this host: RECOUP_BENCH_PG_PORT=5433.
PG_PORT = int(os.environ.get("RECOUP_BENCH_PG_PORT", "5432"))
PG_DBNAME = "recoup_bench"
PG_URL = f"postgres://postgres@127.0.0.1:{PG_PORT}/{PG_DBNAME}"
PG_ADMIN_URL = f"postgres://postgres@127.0.0.1:{PG_PORT}/postgres"
PG_CONNINFO = f"host=127.0.0.1 port={PG_PORT} user=postgres dbname={PG_DBNAME}"
SQLITE_PATH = BENCH_DIR / "import_cases.sqlite3"
SQLITE_FLOOR_PATH = BENCH_DIR / "import_cases_floor.sqlite3"
MEDIA_ROOT = BENCH_DIR / "import_cases_media"
FLOOR_TABLE = "bench_import_floor"

parser = argparse.ArgumentParser(description="Bank-file import, end to end, against COPY")
parser.add_argument("--rows", type=int, default=None, help="default 1000000 (XLSX: 200000)")
parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
parser.add_argument("--xlsx", action="store_true", help="import an XLSX instead of a CSV")
parser.add_argument("--keep-file", action="store_true", help="keep the generated file for reuse")
parser.add_argument("--repeat", type=int, default=1, help="runs of import and floor (medians)")
parser.add_argument(
    "--schema-floor",
    action="store_true",
    help="after each import, time writing its rows into empty copies of their tables",
)
parser.add_argument("--seed", type=int, default=20261122)
parser.add_argument(
    "--profile", metavar="PATH", help="cProfile import_run into PATH (times are inflated)"
)
parser.add_argument(
    "--proposed",
    action="store_true",
    help="measure with the candidate fix: planner statistics refreshed after staging and "
    "after the new debtors are inserted (see the docstring)",
)
ARGS = parser.parse_args()
if ARGS.rows is None:
    ARGS.rows = 200_000 if ARGS.xlsx else 1_000_000

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("RECOUP_DEBUG", "1")
# Always the bench database: this script drops and re-creates it.
os.environ["RECOUP_DATABASE_URL"] = (
    PG_URL if ARGS.db == "postgres" else f"sqlite:///{SQLITE_PATH.relative_to(ROOT)}"
)
os.environ["RECOUP_MEDIA_ROOT"] = str(MEDIA_ROOT)
os.environ.setdefault("RECOUP_IMPORT_MAX_MB", "2048")


def pg_ensure_database(*, drop: bool) -> None:
    import psycopg

    assert PG_DBNAME not in ("test", "test_test")
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [PG_DBNAME])
        exists = found.fetchone()
        if exists and drop:
            conn.execute(f"DROP DATABASE {PG_DBNAME} WITH (FORCE)")
            exists = None
        if not exists:
            conn.execute(f"CREATE DATABASE {PG_DBNAME}")


pg_ensure_database(drop=False)  # the COPY floor lives there whatever --db says

import django  # noqa: E402

django.setup()

import polars as pl  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from recoup.accounts.models import Organisation, User  # noqa: E402
from recoup.cases.models import Case, Debtor, Hold  # noqa: E402
from recoup.clients.models import Contract  # noqa: E402
from recoup.core.identity import ID_CHECK, ID_WEIGHTS  # noqa: E402
from recoup.demo.services import DEMO_ORG_CODE, demo_seed  # noqa: E402
from recoup.demo.synthetic import EMPLOYERS, MOBILE_PREFIXES, REGIONS  # noqa: E402
from recoup.intake import parallel, pipeline, services, switchover  # noqa: E402
from recoup.intake.fields import CUSTOM, MAX_CONTACTS  # noqa: E402
from recoup.intake.models import ImportIssue, ImportJob, QuarantinedRow  # noqa: E402

# --------------------------------------------------------------------------- the bank file

GEN_VERSION = 2  # bump when the generator changes: cached files carry it in their name
HEADERS = [
    "案件编号",  # client_case_number
    "客户姓名",  # name
    "身份证号",  # id_number
    "产品类型",  # product
    "卡号",  # account_number
    "本金",  # principal
    "利息",  # interest
    "滞纳金",  # fees
    "欠款总额",  # total_owed
    "逾期天数",  # overdue_days
    "逾期起始日",  # overdue_since
    "逾期阶段",  # stage
    "手机号",  # mobile
    "住宅电话",  # home_phone
    "家庭地址",  # home_address
    "单位名称",  # employer
    "单位地址",  # employer_address
    "单位电话",  # employer_phone
    "省份",  # province
    "城市",  # city
    "联系人1姓名",
    "联系人1关系",
    "联系人1电话",
    "联系人2姓名",
    "联系人2关系",
    "联系人2电话",
    "客户等级",  # custom
    "开卡日期",  # custom
    "信用额度",  # custom
    "备注",  # custom
]
EXPECTED_FIELDS = {
    "案件编号": "client_case_number",
    "客户姓名": "name",
    "身份证号": "id_number",
    "产品类型": "product",
    "卡号": "account_number",
    "本金": "principal",
    "利息": "interest",
    "滞纳金": "fees",
    "欠款总额": "total_owed",
    "逾期天数": "overdue_days",
    "逾期起始日": "overdue_since",
    "逾期阶段": "stage",
    "手机号": "mobile",
    "住宅电话": "home_phone",
    "家庭地址": "home_address",
    "单位名称": "employer",
    "单位地址": "employer_address",
    "单位电话": "employer_phone",
    "省份": "province",
    "城市": "city",
    **{
        f"联系人{n}{label}": f"contact{n}_{part}"
        for n in (1, 2)
        for label, part in (("姓名", "name"), ("关系", "relation"), ("电话", "phone"))
    },
    "客户等级": CUSTOM,
    "开卡日期": CUSTOM,
    "信用额度": CUSTOM,
    "备注": CUSTOM,
}
(
    I_NUMBER,
    I_NAME,
    I_ID,
    I_PRODUCT,
    I_ACCOUNT,
    I_PRINCIPAL,
    I_INTEREST,
    I_FEES,
    I_TOTAL,
    I_DAYS,
    I_SINCE,
    I_STAGE,
    I_MOBILE,
    I_HOME_PHONE,
    I_HOME_ADDRESS,
    I_EMPLOYER,
    I_EMPLOYER_ADDRESS,
    I_EMPLOYER_PHONE,
    I_PROVINCE,
    I_CITY,
) = range(20)
I_CONTACT2_PHONE = 25
PERSON_COLUMNS = (
    I_NAME,
    I_ID,
    I_MOBILE,
    I_HOME_PHONE,
    I_HOME_ADDRESS,
    I_EMPLOYER,
    I_EMPLOYER_ADDRESS,
    I_EMPLOYER_PHONE,
    I_PROVINCE,
    I_CITY,
)

BAD_SHARE = 0.02
DUP_SHARE = 0.01
SAME_PERSON_SHARE = 0.03
SOFT_BAD_SHARE = 0.005
LEGACY_ID_SHARE = 0.01
STOP_LISTED = 20  # people of the file put on the stop list before the import
BAD_KINDS = (
    "id_checksum",
    "amount_negative",
    "overdue_days_invalid",
    "date_invalid",
    "date_in_future",
    "phone_invalid",
    "missing_name",
)

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏"
    "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵"
)
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉建国志勇晨宇浩然"
    "子涵欣怡梓轩雨桐思远俊杰嘉怡一诺佳琪婷雪梅海燕文博晓东立新春生秋菊冬梅德华永福金凤秀珍"
)
AREA_CODES = {
    "北京市": "010",
    "上海市": "021",
    "广州市": "020",
    "深圳市": "0755",
    "杭州市": "0571",
    "南京市": "025",
    "成都市": "028",
    "武汉市": "027",
    "西安市": "029",
    "济南市": "0531",
}
RELATIONS = ("配偶", "父亲", "母亲", "兄弟", "姐妹", "朋友", "同事", "子女", "担保人")
GRADES = ("A", "B", "C", "VIP", "普通")
NOTES = ("", "", "", "客户称已还部分款项", "地址待核实", '=HYPERLINK("http://x","点此")')
BORN_SPAN = 365 * 38  # born 1965-01-01 … 2002-12-31
BORN_BASE = date(1965, 1, 1)


def _check(first17: str) -> str:
    return ID_CHECK[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def _cny(cents: int) -> str:
    return f"{cents // 100:,}.{cents % 100:02d}"


def _amount_text(rand: Callable[[], float], cents: int) -> str:
    spelling = int(rand() * 10)
    if spelling < 3:
        return f"{cents // 100}.{cents % 100:02d}"
    if spelling < 6:
        return _cny(cents)
    if spelling == 6:
        return "¥" + _cny(cents)
    if spelling == 7:
        return _cny(cents) + "元"
    if spelling == 8:
        return f"￥{cents // 100}.{cents % 100:02d}"
    return "RMB " + _cny(cents)


def _date_text(rand: Callable[[], float], d: date) -> str:
    spelling = int(rand() * 4)
    if spelling == 0:
        return d.isoformat()
    if spelling == 1:
        return f"{d.year}/{d.month}/{d.day}"
    if spelling == 2:
        return f"{d:%Y%m%d}"
    return f"{d.year}年{d.month}月{d.day}日"


def _stage(days: int) -> str:
    return "M6+" if days > 150 else f"M{(days - 1) // 30 + 1}"


def bank_rows(rows: int, seed: int, *, typed: bool, stats: Counter[str]) -> Iterator[list[Any]]:
    """The file's data rows; ``stats`` counts what was planted (the bench's expectations).

    ``typed`` (XLSX) writes amounts as numbers, overdue days as integers and dates as dates,
    as a bank's spreadsheet would; bad values stay text.
    """
    rng = random.Random(seed)
    rand = rng.random  # random.randrange costs 1.6 µs a call, random() 30 ns

    def rr(a: int, b: int | None = None) -> int:
        return int(rand() * a) if b is None else a + int(rand() * (b - a))

    def choice(seq: Any) -> Any:
        return seq[int(rand() * len(seq))]

    # GB 11643 weighted sums by part (region 6 digits, birth date 8, sequence 3), so that a
    # check character costs three look-ups.
    def weighted(digits: str, first: int) -> int:
        return sum(int(d) * w for d, w in zip(digits, ID_WEIGHTS[first:], strict=False))

    born_text = [
        (f"{d:%Y%m%d}", f"{d:%y%m%d}", d.year, weighted(f"{d:%Y%m%d}", 6))
        for d in (BORN_BASE + timedelta(days=k) for k in range(BORN_SPAN))
    ]
    region_sum = {r[0]: weighted(r[0], 0) for r in REGIONS}
    seq_sum = [weighted(f"{k:03d}", 14) for k in range(1000)]
    today = datetime.now(UTC).date() - timedelta(days=1)  # never "in the future" on import day
    regions = REGIONS
    recent: list[tuple[list[Any], int, bool]] = []  # valid first rows: (row, person, soft bad)
    stop_people = {p * 9973 % max(1, rows // 2) for p in range(1, STOP_LISTED + 1)}
    stats["stop_people"] = len(stop_people)
    stop_ids: list[str] = []
    person_no = 0
    for i in range(rows):
        roll = rand()
        if recent and roll < DUP_SHARE:
            src, _person, soft = recent[rr(len(recent))]
            stats["duplicate"] += 1
            stats["warning"] += soft
            yield list(src)
            continue
        bad = roll < DUP_SHARE + BAD_SHARE
        same = recent and not bad and rand() < SAME_PERSON_SHARE
        # --- the person
        gender = rr(2)  # 1 = male (odd 17th digit)
        region = choice(regions)
        code, province, city, streets = region
        prefix = city if province == city else province + city
        person = person_no
        person_no += 1
        born, born_short, born_year, born_sum = born_text[person * 7919 % BORN_SPAN]
        seq = (person // BORN_SPAN) % 100 * 10 + rr(5) * 2 + gender
        first17 = f"{code}{born}{seq:03d}"
        id_number = first17 + ID_CHECK[(region_sum[code] + born_sum + seq_sum[seq]) % 11]
        if born_year < 2000 and rand() < LEGACY_ID_SHARE:
            id_number = f"{code}{born_short}{seq:03d}"
        name = choice(SURNAMES) + choice(GIVEN) + (choice(GIVEN) if rand() < 0.7 else "")
        mobile_digits = choice(MOBILE_PREFIXES) + f"{rr(10**8):08d}"
        spelling = rr(10)
        if spelling < 7:
            mobile: Any = int(mobile_digits) if typed and spelling < 3 else mobile_digits
        elif spelling < 9:
            mobile = f"+86 {mobile_digits[:3]}-{mobile_digits[3:7]}-{mobile_digits[7:]}"
        else:
            mobile = f"{mobile_digits[:3]} {mobile_digits[3:7]} {mobile_digits[7:]}"
        area = AREA_CODES[city]
        local = f"{rr(2, 10)}{rr(10**7):07d}"
        home_phone = f"{area}-{local}" if rand() < 0.6 else ""
        home_address = (
            f"{prefix}{choice(streets)}{rr(1, 300)}号{rr(1, 40)}栋{rr(1, 30)}0{rr(1, 6)}室"
        )
        work = region if rand() < 0.8 else choice(regions)
        work_prefix = work[2] if work[1] == work[2] else work[1] + work[2]
        employer = work[2].removesuffix("市") + choice(SURNAMES) + choice(EMPLOYERS)
        employer_address = f"{work_prefix}{choice(work[3])}{rr(1, 500)}号"
        employer_phone = (
            f"({AREA_CODES[work[2]]}) {rr(2, 10)}{rr(100, 1000)}-{rr(1000, 10000)}"
            if rand() < 0.5
            else ""
        )
        # --- the account
        card = rand() < 0.7
        account = (
            f"6225 {rr(10**4):04d} {(i // 10**4) % 10**4:04d} {i % 10**4:04d}"
            if card
            else f"LN{seed % 1000:03d}{i:011d}"
        )
        principal = rr(2_000_00, 200_000_00)
        interest = principal * rr(2, 25) // 100
        fees = rr(0, 2_000_00)
        total = principal + interest + fees
        days = choice((rr(1, 31), rr(31, 91), rr(91, 181), rr(181, 720)))
        since = today - timedelta(days=days)
        if typed:
            amounts: list[Any] = [principal / 100, interest / 100, fees / 100, total / 100]
            days_cell: Any = days
            since_cell: Any = since
        else:
            amounts = [_amount_text(rand, c) for c in (principal, interest, fees, total)]
            days_cell = f"{days}天" if rand() < 0.2 else str(days)
            since_cell = _date_text(rand, since)
        contact2 = rand() < 0.6
        soft_bad = contact2 and rand() < SOFT_BAD_SHARE / 0.6
        row: list[Any] = [
            f"BK{seed % 100:02d}{i:09d}",
            name,
            id_number,
            "信用卡" if card else "消费贷",
            account,
            *amounts,
            days_cell,
            since_cell,
            _stage(days),
            mobile,
            home_phone,
            home_address,
            employer,
            employer_address,
            employer_phone,
            province,
            city,
            choice(SURNAMES) + choice(GIVEN) + choice(GIVEN),
            choice(RELATIONS),
            choice(MOBILE_PREFIXES) + f"{rr(10**8):08d}",
            choice(SURNAMES) + choice(GIVEN) if contact2 else "",
            choice(RELATIONS) if contact2 else "",
            (
                ("1380000" if soft_bad else choice(MOBILE_PREFIXES) + f"{rr(10**8):08d}")
                if contact2
                else ""
            ),
            choice(GRADES),
            f"{2010 + rr(16)}-{rr(1, 13):02d}-{rr(1, 29):02d}",
            f"{rr(1, 30) * 5000:,}" if not typed else rr(1, 30) * 5000,
            choice(NOTES),
        ]
        if same:
            src, person, _soft = recent[rr(len(recent))]
            person_no -= 1
            for col in PERSON_COLUMNS:
                row[col] = src[col]
        stats["warning"] += soft_bad
        if bad:
            kind = BAD_KINDS[rr(len(BAD_KINDS))]
            stats["invalid"] += 1
            stats[f"bad_{kind}"] += 1
            if kind == "id_checksum":
                wrong = ID_CHECK[(ID_CHECK.index(_check(first17)) + 1 + rr(9)) % 11]
                row[I_ID] = first17 + wrong
            elif kind == "amount_negative":
                row[I_PRINCIPAL] = -principal / 100 if typed else "-" + _cny(principal)
            elif kind == "overdue_days_invalid":
                row[I_DAYS] = choice(("-3", "约30天", "99999"))
            elif kind == "date_invalid":
                row[I_SINCE] = choice(("2025-13-45", "2025/02/30", "上月"))
            elif kind == "date_in_future":
                ahead = today + timedelta(days=rr(30, 400))
                row[I_SINCE] = ahead if typed else _date_text(rand, ahead)
            elif kind == "phone_invalid":
                row[I_MOBILE] = mobile_digits[:7]
            else:
                row[I_NAME] = ""
            yield row
            continue
        stats["loaded"] += 1
        if not same:
            stats["debtors"] += 1
        if person in stop_people:
            stats["held"] += 1
            if not same:
                stop_ids.append(str(row[I_ID]))
        if len(recent) < 5000:
            recent.append((row, person, soft_bad))
        else:
            recent[rr(5000)] = (row, person, soft_bad)
        yield row
    stats["rows"] = rows
    for key in ("invalid", "duplicate", "held", "warning", "debtors", "loaded"):
        stats.setdefault(key, 0)
    STOP_IDS[:] = stop_ids


STOP_IDS: list[str] = []


def bank_file(rows: int, seed: int, *, xlsx: bool) -> tuple[Path, dict[str, Any], bool]:
    """The cached file and its planted counts; generate it when missing. Returns generated."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    stem = f"import_cases-v{GEN_VERSION}-{rows}-s{seed}"
    path = BENCH_DIR / (stem + (".xlsx" if xlsx else ".csv"))
    meta_path = path.with_suffix(path.suffix + ".json")
    if path.exists() and meta_path.exists():
        return path, json.loads(meta_path.read_text()), False
    stats: Counter[str] = Counter()
    t0 = time.perf_counter()
    tmp = path.with_suffix(path.suffix + ".part")
    if xlsx:
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet("案件清单")
        ws.append(HEADERS)
        for row in bank_rows(rows, seed, typed=True, stats=stats):
            ws.append(row)
        wb.save(tmp)
    else:
        with tmp.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(HEADERS)
            writer.writerows(bank_rows(rows, seed, typed=False, stats=stats))
    tmp.rename(path)
    meta = dict(stats) | {"stop_ids": STOP_IDS, "seconds": round(time.perf_counter() - t0, 1)}
    meta_path.write_text(json.dumps(meta, ensure_ascii=False))
    print(
        f"generated {path.name}: {path.stat().st_size / 1e6:.0f} MB in {meta['seconds']} s",
        file=sys.stderr,
    )
    return path, meta, True


# --------------------------------------------------------------------------- floors


def pg_copy_floor(path: Path, rows: int) -> float:
    """COPY the file's raw bytes into an unindexed table of as many text columns."""
    import psycopg

    cols = ", ".join(f"c{i} text" for i in range(len(HEADERS)))
    with psycopg.connect(PG_CONNINFO) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {FLOOR_TABLE}")
        conn.execute(f"CREATE TABLE {FLOOR_TABLE} ({cols})")
        conn.commit()
        conn.execute("CHECKPOINT")
        conn.commit()
        t0 = time.perf_counter()
        sql = f"COPY {FLOOR_TABLE} FROM STDIN WITH (FORMAT csv, HEADER true)"
        with conn.cursor() as cur, cur.copy(sql) as copy, path.open("rb") as fh:
            while block := fh.read(1 << 20):
                copy.write(block)
        conn.commit()
        seconds = time.perf_counter() - t0
        count = conn.execute(f"SELECT count(*) FROM {FLOOR_TABLE}").fetchone()  # noqa: S608
        conn.execute(f"DROP TABLE {FLOOR_TABLE}")
        conn.commit()
    assert count is not None
    assert count[0] == rows, (count, rows)
    return seconds


def sqlite_floor(path: Path, rows: int) -> float:
    """executemany of the file's rows (csv.reader, streamed) in one transaction."""
    for suffix in ("", "-wal", "-shm"):
        Path(str(SQLITE_FLOOR_PATH) + suffix).unlink(missing_ok=True)
    db = sqlite3.connect(SQLITE_FLOOR_PATH, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    n = len(HEADERS)
    db.execute(f"CREATE TABLE floor ({', '.join(f'c{i} TEXT' for i in range(n))})")
    t0 = time.perf_counter()
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        db.execute("BEGIN")
        db.executemany(f"INSERT INTO floor VALUES ({', '.join('?' * n)})", reader)  # noqa: S608
        db.execute("COMMIT")
    seconds = time.perf_counter() - t0
    count = db.execute("SELECT count(*) FROM floor").fetchone()[0]
    db.close()
    for suffix in ("", "-wal", "-shm"):
        Path(str(SQLITE_FLOOR_PATH) + suffix).unlink(missing_ok=True)
    assert count == rows, (count, rows)
    return seconds


def xlsx_floor(path: Path, rows: int) -> tuple[float, str]:
    """Read the whole sheet with calamine, every cell materialised."""
    t0 = time.perf_counter()
    try:
        import fastexcel  # noqa: F401
        import polars as pl

        frame = pl.read_excel(path, engine="calamine")
        count, how = frame.height, "polars.read_excel(calamine)"
        del frame
    except ImportError:
        import python_calamine

        wb = python_calamine.CalamineWorkbook.from_path(path)
        data = wb.get_sheet_by_index(0).to_python()
        count, how = len(data) - 1, "python-calamine to_python()"
        del data
        wb.close()
    seconds = time.perf_counter() - t0
    assert count == rows, (count, rows)
    return seconds, how


# --------------------------------------------------------------------------- phase timing


class Phases:
    """Seconds per phase, collected by wrapping the intake's functions (timing only)."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self._undo: list[Callable[[], None]] = []
        self.active: list[str] = []  # the wrapped calls in progress, outermost first

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] += seconds
        self.calls[name] += 1

    def wrap(self, module: Any, attr: str, name: str | Callable[..., str]) -> None:
        original = getattr(module, attr, None)
        if original is None:  # the intake changed shape: time what is still there
            print(f"note: {module.__name__}.{attr} not found, not timed", file=sys.stderr)
            return

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            label = name if isinstance(name, str) else name(*args, **kwargs)
            self.active.append(label)
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.add(label, time.perf_counter() - t0)
                self.active.pop()

        setattr(module, attr, timed)
        if module is connection:  # an instance attribute shadowing the method
            self._undo.append(lambda: delattr(module, attr))
        else:
            self._undo.append(lambda: setattr(module, attr, original))

    def wrap_reader(self) -> None:
        """Time the pulls from the table's batch stream (reading and parsing the file)."""
        original = pipeline.open_table

        def open_timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            table = original(*args, **kwargs)
            self.add("stage: open_table (an XLSX parses its sheet)", time.perf_counter() - t0)
            batches = table.batches

            def timed_batches(*a: Any, **k: Any) -> Iterator[Any]:
                stream = batches(*a, **k)
                while True:
                    t0 = time.perf_counter()
                    try:
                        frame = next(stream)
                    except StopIteration:
                        self.add("stage: read (polars/calamine)", time.perf_counter() - t0)
                        return
                    self.add("stage: read (polars/calamine)", time.perf_counter() - t0)
                    yield frame

            table.batches = timed_batches
            return table

        pipeline.open_table = open_timed
        self._undo.append(lambda: setattr(pipeline, "open_table", original))
        parallel.open_table = open_timed  # the staging shared with a helper process
        self._undo.append(lambda: setattr(parallel, "open_table", original))

    def __enter__(self) -> Phases:
        staged_table = pipeline.StagedCase._meta.db_table
        self.wrap(services, "_store", "upload: store + SHA-256")
        self.wrap(services, "open_table", "upload + confirm: open_table (headers)")
        self.wrap(services, "_estimate_rows", "run: count lines (ETA)")
        self.wrap(services, "_reset", "run: reset (clear earlier attempt)")
        self.wrap(services, "stage_cases", "run: stage")
        self.wrap_reader()
        self.wrap(pipeline, "_normalise_batch", "stage: normalise (polars)")
        self.wrap(pipeline, "write_issues", "stage: write issues (bulk_create)")
        self.wrap(pipeline, "quarantine_rows", "stage: quarantine (bulk_create)")
        self.wrap(pipeline, "_seal_rows", "stage: seal rows (Python loop)")
        self.wrap(
            pipeline,
            "insert_rows",
            lambda table, *a, **k: (
                "stage: insert staged cases"
                if table == staged_table
                else "stage: insert staged contacts"
            ),
        )
        self.wrap(pipeline, "insert_encoded", "stage: insert staged contacts")
        self.wrap(switchover, "filter_staged", "run: filter (set-based SQL)")
        self.wrap(switchover, "switch_over", "run: switch-over (INSERT … SELECT)")
        self.wrap(services, "_finish", "run: finish (batch totals, audit)")
        self.wrap(switchover, "clear_staging", "run: clear staging")
        self.wrap(services, "refresh_planner_statistics", "run: ANALYZE")
        self.wrap(
            connection,
            "commit",
            lambda *a, **k: (
                "stage: COMMIT (one per batch)"
                if "run: stage" in self.active
                else "run: COMMIT (switch-over and job updates)"
            ),
        )
        if ARGS.proposed:
            self.propose()
        return self

    def propose(self) -> None:
        """The candidate fixes (bench only, applied from outside the intake's code).

        1. Fresh planner statistics before the set-based SQL. Without them both databases
           plan the contact-point INSERT … SELECT of the switch-over as if staging and
           cases_debtor held a handful of rows (the statistics are those of the last ANALYZE,
           before this file was staged): a nested loop of every staged contact over every
           debtor of the organisation, quadratic in the batch size.
        2. See below: per-row allocations in ``_seal_rows``.

        A fix the intake already has (found in its source) is not applied twice.
        """
        if "analyze_tables(" not in inspect.getsource(switchover):
            self.propose_statistics()
        else:
            print(
                "note: the intake refreshes statistics itself; fix 1 not applied", file=sys.stderr
            )
        if "[None] * height)[i]" in inspect.getsource(pipeline._seal_rows):
            self.propose_hoisting()
        else:
            print("note: _seal_rows has no per-row lists; fix 2 not applied", file=sys.stderr)

    def propose_statistics(self) -> None:
        filter_staged = switchover.filter_staged
        exec_sql = switchover._exec

        def analyze(label: str, *tables: str) -> None:
            t0 = time.perf_counter()
            with connection.cursor() as cur:
                if connection.vendor == "sqlite":
                    cur.execute("PRAGMA analysis_limit=1000")
                for table in tables:
                    cur.execute(f"ANALYZE {table}")
                if connection.vendor == "sqlite":
                    cur.execute("PRAGMA analysis_limit=0")
            self.add(label, time.perf_counter() - t0)

        def filter_then(*args: Any, **kwargs: Any) -> Any:
            analyze("run: PROPOSED ANALYZE staging", "intake_stagedcase", "intake_stagedcontact")
            return filter_staged(*args, **kwargs)

        def exec_then(sql: str, params: list[Any]) -> int:
            count = exec_sql(sql, params)
            if sql.startswith("INSERT INTO cases_debtor"):
                analyze("switch-over: PROPOSED ANALYZE cases_debtor", "cases_debtor")
            return count

        switchover.filter_staged = filter_then
        switchover._exec = exec_then
        self._undo.append(lambda: setattr(switchover, "filter_staged", filter_staged))
        self._undo.append(lambda: setattr(switchover, "_exec", exec_sql))

    def propose_hoisting(self) -> None:
        # 2. _seal_rows builds ``[None] * height`` (a batch-sized list) per row for every field
        # the file does not map (here email and contacts 3-5): O(rows × batch). Handing it
        # all-null columns for those fields gives the same rows with the lists built once per
        # batch, which is what hoisting the look-ups out of the loop would do.
        seal_rows = pipeline._seal_rows
        optional = [
            "product",
            "employer",
            "employer_address",
            "province",
            "city",
            *(name for name, _kind, _label in pipeline.DEBTOR_CONTACTS),
            *(
                f"contact{n}_{part}"
                for n in range(1, MAX_CONTACTS + 1)
                for part in ("phone", "relation", "name")
            ),
        ]

        def seal_rows_hoisted(job: Any, values: dict[str, Any], rows: list[int], *a: Any) -> Any:
            nulls = pl.Series([None] * len(rows), dtype=pl.String)
            filled = dict.fromkeys((n for n in optional if n not in values), nulls)
            return seal_rows(job, filled | values, rows, *a)

        pipeline._seal_rows = seal_rows_hoisted
        self._undo.append(lambda: setattr(pipeline, "_seal_rows", seal_rows))

    def __exit__(self, *exc: object) -> None:
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()


class SqlTimer:
    """Time every SQL statement of the import (a connection execute wrapper)."""

    def __init__(self) -> None:
        self.by_sql: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            key = " ".join(sql.split())[:150]
            self.by_sql[key] += time.perf_counter() - t0
            self.calls[key] += 1

    def report(self, top: int = 8) -> None:
        print("\n  slowest SQL statements (total s, calls):")
        for sql, sec in self.by_sql.most_common(top):
            print(f"  {sec:9.2f} {self.calls[sql]:>6}  {sql}")


# --------------------------------------------------------------------------- one import


def reset_database() -> None:
    connection.close()
    if ARGS.db == "postgres":
        pg_ensure_database(drop=True)
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(str(SQLITE_PATH) + suffix).unlink(missing_ok=True)
    shutil.rmtree(MEDIA_ROOT, ignore_errors=True)
    call_command("migrate", verbosity=0)
    demo_seed(cases=0)
    org = Organisation.objects.get(code=DEMO_ORG_CODE)
    risk = User.objects.get(organisation=org, username="risk")
    for id_number in META["stop_ids"]:
        services.stop_list_add(id_number=id_number, reason="deceased", actor=risk)
    if ARGS.db == "postgres":
        with connection.cursor() as cur:
            cur.execute("CHECKPOINT")


# The tables a new-case import writes, in the order it writes them.
SCHEMA_FLOOR_TABLES = ("cases_debtor", "cases_case", "cases_contactpoint")


def schema_floor() -> tuple[float, dict[str, int]]:
    """The least the database itself must do for the rows this import produced: copy the
    imported debtors, cases and contact points (already parsed, validated and sealed) into
    empty copies of their tables with the same columns, indexes, unique and check constraints
    (and on SQLite the same foreign keys), in insertion order, in one transaction with its
    commit. No parsing, no sealing, no staging, no filtering: any import of this file onto
    this schema pays at least this. Returns the seconds and the rows per table."""
    q = connection.ops.quote_name
    copies = {t: f"floor_{t}" for t in SCHEMA_FLOOR_TABLES}
    counts: dict[str, int] = {}
    with connection.cursor() as cur:
        for table, copy in copies.items():
            cur.execute(f"DROP TABLE IF EXISTS {q(copy)}")
            if ARGS.db == "postgres":
                cur.execute(f"CREATE TABLE {q(copy)} (LIKE {q(table)} INCLUDING ALL)")
            else:
                cur.execute(
                    "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = %s "
                    "AND sql IS NOT NULL ORDER BY type DESC",
                    [table],
                )
                for kind, name, ddl in cur.fetchall():
                    ddl = ddl.replace(f'"{table}"', f'"{copy}"', 1)
                    if kind == "index":
                        ddl = ddl.replace(f'"{name}"', f'"floor_{name}"', 1)
                        ddl = ddl.replace(f'ON "{table}"', f'ON "{copy}"')
                    cur.execute(ddl)
            cur.execute(f"SELECT COUNT(*) FROM {q(table)}")  # noqa: S608 - our table names
            counts[table] = int(cur.fetchone()[0])
    if ARGS.db == "postgres":
        with connection.cursor() as cur:
            cur.execute("CHECKPOINT")  # the import's dirty pages are not the floor's to write
    t0 = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        for table, copy in copies.items():
            cur.execute(f"INSERT INTO {q(copy)} SELECT * FROM {q(table)} ORDER BY id")  # noqa: S608
    seconds = time.perf_counter() - t0
    with connection.cursor() as cur:
        for copy in reversed(list(copies.values())):
            cur.execute(f"DROP TABLE {q(copy)}")
    return seconds, counts


def reset_peak() -> None:
    gc.collect()
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # resets the high-water mark that getrusage reports


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def helper_peak_mb() -> float:
    """The largest child process's peak so far: the import's staging helper
    (recoup.intake.parallel), the only child this bench starts while importing."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def run_import(path: Path) -> dict[str, Any]:
    org = Organisation.objects.get(code=DEMO_ORG_CODE)
    actor = User.objects.get(organisation=org, username="bj_assistant")
    contract = Contract.objects.get(organisation=org, client__code="bank-a")
    debtors_before = Debtor.objects.for_org(org).count()
    reset_peak()
    profiler = cProfile.Profile() if ARGS.profile else None
    sql_timer = SqlTimer()
    with Phases() as phases, connection.execute_wrapper(sql_timer):
        t0 = time.perf_counter()
        with path.open("rb") as fh:
            job = services.import_upload(
                upload=services.Upload(
                    contract=contract, kind="cases", file=fh, file_name=f"bank-a{path.suffix}"
                ),
                actor=actor,
            )
        t1 = time.perf_counter()
        job = services.import_confirm(job=job, columns=job.columns, actor=actor)
        t2 = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        job = services.import_run(job_id=job.pk)
        if profiler is not None:
            profiler.disable()
        t3 = time.perf_counter()
    peak = peak_mb()
    helper_peak = helper_peak_mb()
    if profiler is not None:
        profiler.dump_stats(ARGS.profile)
    wrong = {h: f for h, f in job.columns.items() if EXPECTED_FIELDS.get(h) != f}
    assert not wrong, f"headers not recognised as expected: {wrong}"
    assert job.status == ImportJob.Status.SUCCEEDED, (job.status, job.error_message)
    cases = Case.objects.filter(batch_id=job.batch_id).count()
    issues = Counter(
        ImportIssue.objects.filter(job=job).values_list("severity", flat=True).iterator()
    )
    return {
        "job": job,
        "upload": t1 - t0,
        "confirm": t2 - t1,
        "run": t3 - t2,
        "total": t3 - t0,
        "peak_mb": peak + helper_peak,
        "main_peak_mb": peak,
        "helper_peak_mb": helper_peak,
        "phases": phases.seconds,
        "calls": phases.calls,
        "cases": cases,
        "debtors": Debtor.objects.for_org(org).count() - debtors_before,
        "holds": Hold.objects.filter(case__batch_id=job.batch_id, reason="stop_list").count(),
        "quarantined": QuarantinedRow.objects.filter(job=job).count(),
        "issues": issues,
        "sql": sql_timer,
    }


def verify(out: dict[str, Any]) -> list[str]:
    """Compare the job with what the generator planted; return the failed checks."""
    job = out["job"]
    rows = ARGS.rows
    expected_loaded = rows - META["invalid"] - META["duplicate"]
    checks = [
        ("rows read", job.rows_read, rows),
        ("invalid rows", job.rows_invalid, META["invalid"]),
        ("duplicate rows", job.rows_duplicate, META["duplicate"]),
        ("existing cases", job.rows_existing, 0),
        ("held (stop list)", job.rows_held, META["held"]),
        ("loaded (job)", job.rows_loaded, expected_loaded),
        ("cases in the batch", out["cases"], expected_loaded),
        ("new debtors", out["debtors"], META["debtors"]),
        ("stop-list holds", out["holds"], META["held"]),
        ("quarantined rows", out["quarantined"], META["invalid"]),
        ("warnings (bad 2nd contact phone)", out["issues"]["warning"], META["warning"]),
        (
            "error issues (1 per bad row + duplicates)",
            out["issues"]["error"],
            META["invalid"] + META["duplicate"],
        ),
    ]
    print(f"\n  {'check':<42}{'got':>10}{'expected':>10}")
    failed = []
    for label, got, want in checks:
        mark = "" if got == want else "  <-- MISMATCH"
        print(f"  {label:<42}{got:>10}{want:>10}{mark}")
        if got != want:
            failed.append(label)
    print(
        f"  loaded = rows − invalid − duplicates = {rows} − {META['invalid']} − "
        f"{META['duplicate']} = {expected_loaded}; job.rows_loaded = {job.rows_loaded}"
    )
    return failed


def print_phases(out: dict[str, Any], label: str) -> None:
    total = out["total"]
    rows = ARGS.rows
    print(
        f"\n{label}: {total:.2f} s end to end, {rows / total:,.0f} rows/s, "
        f"peak {out['peak_mb']:.0f} MB"
    )
    print(f"  {'phase':<44}{'seconds':>9}{'share':>8}{'calls':>7}")
    top = [("upload (import_upload)", out["upload"]), ("confirm (import_confirm)", out["confirm"])]
    top.append(("run (import_run)", out["run"]))
    for name, sec in top:
        print(f"  {name:<44}{sec:>9.2f}{sec / total:>8.1%}")
    phases: Counter[str] = out["phases"]
    for name, sec in phases.items():
        indent = "    " if name.startswith(("stage:", "switch-over:")) else "  "
        print(
            f"  {indent}{name:<{44 - len(indent) + 2}}{sec:>9.2f}{sec / total:>8.1%}"
            f"{out['calls'][name]:>7}"
        )
    stage = phases.get("run: stage", 0.0)
    inner = sum(v for k, v in phases.items() if k.startswith("stage:"))
    print(
        f"      {'stage: other (loop, to_list, counters)':<40}{stage - inner:>9.2f}"
        f"{(stage - inner) / total:>8.1%}"
    )
    run_known = sum(v for k, v in phases.items() if k.startswith("run:"))
    print(f"    {'run: other (job/batch updates)':<42}{out['run'] - run_known:>9.2f}")
    out["sql"].report()


def main() -> None:
    global META
    # Runs share the bench database, the floor table and the media: one at a time.
    lock = single_run_lock(BENCH_DIR, "import_cases")
    kind = "xlsx" if ARGS.xlsx else "csv"
    print(
        f"import_cases: rows={ARGS.rows} db={ARGS.db} file={kind} repeat={ARGS.repeat} "
        f"{'(with the PROPOSED fix) ' if ARGS.proposed else ''}"
        f"(python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, {os.cpu_count()} cpus)"
    )
    path, META, generated = bank_file(ARGS.rows, ARGS.seed, xlsx=ARGS.xlsx)
    print(
        f"file: {path.relative_to(ROOT)} ({path.stat().st_size / 1e6:.1f} MB, {len(HEADERS)} "
        f"columns, {'generated' if generated else 'cached'}); planted: "
        f"invalid={META['invalid']} duplicate={META['duplicate']} held={META['held']} "
        f"warnings={META['warning']} new debtors={META['debtors']}"
    )
    print(
        "  bad rows by kind: "
        + ", ".join(f"{k[4:]}={v}" for k, v in sorted(META.items()) if k.startswith("bad_"))
    )
    if ARGS.db == "postgres":
        with connection.cursor() as cur:
            cur.execute("SHOW server_version")
            print(f"postgresql {cur.fetchone()[0]}")
    runs: list[dict[str, Any]] = []
    floors: list[float] = []
    sqlite_floors: list[float] = []
    schema_floors: list[float] = []
    schema_rows: dict[str, int] = {}
    floor_how = "PostgreSQL COPY (csv, raw 1 MB blocks) into an unindexed 30-text-column table"
    try:
        for r in range(ARGS.repeat):
            if ARGS.xlsx:
                seconds, floor_how = xlsx_floor(path, ARGS.rows)
                floors.append(seconds)
            else:
                floors.append(pg_copy_floor(path, ARGS.rows))
                if ARGS.db == "sqlite":
                    sqlite_floors.append(sqlite_floor(path, ARGS.rows))
            print(
                f"run {r + 1}: floor {floors[-1]:.2f} s"
                + (f", sqlite floor {sqlite_floors[-1]:.2f} s" if sqlite_floors else ""),
                file=sys.stderr,
            )
            t0 = time.perf_counter()
            reset_database()
            print(
                f"run {r + 1}: fresh database, migrated and seeded in "
                f"{time.perf_counter() - t0:.1f} s; importing …",
                file=sys.stderr,
            )
            out = run_import(path)
            runs.append(out)
            print(f"run {r + 1}: import {out['total']:.2f} s", file=sys.stderr)
            if ARGS.schema_floor:
                seconds, counts = schema_floor()
                schema_floors.append(seconds)
                schema_rows.update(counts)
                print(f"run {r + 1}: schema floor {seconds:.2f} s", file=sys.stderr)
    finally:
        shutil.rmtree(MEDIA_ROOT, ignore_errors=True)
        if generated and not ARGS.keep_file:
            path.unlink(missing_ok=True)
            path.with_suffix(path.suffix + ".json").unlink(missing_ok=True)

    for r, out in enumerate(runs, start=1):
        print_phases(out, f"run {r}")
    failed = verify(runs[-1])
    med = statistics.median(o["total"] for o in runs)
    floor = statistics.median(floors)
    peak = max(o["peak_mb"] for o in runs)
    main_peak = max(o["main_peak_mb"] for o in runs)
    helper_peak = max(o["helper_peak_mb"] for o in runs)
    job = runs[-1]["job"]
    print(f"\nfloor: {floor_how}")
    print(f"  runs: {', '.join(f'{s:.2f}' for s in floors)} s; median {floor:.2f} s")
    extra = ""
    if sqlite_floors:
        sq = statistics.median(sqlite_floors)
        print("SQLite floor: executemany of the csv.reader rows, one transaction, WAL, NORMAL")
        print(f"  runs: {', '.join(f'{s:.2f}' for s in sqlite_floors)} s; median {sq:.2f} s")
        extra = f" sqlite_floor_seconds={sq:.2f} sqlite_floor_ratio={med / sq:.2f}"
    if schema_floors:
        sf = statistics.median(schema_floors)
        print(
            "schema floor: the imported rows copied into empty copies of their tables (same "
            "indexes and constraints), one transaction: "
            + ", ".join(f"{t} {n:,}" for t, n in schema_rows.items())
        )
        print(f"  runs: {', '.join(f'{s:.2f}' for s in schema_floors)} s; median {sf:.2f} s")
        extra += f" schema_floor_seconds={sf:.2f} schema_floor_ratio={med / sf:.2f}"
    print(
        f"import: {', '.join(f'{o["total"]:.2f}' for o in runs)} s; median {med:.2f} s "
        f"({ARGS.repeat} run{'s' if ARGS.repeat > 1 else ''}"
        f"{'; a single run, not a median of 3' if ARGS.repeat < 3 else ''})"
    )
    print(
        f"peak memory of the import: {peak:.0f} MB = this process {main_peak:.0f} MB "
        f"(getrusage ru_maxrss after reset; process peak now {peak_mb():.0f} MB) + its "
        f"staging helper {helper_peak:.0f} MB (RUSAGE_CHILDREN; 0 when it staged alone)"
    )
    if ARGS.profile:
        print(f"\ncProfile of import_run written to {ARGS.profile}; top 30 by own time:")
        pstats.Stats(ARGS.profile).sort_stats("tottime").print_stats(30)
    if failed:
        print(f"CHECKS FAILED: {', '.join(failed)}")
        sys.exit(1)
    lock.close()
    print(
        f"RESULT import_cases rows={ARGS.rows} db={ARGS.db} seconds={med:.2f} "
        f"floor_seconds={floor:.2f} floor_ratio={med / floor:.2f} peak_mb={peak:.0f} "
        f"main_peak_mb={main_peak:.0f} helper_peak_mb={helper_peak:.0f} "
        f"loaded={job.rows_loaded} invalid={job.rows_invalid} "
        f"duplicate={job.rows_duplicate} file={kind} runs={ARGS.repeat}"
        f"{' variant=proposed' if ARGS.proposed else ''}{extra}"
    )


META: dict[str, Any] = {}

if __name__ == "__main__":
    main()

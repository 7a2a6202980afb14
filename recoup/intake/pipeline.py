"""The new-case import: stream → normalise → seal → stage → filter → one switch-over.

Phases (docs/adr/0008-intake-staging-and-switch-over.md):
1. **Stage** (no long transaction): the file is streamed in batches of polars DataFrames;
   each column is normalised vectorised; rows with an error are reported and quarantined;
   good rows are sealed (one AES-GCM record per debtor, account and contact) and written to
   ``StagedCase``/``StagedContact`` with COPY (PostgreSQL) or executemany (SQLite).
   Progress counters are saved after every batch for the progress bar.
2. **Filter** (set-based SQL over the staging rows): duplicates within the file, case numbers
   already present under the contract, and debtors on the stop list (held, never dropped).
3. **Switch-over** (ONE transaction): new debtors, cases, contact points and stop-list holds
   are inserted with INSERT … SELECT from staging; the batch and job are marked done and
   audited; the staging rows are deleted. A crash before or during it leaves nothing behind
   but staging rows, which a retry clears first.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
from django.db import transaction

from recoup.cases.models import Case
from recoup.core.bulk import insert_encoded, insert_rows
from recoup.core.clock import today as local_today
from recoup.core.crypto import NONCE_BYTES, Sealer
from recoup.core.db import gc_paused
from recoup.core.uids import OrderedUids
from recoup.intake import normalise as nz
from recoup.intake.fields import CUSTOM, IGNORE, MAX_CONTACTS, fields_for
from recoup.intake.models import ImportIssue, ImportJob, QuarantinedRow, StagedCase, StagedContact
from recoup.intake.readers import ReadLimits, open_table

BATCH_ROWS = 50_000

# Values shown in the error report are masked for these fields (the report goes to staff and
# to the bank; it must not become a second copy of the personal data).
PERSONAL_FIELDS = {
    "name",
    "id_number",
    "account_number",
    "mobile",
    "home_phone",
    "home_address",
    "employer",
    "employer_address",
    "employer_phone",
    "email",
    *(f"contact{i}_{part}" for i in range(1, MAX_CONTACTS + 1) for part in ("name", "phone")),
}
# A bad value in these loads the case without it and reports a warning: a bank's third-party
# phone list is messy, and refusing the whole case over it would lose the case.
SOFT_FIELDS = {
    "home_phone",
    "employer_phone",
    "email",
    *(
        f"contact{i}_{part}"
        for i in range(1, MAX_CONTACTS + 1)
        for part in ("phone", "name", "relation")
    ),
}
DEBTOR_CONTACTS = [
    # field, kind, label
    ("mobile", "phone", "手机"),
    ("home_phone", "phone", "住宅电话"),
    ("employer_phone", "phone", "单位电话"),
    ("home_address", "address", "家庭地址"),
    ("employer_address", "address", "单位地址"),
    ("email", "email", "邮箱"),
]
RELATION_ROLES = [
    (("配偶", "夫", "妻", "老公", "老婆", "爱人"), "spouse"),
    (("担保",), "guarantor"),
    (("同事", "领导", "单位", "上司"), "colleague"),
    (
        (
            "父",
            "母",
            "爸",
            "妈",
            "子",
            "女",
            "儿",
            "兄",
            "弟",
            "姐",
            "妹",
            "亲",
            "叔",
            "姨",
            "舅",
            "姑",
        ),
        "relative",
    ),
]


@functools.lru_cache(maxsize=4096)
def relation_role(text: str | None) -> str:
    if not text:
        return "other"
    for words, role in RELATION_ROLES:
        if any(w in text for w in words):
            return role
    return "other"


@dataclass
class Counters:
    read: int = 0
    valid: int = 0
    invalid: int = 0
    warnings: int = 0


@dataclass
class StageOutcome:
    counters: Counters = field(default_factory=Counters)


def _mask(value: str | None) -> str:
    if not value:
        return ""
    if len(value) <= 2:
        return "*" * len(value)
    return value[:2] + "*" * min(len(value) - 2, 8)


def shown_value(field_name: str, value: str | None) -> str:
    if field_name in PERSONAL_FIELDS:
        return _mask(value)
    return (value or "")[:60]


Normaliser = Callable[[pl.Series], tuple[pl.Series, pl.Series]]


def _normalisers(today: date) -> dict[str, Normaliser]:
    text: Normaliser = lambda s: nz.clean_text_series(s, max_len=200)  # noqa: E731
    short: Normaliser = lambda s: nz.clean_text_series(s, max_len=80)  # noqa: E731
    return {
        "client_case_number": short,
        "name": short,
        "id_number": nz.parse_id_number_series,
        "product": short,
        "account_number": short,
        "principal": nz.parse_amount_series,
        "interest": nz.parse_amount_series,
        "fees": nz.parse_amount_series,
        "total_owed": nz.parse_amount_series,
        "overdue_days": nz.parse_overdue_days_series,
        "overdue_since": lambda s: nz.parse_date_series(s, today=today),
        "stage": nz.parse_stage_series,
        "mobile": nz.parse_phone_series,
        "home_phone": nz.parse_phone_series,
        "employer_phone": nz.parse_phone_series,
        "home_address": text,
        "employer": text,
        "employer_address": text,
        "email": short,
        "province": short,
        "city": short,
        **{f"contact{i}_name": short for i in range(1, MAX_CONTACTS + 1)},
        **{f"contact{i}_relation": short for i in range(1, MAX_CONTACTS + 1)},
        **{f"contact{i}_phone": nz.parse_phone_series for i in range(1, MAX_CONTACTS + 1)},
    }


def to_decimals(series: pl.Series) -> list[Decimal | None]:
    """Amount values as Decimal (the normaliser yields integer cents or Decimals)."""
    if series.dtype == pl.Int64:
        return [None if v is None else Decimal(v).scaleb(-2) for v in series.to_list()]
    return [None if v is None else Decimal(v).quantize(Decimal("0.01")) for v in series.to_list()]


@dataclass
class BatchResult:
    issues: list[tuple[int | None, str, str, str, dict[str, str], str]]
    bad_rows: set[int]


def settle_empty(raw: pl.Series, codes: pl.Series, *, required: bool) -> pl.Series:
    """A blank required cell is an "empty" error; a blank optional cell (or a placeholder
    such as "-" or "无") is simply absent."""
    if required:
        empty = raw.is_null() | (raw.cast(pl.String).str.strip_chars() == "")
        return pl.select(
            pl.when(empty).then(pl.lit("empty")).otherwise(codes).alias("c")
        ).to_series()
    return pl.select(pl.when(codes == "empty").then(None).otherwise(codes).alias("c")).to_series()


def _normalise_batch(
    df: pl.DataFrame, f2h: dict[str, str], today: date
) -> tuple[dict[str, pl.Series], BatchResult]:
    required = {f.name for f in fields_for("cases") if f.required}
    funcs = _normalisers(today)
    values: dict[str, pl.Series] = {}
    issues: list[tuple[int | None, str, str, str, dict[str, str], str]] = []
    bad: set[int] = set()
    rows = df.get_column("__row")
    for field_name, header in f2h.items():
        raw = df.get_column(header)
        vals, codes = funcs[field_name](raw)
        codes = settle_empty(raw, codes, required=field_name in required)
        values[field_name] = vals
        problems = pl.DataFrame({"row": rows, "raw": raw, "code": codes}).filter(
            pl.col("code").is_not_null()
        )
        severity = "warning" if field_name in SOFT_FIELDS else "error"
        for row, raw_value, code in problems.iter_rows():
            params = issue_params(code, field_name)
            issues.append((row, header, shown_value(field_name, raw_value), code, params, severity))
            if severity == "error":
                bad.add(row)
            else:
                # Drop the bad optional value; the case still loads.
                pass
        if field_name in SOFT_FIELDS and problems.height:
            mask = codes.is_not_null()
            values[field_name] = pl.select(
                pl.when(mask).then(None).otherwise(vals).alias("v")
            ).to_series()
    return values, BatchResult(issues=issues, bad_rows=bad)


TEXT_LIMITS = {"home_address": 200, "employer": 200, "employer_address": 200}


def issue_params(code: str, field_name: str) -> dict[str, str]:
    """The parameters of a message the vectorised normalisers report only as a code."""
    if code == "text_too_long":
        return {"max_len": str(TEXT_LIMITS.get(field_name, 80))}
    if code == "amount_too_large":
        return {"limit": f"{nz.AMOUNT_LIMIT:,.2f}"}
    return {}


def _column(values: dict[str, pl.Series], name: str, height: int) -> list[Any]:
    series = values.get(name)
    return series.to_list() if series is not None else [None] * height


def stage_cases(
    job: ImportJob, *, path: Path, limits: ReadLimits, progress: Callable[[Counters], None]
) -> Counters:
    """Phase 1: read, normalise, seal and stage every row; report and quarantine bad ones.

    A large file is staged by two processes, each taking the batches it reaches first
    (``recoup.intake.parallel``); a small one, or one imported inside a transaction, by this
    process alone.
    """
    from recoup.intake import parallel  # here: parallel imports this module

    if parallel.processes_for(_estimated_rows(job, path)) > 1:
        return parallel.stage_in_two(job, path=path, limits=limits, progress=progress)
    with open_table(
        path, encoding=job.encoding or None, sheet=job.sheet or None, limits=limits
    ) as table:
        return stage_table(job, table, progress)


# Bytes an XLSX spends on a row of a bank's sheet (≈ 250 in the bench's 30-column sheet): a
# sheet's size stands in for its row count, which is only known once it is parsed.
XLSX_BYTES_PER_ROW = 250


def _estimated_rows(job: ImportJob, path: Path) -> int:
    if job.rows_total is not None:
        return job.rows_total
    try:
        return path.stat().st_size // XLSX_BYTES_PER_ROW
    except OSError:
        return 0


def stage_table(
    job: ImportJob,
    table: Any,
    progress: Callable[[Counters], None],
    *,
    claim: Callable[[int], bool] | None = None,
    batch_rows: int = BATCH_ROWS,
    before_write: Callable[[], None] | None = None,
) -> Counters:
    """Stage the batches of ``table`` (those ``claim`` grants, when staging is shared)."""
    f2h = {f: h for h, f in job.columns.items() if f not in (CUSTOM, IGNORE)}
    custom_headers = [h for h, f in job.columns.items() if f == CUSTOM and h in table.headers]
    today = local_today()
    sealer = Sealer()
    counters = Counters()
    for index, df in enumerate(table.batches(batch_rows)):
        if claim is not None and not claim(index):
            continue
        height = df.height
        values, result = _normalise_batch(df, f2h, today)
        counters.read += height
        rows = df.get_column("__row").to_list()
        good_idx = [i for i, r in enumerate(rows) if r not in result.bad_rows]
        counters.invalid += height - len(good_idx)
        counters.valid += len(good_idx)
        counters.warnings += sum(1 for i in result.issues if i[5] == "warning")
        # Seal first (CPU), then write the batch in one short transaction: one commit per
        # batch instead of per statement (SQLite: 3× faster, PERF.md), and the write lock is
        # never held while encrypting.
        with gc_paused():
            staged, contacts, contact_kinds = _seal_rows(
                job, values, rows, good_idx, df, custom_headers, sealer, today
            )
        if before_write is not None:
            before_write()
        with transaction.atomic():
            write_issues(job, result.issues)
            quarantine_rows(job, df, [r for r in rows if r in result.bad_rows], f2h, sealer)
            insert_rows(StagedCase._meta.db_table, STAGED_CASE_COLUMNS, staged)
            insert_encoded(
                StagedContact._meta.db_table,
                STAGED_CONTACT_VARYING,
                STAGED_CONTACT_REPEATED,
                contacts,
                contact_kinds,
            )
            # In the batch's transaction: it holds SQLite's write lock already, so the
            # progress bar's update never waits for another writer.
            progress(counters)
    return counters


STAGED_CASE_COLUMNS = [
    "job_id",
    "row_number",
    "state",
    "hold_reason",
    "client_case_number",
    "product",
    "debtor_uid",
    "debtor_pii",
    "id_number_bidx",
    "name_bidx",
    "birth_year",
    "gender",
    "province",
    "city",
    "account_sealed",
    "account_bidx",
    "key_id",
    "principal",
    "interest",
    "fees",
    "total_owed",
    "overdue_days",
    "stage",
    "region",
    "custom_sealed",
]
# A staged contact as ``_seal_rows`` gives it: its own values, then the index of its job,
# kind, role, label and key in the batch's list of those (a file has a handful: SQLite is
# sent each once, core.bulk.insert_encoded).
STAGED_CONTACT_VARYING = ["row_number", "uid", "sealed", "value_bidx"]
STAGED_CONTACT_REPEATED = ["job_id", "kind", "role", "label", "key_id"]


def _product(text: str | None) -> str:
    if text and ("贷" in text or "loan" in text.lower()):
        return Case.Product.LOAN
    return Case.Product.CARD


class _Nonces:
    """AES-GCM nonces cut from large blocks of ``os.urandom`` (one system call per 4,096)."""

    BLOCK = 4096

    def __init__(self) -> None:
        self._buf = b""
        self._at = 0

    def next(self) -> bytes:
        at = self._at
        if at >= len(self._buf):
            self._buf, at = os.urandom(NONCE_BYTES * self.BLOCK), 0
        self._at = at + NONCE_BYTES
        return self._buf[at : at + NONCE_BYTES]


def _seal_rows(
    job: ImportJob,
    values: dict[str, pl.Series],
    rows: list[int],
    good_idx: list[int],
    df: pl.DataFrame,
    custom_headers: list[str],
    sealer: Sealer,
    today: date,
) -> tuple[Iterator[tuple[Any, ...]], Iterator[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Seal a batch's good rows into staging tuples (the hot loop of an import): the staged
    cases, the staged contacts (``STAGED_CONTACT_VARYING`` and an index) and the contacts'
    repeated values (``STAGED_CONTACT_REPEATED``) by index.

    Written for speed (≈ 1M rows × 7 contacts): time-ordered UUIDs (the debtors' append to
    their unique uid index instead of landing at random; a contact point's uid is indexed
    after its debtor), nonces cut from large random blocks; JSON records
    assembled from C-encoded strings in the same form as ``seal_json`` (the model reads them
    back with ``unseal_json``); every column a local.
    """
    height = len(rows)
    col = {name: _column(values, name, height) for name in values}
    zero = Decimal("0.00")
    none: list[Any] = [None] * height  # one shared "absent column", not one per row

    def get(name: str) -> list[Any]:
        return col.get(name) or none

    def money(name: str, default: Decimal | None) -> list[Any]:
        return to_decimals(values[name]) if name in values else [default] * height

    principal, interest = money("principal", zero), money("interest", None)
    fees, total = money("fees", None), money("total_owed", None)
    days, since, stage = get("overdue_days"), get("overdue_since"), get("stage")
    numbers, names, ids = get("client_case_number"), get("name"), get("id_number")
    accounts, products = get("account_number"), get("product")
    employers, employer_addresses = get("employer"), get("employer_address")
    provinces, cities = get("province"), get("city")
    own = [(get(f), kind, label) for f, kind, label in DEBTOR_CONTACTS if f in col]
    others = [
        (get(f"contact{n}_phone"), get(f"contact{n}_relation"), get(f"contact{n}_name"))
        for n in range(1, MAX_CONTACTS + 1)
        if f"contact{n}_phone" in col
    ]
    customs = [(h, df.get_column(h).to_list()) for h in custom_headers]
    staged: list[tuple[Any, ...]] = []
    contacts: list[tuple[Any, ...]] = []
    slots: dict[tuple[str, str, str], int] = {}  # (kind, role, label) → its index
    kid = sealer.key_id
    prefix, encrypt, blind = sealer.prefix, sealer.encrypt, sealer.blind
    enc = json.encoder.encode_basestring
    next_uid, next_nonce, job_id = OrderedUids().next, _Nonces().next, job.pk
    account_aad = b"case-account:" + str(job.organisation_id).encode() + b":"
    custom_aad = b"case-custom:%d:" % job.contract_id  # + the case number: Case.custom_aad
    valid, empty = "valid", ""
    # The custom fields' JSON object assembled from encoded strings, as ``seal_json`` would
    # write it (4 µs a row less than the encoder); a column of other values (never from the
    # readers, which give text) goes through the encoder.
    text_customs = bool(customs) and all(
        df.get_column(h).dtype == pl.String for h in custom_headers
    )
    custom_keys = [(enc(h) + ":", v) for h, v in customs]

    def contact(row: int, kind: str, role: str, label: str, value: str, name: str) -> None:
        hex_uid, uid = next_uid()
        nonce = next_nonce()
        plain = ('{"value":' + enc(value) + ',"name":' + enc(name) + "}").encode()
        sealed = prefix + nonce + encrypt(nonce, plain, b"contact:" + uid.encode())
        if kind == "phone":
            bidx = blind("phone", value)
        elif kind == "email":
            bidx = blind("email", value.strip().lower())
        else:
            bidx = empty
        slot = slots.get((kind, role, label))
        if slot is None:
            slot = slots[(kind, role, label)] = len(slots)
        contacts.append((row, hex_uid, sealed, bidx, slot))

    for i in good_idx:
        row = rows[i]
        id_number, name = ids[i], names[i]
        debtor_hex, debtor_uid = next_uid()
        nonce = next_nonce()
        plain = (
            '{"name":'
            + enc(name)
            + ',"id_number":'
            + enc(id_number)
            + ',"employer":'
            + enc(employers[i] or empty)
            + ',"employer_address":'
            + enc(employer_addresses[i] or empty)
            + "}"
        ).encode()
        debtor_aad = b"debtor:" + debtor_uid.encode()
        debtor_pii = prefix + nonce + encrypt(nonce, plain, debtor_aad)
        account = accounts[i]
        account_bidx = blind("account", account.replace(" ", empty))
        account_sealed = sealer.seal(account.encode(), account_aad + account_bidx.encode())
        p = principal[i] or zero
        it = interest[i] or zero
        fe = fees[i] or zero
        tot = total[i] if total[i] is not None else p + it + fe
        overdue = days[i]
        if overdue is None and since[i] is not None:
            overdue = max(0, (today - since[i]).days)
        overdue = int(overdue or 0)
        province = provinces[i] or empty
        city = cities[i] or empty
        custom_sealed = None
        if text_customs:
            items = [key + enc(v[i]) for key, v in custom_keys if v[i]]
            if items:
                nonce = next_nonce()
                custom_sealed = (
                    prefix
                    + nonce
                    + encrypt(
                        nonce,
                        ("{" + ",".join(items) + "}").encode(),
                        custom_aad + numbers[i].encode(),
                    )
                )
        elif customs:
            data = {h: v[i] for h, v in customs if v[i] not in (None, empty)}
            if data:
                custom_sealed = sealer.seal_json(data, custom_aad + numbers[i].encode())
        staged.append(
            (
                job_id,
                row,
                valid,
                empty,
                numbers[i],
                _product(products[i]),
                debtor_hex,
                debtor_pii,
                blind("id_number", id_number),
                blind("name", name),
                int(id_number[6:10]),
                "M" if int(id_number[16]) % 2 else "F",
                province[:20],
                city[:40],
                account_sealed,
                account_bidx,
                kid,
                p,
                it,
                fe,
                tot,
                overdue,
                stage[i] or Case.stage_for(overdue),
                (province + city)[:60],
                custom_sealed,
            )
        )
        # One contact point per role and number within the row (a bank often repeats the
        # mobile as the home phone); repeats across rows of one person go at the switch-over.
        seen: set[tuple[str, str]] = set()
        for values_of, kind, label in own:
            value = values_of[i]
            if value:
                if kind != "address":
                    if ("debtor", value) in seen:
                        continue
                    seen.add(("debtor", value))
                contact(row, kind, "debtor", label, value, empty)
        for phones, relations, people in others:
            phone = phones[i]
            if not phone:
                continue
            relation = relations[i]
            role = relation_role(relation)
            if (role, phone) in seen:
                continue
            seen.add((role, phone))
            contact(row, "phone", role, (relation or "联系人")[:40], phone, people[i] or empty)
    kinds = [(job_id, kind, role, label, kid) for kind, role, label in slots]
    return iter(staged), iter(contacts), kinds


def write_issues(
    job: ImportJob, issues: list[tuple[int | None, str, str, str, dict[str, str], str]]
) -> None:
    if not issues:
        return
    ImportIssue.objects.bulk_create(
        [
            ImportIssue(
                job=job,
                row_number=row,
                column=column[:100],
                value_masked=value[:100],
                code=code,
                params=params,
                severity=severity,
            )
            for row, column, value, code, params, severity in issues
        ],
        batch_size=2000,
    )


def quarantine_rows(
    job: ImportJob, df: pl.DataFrame, bad_rows: list[int], f2h: dict[str, str], sealer: Sealer
) -> None:
    if not bad_rows:
        return
    wanted = set(bad_rows)
    number_header = f2h.get("client_case_number")
    objs = []
    for record in df.filter(pl.col("__row").is_in(list(wanted))).iter_rows(named=True):
        row = record.pop("__row")
        aad = b"quarantine:%d:%d" % (job.pk, row)  # QuarantinedRow.aad
        objs.append(
            QuarantinedRow(
                job=job,
                row_number=row,
                client_case_number=(record.get(number_header) or "")[:80] if number_header else "",
                sealed=sealer.seal_json({k: v for k, v in record.items() if v is not None}, aad),
            )
        )
    QuarantinedRow.objects.bulk_create(objs, batch_size=1000)

"""Incremental files: balance updates, recalls (撤案), closures (结案) and repayments (还款).

The same three phases as a new-case import (ADR 0008): rows are normalised and written to
``IncrementalRow``; set-based SQL matches them to cases (client case number, then card/loan
number, then the debtor's ID number) and marks duplicates and rows for closed cases; one
transaction applies them. The rows stay as the record of what the client sent.

A repayment file whose rows an app above posts (``hooks``: the money app makes each row a
payment, matched or not, in the same transaction) is staged instead in a temporary table of
the database session (``staged_table``): the payments are the record of what the client
sent, and the rows are not written twice (for 500k rows that saved the table's indexes,
its WAL and a second pass marking every row applied).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl
from django.db import connection
from django.utils import timezone

from recoup.core.bulk import cents_as_text, insert_frame, read_frame
from recoup.core.crypto import Sealer
from recoup.core.db import analyze_tables, execute
from recoup.intake import hooks
from recoup.intake import normalise as nz
from recoup.intake.fields import CUSTOM, IGNORE, fields_for
from recoup.intake.models import ImportJob
from recoup.intake.pipeline import (
    Counters,
    issue_params,
    quarantine_rows,
    settle_empty,
    shown_value,
    write_issues,
)
from recoup.intake.readers import ReadLimits, open_table

R = "intake_incrementalrow"
STAGE = "intake_repayment_stage"  # temporary, one per database session (and so per worker)
TERMINAL = "('paid_off', 'settled', 'returned', 'closed')"
COLUMNS = [
    "organisation_id",
    "contract_id",
    "job_id",
    "kind",
    "row_number",
    "state",
    "case_id",
    "client_case_number",
    "account_bidx",
    "id_number_bidx",
    "match_method",
    "principal",
    "interest",
    "fees",
    "total_owed",
    "amount",
    "paid_at",
    "effective_on",
    "reason",
    "transaction_id",
    "channel",
    "posted",
]
AMOUNTS = ("principal", "interest", "fees", "total_owed", "amount")
DATES = ("as_of", "effective_on", "paid_at")


_STAGE_COLUMNS = (
    "organisation_id bigint, contract_id bigint, job_id bigint, kind varchar(12), "
    "row_number integer, state varchar(10), case_id bigint, client_case_number varchar(80), "
    "account_bidx varchar(32), id_number_bidx varchar(32), match_method varchar(16), "
    "principal numeric(16, 2), interest numeric(16, 2), fees numeric(16, 2), "
    "total_owed numeric(16, 2), amount numeric(16, 2), paid_at date, effective_on date, "
    "reason varchar(200), transaction_id varchar(80), channel varchar(40), posted boolean"
)


def staged_table(job: ImportJob) -> str:
    """The table holding the job's rows while it runs: ``intake_incrementalrow``, or for a
    repayment file that is posted as payments, the session's temporary staging table."""
    return STAGE if job.kind == "repayments" and hooks.posting_registered() else R


def stage_open(job: ImportJob) -> None:
    """An empty staging table for the job (temporary: this session only, never logged)."""
    if staged_table(job) != STAGE:
        return
    stage_drop()
    execute(f"CREATE TEMPORARY TABLE {STAGE} ({_STAGE_COLUMNS})", [])
    execute(f"CREATE INDEX {STAGE}_row ON {STAGE} (row_number)", [])


def stage_drop() -> None:
    execute(f"DROP TABLE IF EXISTS {STAGE}", [])


def stage_clear(job: ImportJob) -> None:
    """After a run, success or not: the job's staged rows go (a failed job keeps none)."""
    if staged_table(job) == STAGE:
        stage_drop()


def count_state(job: ImportJob, state: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM {staged_table(job)} WHERE job_id = %s AND state = %s",
            [job.pk, state],
        )
        return int(cursor.fetchone()[0])


def _normaliser(name: str, today: Any) -> Callable[[pl.Series], tuple[pl.Series, pl.Series]]:
    if name in AMOUNTS:
        return nz.parse_amount_series
    if name in DATES:
        return lambda s: nz.parse_date_series(s, today=today)
    if name == "id_number":
        return nz.parse_id_number_series
    return lambda s: nz.clean_text_series(s, max_len=200 if name == "reason" else 80)


def stage_incremental(
    job: ImportJob, *, path: Any, limits: ReadLimits, progress: Callable[[Counters], None]
) -> Counters:
    """Phase 1 for incremental files: normalise, report bad rows, write ``IncrementalRow``s."""
    from recoup.core.clock import today as local_today

    f2h = {f: h for h, f in job.columns.items() if f not in (CUSTOM, IGNORE)}
    required = {f.name for f in fields_for(job.kind) if f.required}
    today = local_today()
    sealer = Sealer()
    counters = Counters()
    table_name = staged_table(job)
    stage_open(job)
    # The contract's case numbers, read once: most rows name their case by number, and a
    # join here saves rewriting every staged row to match it in SQL afterwards.
    numbers = (
        read_frame(
            "SELECT client_case_number, id FROM cases_case WHERE contract_id = %s",
            [job.contract_id],
            {"client_case_number": pl.Utf8(), "case_id": pl.Int64()},
        )
        if "client_case_number" in f2h
        else None
    )
    with open_table(
        path, encoding=job.encoding or None, sheet=job.sheet or None, limits=limits
    ) as table:
        for df in table.batches(50_000):
            rows = df.get_column("__row").to_list()
            values: dict[str, pl.Series] = {}
            issues: list[tuple[int | None, str, str, str, dict[str, str], str]] = []
            bad: set[int] = set()
            for name, header in f2h.items():
                raw = df.get_column(header)
                vals, codes = _normaliser(name, today)(raw)
                codes = settle_empty(raw, codes, required=name in required)
                problems = pl.DataFrame({"row": rows, "raw": raw, "code": codes}).filter(
                    pl.col("code").is_not_null()
                )
                for row, raw_value, code in problems.iter_rows():
                    issues.append(
                        (
                            row,
                            header,
                            shown_value(name, raw_value),
                            code,
                            issue_params(code, name),
                            "error",
                        )
                    )
                    bad.add(row)
                values[name] = vals
            counters.read += len(rows)
            counters.invalid += len(bad)
            counters.valid += len(rows) - len(bad)
            write_issues(job, issues)
            quarantine_rows(job, df, sorted(bad), f2h, sealer)
            frame = _frame(job, rows, values, sealer)
            if bad:
                frame = frame.filter(~pl.col("row_number").is_in(list(bad)))
            if numbers is not None:
                frame = (
                    frame.drop("case_id")
                    .join(numbers, on="client_case_number", how="left", maintain_order="left")
                    .with_columns(
                        match_method=pl.when(pl.col("case_id").is_not_null())
                        .then(pl.lit("case_number"))
                        .otherwise(pl.lit(""))
                    )
                )
            insert_frame(table_name, frame.select(COLUMNS))
            progress(counters)
    return counters


def _frame(
    job: ImportJob, rows: list[int], values: dict[str, pl.Series], sealer: Sealer
) -> pl.DataFrame:
    """The batch's rows as ``COLUMNS`` (case matching aside): no Python object per value,
    except the blind indexes of card/loan and ID numbers when the file has them."""
    n = len(rows)

    def text(name: str, max_len: int) -> pl.Series:
        if name not in values:
            return pl.repeat("", n, dtype=pl.String, eager=True)
        return values[name].cast(pl.String).fill_null("").str.slice(0, max_len)

    def amount(name: str) -> pl.Series:
        if name not in values:
            return pl.Series([None] * n, dtype=pl.String)
        return cents_as_text(values[name])

    def day(name: str) -> pl.Series:
        return values[name] if name in values else pl.Series([None] * n, dtype=pl.Date)

    def blind(name: str, kind: str, prepare: Callable[[str], str]) -> pl.Series:
        if name not in values:
            return pl.repeat("", n, dtype=pl.String, eager=True)
        return pl.Series(
            [sealer.blind(kind, prepare(v)) if v else "" for v in values[name].to_list()],
            dtype=pl.String,
        )

    return pl.DataFrame(
        {
            "organisation_id": pl.repeat(job.organisation_id, n, dtype=pl.Int64, eager=True),
            "contract_id": pl.repeat(job.contract_id, n, dtype=pl.Int64, eager=True),
            "job_id": pl.repeat(job.pk, n, dtype=pl.Int64, eager=True),
            "kind": pl.repeat(job.kind, n, dtype=pl.String, eager=True),
            "row_number": pl.Series(rows, dtype=pl.Int64),
            "state": pl.repeat("valid", n, dtype=pl.String, eager=True),
            "case_id": pl.Series([None] * n, dtype=pl.Int64),
            "client_case_number": text("client_case_number", 80),
            "account_bidx": blind("account_number", "account", lambda v: v.replace(" ", "")),
            "id_number_bidx": blind("id_number", "id_number", lambda v: v),
            "match_method": pl.repeat("", n, dtype=pl.String, eager=True),
            "principal": amount("principal"),
            "interest": amount("interest"),
            "fees": amount("fees"),
            "total_owed": amount("total_owed"),
            "amount": amount("amount"),
            "paid_at": day("paid_at"),
            "effective_on": day("effective_on") if "effective_on" in values else day("as_of"),
            "reason": text("reason", 200),
            "transaction_id": text("transaction_id", 80),
            "channel": text("channel", 40),
            "posted": pl.repeat(False, n, dtype=pl.Boolean, eager=True),
        }
    )


def _report(job: ImportJob, state: str, severity: str, code: str) -> None:
    execute(
        "INSERT INTO intake_importissue "
        '(job_id, severity, row_number, "column", value_masked, code, params) '
        f"SELECT %s, %s, row_number, '', client_case_number, %s, '{{}}' FROM {staged_table(job)} "
        "WHERE job_id = %s AND state = %s",
        [job.pk, severity, code, job.pk, state],
    )


def filter_incremental(job: ImportJob) -> dict[str, int]:
    """Match rows to cases; mark unmatched rows, repeated transactions and closed cases."""
    contract, org = job.contract_id, job.organisation_id
    T = staged_table(job)
    analyze_tables(T)
    by_number = (
        f"SELECT c.id FROM cases_case c WHERE c.contract_id = %s "
        f"AND c.client_case_number = {T}.client_case_number"
    )
    execute(
        f"UPDATE {T} SET case_id = ({by_number}), match_method = 'case_number' "
        f"WHERE job_id = %s AND case_id IS NULL AND client_case_number <> '' "
        f"AND EXISTS ({by_number})",
        [contract, job.pk, contract],
    )
    by_account = (
        f"SELECT c.id FROM cases_case c WHERE c.contract_id = %s "
        f"AND c.account_bidx = {T}.account_bidx"
    )
    execute(
        f"UPDATE {T} SET case_id = ({by_account} ORDER BY c.id DESC LIMIT 1), "
        "match_method = 'account_number' "
        f"WHERE job_id = %s AND case_id IS NULL AND account_bidx <> '' AND EXISTS ({by_account})",
        [contract, job.pk, contract],
    )
    by_person = (
        "SELECT c.id FROM cases_case c JOIN cases_debtor d ON d.id = c.debtor_id "
        f"WHERE c.contract_id = %s AND d.organisation_id = %s "
        f"AND d.id_number_bidx = {T}.id_number_bidx AND c.status NOT IN {TERMINAL}"
    )
    execute(
        f"UPDATE {T} SET case_id = ({by_person} ORDER BY c.id DESC LIMIT 1), "
        "match_method = 'id_number' "
        f"WHERE job_id = %s AND case_id IS NULL AND id_number_bidx <> '' AND EXISTS ({by_person})",
        [contract, org, job.pk, contract, org],
    )
    execute(f"UPDATE {T} SET state = 'unmatched' WHERE job_id = %s AND case_id IS NULL", [job.pk])
    if job.kind == "repayments":
        # A transaction id is received once per contract: a repeat in this file, or in an
        # earlier file stored here, is reported and never stored twice. When the money app
        # posts the file, it checks the transactions against its payments (``post_job``).
        execute(
            f"UPDATE {T} SET state = 'duplicate' FROM ("
            f"  SELECT row_number AS rrow, ROW_NUMBER() OVER ("
            f"    PARTITION BY transaction_id ORDER BY row_number) AS rn"
            f"  FROM {T} WHERE job_id = %s) d "
            f"WHERE {T}.job_id = %s AND {T}.row_number = d.rrow AND (d.rn > 1 OR EXISTS ("
            f"  SELECT 1 FROM {R} e WHERE e.contract_id = %s AND e.job_id <> %s "
            f"  AND e.transaction_id = {T}.transaction_id "
            f"  AND e.state IN ('applied', 'unmatched')))",
            [job.pk, job.pk, contract, job.pk],
        )
    else:
        execute(
            f"UPDATE {T} SET state = 'skipped' WHERE job_id = %s AND state = 'valid' AND EXISTS ("
            f"  SELECT 1 FROM cases_case c WHERE c.id = {T}.case_id AND c.status IN {TERMINAL})",
            [job.pk],
        )
    _report(job, "unmatched", "notice" if job.kind == "repayments" else "error", "no_case_match")
    _report(job, "duplicate", "error", "duplicate_transaction")
    _report(job, "skipped", "notice", "case_already_closed")
    counts: dict[str, int] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT state, COUNT(*) FROM {T} WHERE job_id = %s GROUP BY state", [job.pk]
        )
        for state, n in cursor.fetchall():
            counts[state] = int(n)
    return counts


def apply_incremental(job: ImportJob, *, at: Any) -> int:
    """Phase 3 (inside the caller's transaction): change the matched cases.

    A repayment file the money app posted (in this transaction, before this) was staged in
    the session's temporary table: its payments are the record, nothing is left to mark."""
    ts = connection.ops.adapt_datetimefield_value(at)
    mine = f"SELECT case_id FROM {R} WHERE job_id = %s AND state = 'valid'"

    def last(column: str) -> str:
        # When a case appears twice in the file, the later row wins.
        return (
            f"(SELECT r.{column} FROM {R} r WHERE r.job_id = %s AND r.state = 'valid' "
            f"AND r.case_id = cases_case.id ORDER BY r.row_number DESC LIMIT 1)"
        )

    if job.kind == "balances":
        execute(
            f"UPDATE {R} SET previous_total = (SELECT c.total_owed FROM cases_case c "
            f"WHERE c.id = {R}.case_id) WHERE job_id = %s AND state = 'valid'",
            [job.pk],
        )
        # The balance moves only through the case ledger: the client's new total becomes an
        # adjustment entry of the difference (recoup.cases.ledger).
        execute(
            "INSERT INTO cases_ledgerentry (organisation_id, case_id, kind, amount, currency, "
            "effective_on, source_type, source_id, idempotency_key, memo, created_by_id, "
            "created_at) "
            "SELECT c.organisation_id, c.id, 'adjustment', ROUND(r.total_owed - c.total_owed, 2), "
            "c.currency, COALESCE(r.effective_on, %s), 'import_job', r.job_id, "
            "'balance:' || CAST(r.job_id AS VARCHAR(20)) || ':' || CAST(c.id AS VARCHAR(20)), "
            "'', %s, %s "
            f"FROM cases_case c JOIN {R} r ON r.case_id = c.id "
            "WHERE r.job_id = %s AND r.state = 'valid' "
            f"AND r.row_number = (SELECT MAX(r2.row_number) FROM {R} r2 WHERE r2.job_id = %s "
            "AND r2.state = 'valid' AND r2.case_id = c.id) "
            "AND ROUND(r.total_owed * 100) <> ROUND(c.total_owed * 100)",
            [timezone.localdate(at), job.created_by_id, ts, job.pk, job.pk],
        )
        changed = execute(
            f"UPDATE cases_case SET principal = COALESCE({last('principal')}, principal), "
            f"interest = COALESCE({last('interest')}, interest), "
            f"fees = COALESCE({last('fees')}, fees), "
            f"total_owed = {last('total_owed')}, updated_at = %s "
            f"WHERE id IN ({mine})",
            [job.pk, job.pk, job.pk, job.pk, ts, job.pk],
        )
    elif job.kind in ("recalls", "closures"):
        status = "returned" if job.kind == "recalls" else "closed"
        changed = execute(
            "UPDATE cases_case SET status = %s, status_changed_at = %s, closed_at = %s, "
            f"updated_at = %s WHERE id IN ({mine}) AND status NOT IN {TERMINAL}",
            [status, ts, ts, ts, job.pk],
        )
    else:  # repayments: stored matched to their case, or posted as payments (staged only)
        changed = count_state(job, "valid")
        if staged_table(job) == STAGE:
            return changed  # the payments are the record; the staged rows go with the session
    execute(f"UPDATE {R} SET state = 'applied' WHERE job_id = %s AND state = 'valid'", [job.pk])
    return changed

"""Phases 2 and 3 of a new-case import: set-based filters, then the one switch-over.

Plain SQL that runs unchanged on PostgreSQL and SQLite (≥ 3.33 for UPDATE … FROM and window
functions); the few differences (JSON construction) are chosen by vendor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import connection, transaction

from recoup.core.db import (
    analyze_tables,
    execute,
    sqlite_freed_pages_kept,
    sqlite_indexes_rebuilt,
)
from recoup.intake.models import ImportJob
from recoup.workdays.calendar import deadline, local_date

S = "intake_stagedcase"
C = "intake_stagedcontact"
M = "intake_row_debtor"  # a temporary table of the switch-over's own transaction
LOADABLE = "('valid', 'held')"
LOADED_TABLES = ("cases_debtor", "cases_case", "cases_contactpoint", "cases_hold")
ALLOCATION_WORKING_DAYS = 1


@dataclass
class FilterCounts:
    valid: int = 0
    held: int = 0
    duplicate: int = 0
    existing: int = 0


_exec = execute  # one name for this module's statements (bench/import_cases.py times it)


def _json_params(*pairs: str) -> str:
    """A SQL expression building a JSON object from column pairs, per vendor."""
    args = ", ".join(pairs)
    if connection.vendor == "postgresql":
        return f"json_build_object({args})::jsonb"
    return f"json_object({args})"


def filter_staged(job: ImportJob, *, number_header: str) -> FilterCounts:
    """Mark duplicates, case numbers already present, and stop-listed debtors; report them."""
    org, contract = job.organisation_id, job.contract_id
    analyze_tables(S, C)
    # 1. Repeats of a case number within the file: the first row wins.
    _exec(
        f"UPDATE {S} SET state = 'duplicate' FROM ("
        f"  SELECT id AS sid, ROW_NUMBER() OVER ("
        f"    PARTITION BY client_case_number ORDER BY row_number) AS rn"
        f"  FROM {S} WHERE job_id = %s) d "
        f"WHERE {S}.id = d.sid AND d.rn > 1",
        [job.pk],
    )
    # 2. A case with this number already exists under the contract.
    _exec(
        f"UPDATE {S} SET state = 'existing' WHERE job_id = %s AND state = 'valid' AND EXISTS ("
        f"  SELECT 1 FROM cases_case c WHERE c.contract_id = %s"
        f"  AND c.client_case_number = {S}.client_case_number)",
        [job.pk, contract],
    )
    # 3. The debtor is on the stop list: loaded, but held with the list's reason.
    listed = (
        "SELECT e.reason FROM cases_stoplistentry e WHERE e.organisation_id = %s "
        f"AND e.id_number_bidx = {S}.id_number_bidx AND e.removed_at IS NULL"
    )
    _exec(
        f"UPDATE {S} SET state = 'held', hold_reason = ({listed} ORDER BY e.id LIMIT 1) "
        f"WHERE job_id = %s AND state = 'valid' AND EXISTS ({listed})",
        [org, job.pk, org],
    )
    # Report every filtered row: nothing is dropped silently.
    reports = [
        ("duplicate", "error", "duplicate_in_file", _json_params("'header'", "%s")),
        ("existing", "error", "case_exists", _json_params("'header'", "%s")),
        ("held", "notice", "stop_listed", _json_params("'reason'", "hold_reason")),
    ]
    for state, severity, code, params_sql in reports:
        params: list[Any] = [job.pk, severity, number_header[:100], code]
        if "%s" in params_sql:
            params.append(number_header)
        params.append(job.pk)
        params.append(state)
        _exec(
            "INSERT INTO intake_importissue "
            '(job_id, severity, row_number, "column", value_masked, code, params) '
            f"SELECT %s, %s, row_number, %s, client_case_number, %s, {params_sql} "
            f"FROM {S} WHERE job_id = %s AND state = %s",
            params,
        )
    counts = FilterCounts()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT state, COUNT(*) FROM {S} WHERE job_id = %s GROUP BY state", [job.pk]
        )
        for state, n in cursor.fetchall():
            setattr(counts, state, int(n))
    return counts


def switch_over(job: ImportJob, *, actor_id: int, at: Any) -> int:
    """Insert debtors, cases, contacts and holds from staging. Caller holds the transaction."""
    org, contract = job.organisation_id, job.contract_id
    client = job.contract.client_id
    assert job.batch_id is not None
    assert job.branch_id is not None
    ts = connection.ops.adapt_datetimefield_value(at)
    false = "FALSE" if connection.vendor == "postgresql" else "0"
    # SPEC §3 step 3: allocation within one working day of the import.
    allocation_due = deadline(start=at, working_days=ALLOCATION_WORKING_DAYS)
    # New debtors: the first loadable row per person, unless the agency already knows them;
    # inserted in row order (their time-ordered uids append to the uid index).
    # A file with more rows than there are debtors has SQLite build the random name index
    # once, sorted, afterwards: inserting 940k debtors took 6.4–7.4 s with it, 3.7–3.9 s
    # without plus 1.7 s to build it (an A/B on the bench's database; bench/RESULTS.md).
    # The (organisation, id number) index stays: the statement checks known debtors with it.
    rebuild = connection.vendor == "sqlite" and _outnumbers_stored(
        f"SELECT COUNT(*) FROM {S} WHERE job_id = %s", [job.pk], "cases_debtor"
    )
    with sqlite_indexes_rebuilt("cases_debtor", ["debtor_org_name"], when=rebuild):
        _insert_new_debtors(org, ts, job)
    analyze_tables("cases_debtor")  # it may have grown by a million rows just now
    _map_rows_to_debtors(job)
    loaded = _exec(
        "INSERT INTO cases_case (organisation_id, client_id, contract_id, batch_id, debtor_id, "
        "client_case_number, product, account_sealed, account_key_id, account_bidx, currency, "
        "principal, interest, fees, total_owed, entrusted_amount, overdue_days, stage, "
        "branch_id, region, status, status_changed_at, placed_at, custom_sealed, "
        "allocation_due_at, sla_estimated, period_ends_on, created_at, updated_at) "
        "SELECT %s, %s, %s, %s, m.debtor_id, s.client_case_number, s.product, s.account_sealed, "
        "s.key_id, s.account_bidx, 'CNY', s.principal, s.interest, s.fees, s.total_owed, "
        "s.total_owed, s.overdue_days, s.stage, %s, s.region, 'pending', %s, %s, "
        "s.custom_sealed, %s, %s, %s, %s, %s "
        f"FROM {S} s JOIN {M} m ON m.row_number = s.row_number "
        f"WHERE s.job_id = %s AND s.state IN {LOADABLE}",
        [
            org,
            client,
            contract,
            job.batch_id,
            job.branch_id,
            ts,
            ts,
            connection.ops.adapt_datetimefield_value(allocation_due.due),
            allocation_due.estimated,
            local_date(at) + timedelta(days=job.contract.case_period_days),
            ts,
            ts,
            job.pk,
        ],
    )
    # Contact points: one per debtor, role and number; addresses have no blind index and are
    # kept per row. The row that created a debtor just now brings its contacts as they are
    # (deduplicated within the row while staging; a new debtor has no others): the bulk of a
    # file, one plain INSERT … SELECT. The rest (a person on several rows, a debtor the
    # agency already knew) is deduplicated against each other and what is already stored.
    columns = (
        "INSERT INTO cases_contactpoint (organisation_id, debtor_id, uid, kind, role, label, "
        "sealed, pii_key_id, value_bidx, validity, source, refused_contact, created_at, "
        "updated_at) "
    )
    # A file that brings more contact points than are stored has SQLite build the random
    # blind-index index once, sorted, instead of inserting millions of entries at random.
    rebuild = connection.vendor == "sqlite" and _outnumbers_stored(
        f"SELECT COUNT(*) FROM {C} WHERE job_id = %s", [job.pk], "cases_contactpoint"
    )
    with sqlite_indexes_rebuilt("cases_contactpoint", ["contact_org_bidx"], when=rebuild):
        _insert_new_debtors_contact_points(columns, org, ts, false, job)
    _insert_other_contact_points(columns, org, ts, false, job)  # needs that index
    # The few held rows, found through the map (a scan of the wide staging rows for their
    # state took 6 s at 1M rows).
    _exec(
        "INSERT INTO cases_hold (organisation_id, case_id, reason, note, set_by_id, created_at, "
        "updated_at) "
        "SELECT %s, c.id, 'stop_list', s.hold_reason, %s, %s, %s "
        f"FROM {S} s JOIN cases_case c ON c.contract_id = %s "
        "AND c.client_case_number = s.client_case_number "
        f"WHERE s.job_id = %s AND s.row_number IN (SELECT row_number FROM {M} WHERE held)",
        [org, actor_id, ts, ts, contract, job.pk],
    )
    _exec(f"DROP TABLE {M}", [])
    return loaded


def _insert_new_debtors(org: int, ts: Any, job: ImportJob) -> None:
    """New debtors: the first loadable row per person, unless the agency already knows them.

    The staging table has no index by person (keeping one while a million rows arrived in
    random order cost more than what follows), so each database finds the first rows its own
    way, measured at 1M rows (bench/RESULTS.md):
    - PostgreSQL: the rows without an earlier row of the same person, a hash anti-join of the
      staging rows with themselves (2.2 s; the grouping below made it a nested loop, 10 s);
    - SQLite: one grouping by person (a sort) gives each person's first row number; SQLite
      would run the anti-join as a nested loop over the whole table per row."""
    if connection.vendor == "postgresql":
        first = (
            f"s.state IN {LOADABLE} AND NOT EXISTS (SELECT 1 FROM {S} e "
            "  WHERE e.job_id = s.job_id AND e.id_number_bidx = s.id_number_bidx "
            f"  AND e.row_number < s.row_number AND e.state IN {LOADABLE})"
        )
        first_params: list[Any] = []
    else:
        first = (
            f"s.row_number IN (SELECT MIN(f.row_number) FROM {S} f "
            f"  WHERE f.job_id = %s AND f.state IN {LOADABLE} GROUP BY f.id_number_bidx)"
        )
        first_params = [job.pk]
    _exec(
        "INSERT INTO cases_debtor (organisation_id, uid, pii, pii_key_id, id_number_bidx, "
        "name_bidx, birth_year, gender, province, city, created_at, updated_at) "
        "SELECT %s, s.debtor_uid, s.debtor_pii, s.key_id, s.id_number_bidx, s.name_bidx, "
        "s.birth_year, s.gender, s.province, s.city, %s, %s "
        f"FROM {S} s WHERE s.job_id = %s AND {first} "
        "AND NOT EXISTS (SELECT 1 FROM cases_debtor d "
        "  WHERE d.organisation_id = %s AND d.id_number_bidx = s.id_number_bidx) "
        "ORDER BY s.row_number",
        [org, ts, ts, job.pk, *first_params, org],
    )


def _map_rows_to_debtors(job: ImportJob) -> None:
    """Each loadable row's debtor, looked up once (``M``): the row's cases and its five or
    so contact points then join on the row number instead of repeating the look-up by blind
    index per contact point (SQLite: 4 of the 8 s of a 200k-row file's contact points).
    ``created``: the row created its debtor just now (the debtor carries the row's uid);
    ``held``: the row's case is held (stop list)."""
    _exec(f"DROP TABLE IF EXISTS {M}", [])
    _exec(
        f"CREATE TEMPORARY TABLE {M} (row_number INTEGER PRIMARY KEY, "
        "debtor_id BIGINT NOT NULL, created BOOLEAN NOT NULL, held BOOLEAN NOT NULL)",
        [],
    )
    org = job.organisation_id
    _exec(
        f"INSERT INTO {M} (row_number, debtor_id, created, held) "
        "SELECT s.row_number, d.id, d.uid = s.debtor_uid, s.state = 'held' "
        f"FROM {S} s JOIN cases_debtor d ON d.organisation_id = %s "
        "AND d.id_number_bidx = s.id_number_bidx "
        f"WHERE s.job_id = %s AND s.state IN {LOADABLE}",
        [org, job.pk],
    )
    analyze_tables(M)


def _outnumbers_stored(count_sql: str, params: list[Any], table: str) -> bool:
    """Whether the staged rows ``count_sql`` counts outnumber the rows stored in ``table``."""
    with connection.cursor() as cursor:
        cursor.execute(count_sql, params)
        incoming = int(cursor.fetchone()[0])
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
        return incoming > int(cursor.fetchone()[0])  # the largest id: at least the row count


def _insert_new_debtors_contact_points(
    columns: str, org: int, ts: Any, false: str, job: ImportJob
) -> None:
    _exec(
        columns + "SELECT %s, m.debtor_id, c.uid, c.kind, c.role, c.label, c.sealed, c.key_id, "
        f"c.value_bidx, 'unknown', 'client', {false}, %s, %s "
        f"FROM {C} c JOIN {M} m ON m.row_number = c.row_number "
        "WHERE c.job_id = %s AND m.created",
        [org, ts, ts, job.pk],
    )


def _insert_other_contact_points(
    columns: str, org: int, ts: Any, false: str, job: ImportJob
) -> None:
    _exec(
        columns + "SELECT %s, x.did, x.uid, x.kind, x.role, x.label, x.sealed, x.key_id, "
        f"x.value_bidx, 'unknown', 'client', {false}, %s, %s FROM ("
        "  SELECT c.*, m.debtor_id AS did, ROW_NUMBER() OVER ("
        "    PARTITION BY m.debtor_id, c.kind, c.role, "
        "    CASE WHEN c.value_bidx = '' THEN CAST(c.uid AS TEXT) ELSE c.value_bidx END "
        "    ORDER BY c.row_number) AS rn "
        f"  FROM {M} m JOIN {C} c ON c.job_id = %s AND c.row_number = m.row_number "
        "  WHERE NOT m.created) x "
        "WHERE x.rn = 1 AND NOT (x.value_bidx <> '' AND EXISTS ("
        "  SELECT 1 FROM cases_contactpoint e WHERE e.organisation_id = %s "
        "  AND e.debtor_id = x.did AND e.value_bidx = x.value_bidx AND e.role = x.role))",
        [org, ts, ts, job.pk, org],
    )


def clear_staging(job: ImportJob) -> None:
    """Delete a job's staging rows, and any left by jobs that are no longer running (a crash
    between a switch-over and this clean-up). When no other running job has staging rows the
    tables are emptied outright (PostgreSQL TRUNCATE, SQLite's truncate optimisation): far
    cheaper than deleting millions of rows one by one. The check and the emptying hold the
    tables' write lock, so a job starting meanwhile stages after it.

    On SQLite the freed pages are not zero-filled (``sqlite_freed_pages_kept``): they hold
    sealed personal data, blind indexes, case numbers and amounts, as the live rows do."""
    with sqlite_freed_pages_kept(), transaction.atomic():
        if connection.vendor == "postgresql":
            _exec(f"LOCK TABLE {S}, {C} IN ACCESS EXCLUSIVE MODE", [])
        running = list(
            ImportJob.objects.filter(status=ImportJob.Status.RUNNING)
            .exclude(pk=job.pk)
            .values_list("pk", flat=True)
        )
        if running:
            keep = ", ".join(str(int(pk)) for pk in running)
            _exec(f"DELETE FROM {C} WHERE job_id NOT IN ({keep})", [])
            _exec(f"DELETE FROM {S} WHERE job_id NOT IN ({keep})", [])
        elif connection.vendor == "postgresql":
            _exec(f"TRUNCATE {C}, {S}", [])
        else:
            _exec(f"DELETE FROM {C}", [])
            _exec(f"DELETE FROM {S}", [])

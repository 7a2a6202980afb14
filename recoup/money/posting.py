"""Posting a client's repayment file: set-based, in the transaction that applies the file.

The intake has staged the file's rows (``incremental.staged_table``) matched to cases, with
transaction ids repeated within the file already refused. Here, with a fixed number of
statements whatever the file's size:

1. the contract's money lock is taken (``clients.locks``), so a manual payment, match or
   reversal on one of its cases waits instead of racing the balances read here;
2. every row becomes a ``Payment``, judged as it goes in: *unmatched* (no case), an
   *exception* with its reason (a returned or closed case, an amount that is not positive, a
   date in the future or before the case was placed), or *posted*;
3. payments that would take a case below zero are set aside as exceptions (counted in date
   order within the file; only cases whose file total passes their balance are looked at:
   all their payments are set aside as they go in, then taken back while they fit);
4. one ledger entry per posted payment, each case's balance lowered by its sum, and in the
   same statement the cases whose balance reached zero closed as paid off (结清);
5. promises, plan instalments and approved reductions re-evaluated.

A second file with the same transactions posts nothing: its rows naming a transaction
already recorded (by a file, by hand or from a statement) are reported as duplicates, and
``Payment`` is unique per contract and transaction id. The payments, matched or not, are
the record of what the client sent; the staged rows are not kept.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import Count
from django.utils import timezone

from recoup.audit.services import audit_record
from recoup.clients.locks import lock_contract_money
from recoup.contact.promises import PaymentFact, apply_payments
from recoup.core.clock import now
from recoup.core.db import analyze_tables, execute
from recoup.core.money import to_money
from recoup.intake.incremental import staged_table
from recoup.money.models import Payment
from recoup.money.plans import plans_replay
from recoup.money.reductions import reductions_evaluate

if TYPE_CHECKING:
    from recoup.intake.models import ImportJob

P = "money_payment"
L = "cases_ledgerentry"
OPEN_CASE = "('new', 'pending', 'assigned', 'collecting', 'promised', 'on_plan')"


def post_job(job: ImportJob) -> int:
    """Turn a repayment file's matched and unmatched rows into payments and post them.

    Runs inside the intake's transaction, before the intake marks the rows applied; returns
    the number of payments posted."""
    at = now()
    ts = connection.ops.adapt_datetimefield_value(at)
    today = timezone.localdate(at)
    lock_contract_money(job.contract_id)
    R = staged_table(job)
    rows = f"{R}.job_id = %s AND {R}.state IN ('valid', 'unmatched')"
    # A transaction id recorded before (from an earlier file, by hand, or from the client's
    # statement) is that payment: not twice. Repeats within the file were found by the intake.
    known = (
        f"SELECT 1 FROM {P} p WHERE p.contract_id = {R}.contract_id "
        f"AND p.transaction_id = {R}.transaction_id"
    )
    if Payment.objects.filter(contract_id=job.contract_id).exists():
        execute(
            "INSERT INTO intake_importissue "
            '(job_id, severity, row_number, "column", value_masked, code, params) '
            "SELECT job_id, 'error', row_number, '', transaction_id, 'duplicate_transaction', "
            f"'{{}}' FROM {R} WHERE {rows} AND EXISTS ({known})",
            [job.pk],
        )
        execute(f"UPDATE {R} SET state = 'duplicate' WHERE {rows} AND EXISTS ({known})", [job.pk])
    # Each row is judged as it goes in: unmatched, an exception with its reason, or posted.
    code = (
        "CASE WHEN r.case_id IS NULL THEN '' "
        "WHEN r.amount <= 0 THEN 'not_positive' "
        "WHEN r.paid_at > %s THEN 'future_date' "
        "WHEN c.status IN ('returned', 'closed') THEN 'case_not_open' "
        "WHEN r.paid_at < date(c.placed_at) THEN 'before_placement' ELSE '' END"
    )
    # A case's payments in the file adding up to more than its balance are all set aside as
    # over the balance first (a window sum, in the same statement); _readmit then takes
    # them back in date order while they fit.
    over = "case_id IS NOT NULL AND ROUND(file_total * 100) > ROUND(owed * 100)"
    execute(
        f"INSERT INTO {P} (organisation_id, contract_id, case_id, job_id, row_number, source, "
        "status, exception_code, transaction_id, amount, currency, paid_on, channel, "
        "match_method, client_case_number, account_bidx, id_number_bidx, collector_id, "
        "team_id, evidence, evidence_sha256, note, created_at, created_by_id, posted_at, "
        "reason) "
        "SELECT organisation_id, contract_id, case_id, job_id, row_number, 'file', "
        "CASE WHEN case_id IS NULL THEN 'unmatched' WHEN final <> '' THEN 'exception' "
        "ELSE 'posted' END, final, transaction_id, amount, currency, paid_at, channel, "
        "match_method, client_case_number, account_bidx, id_number_bidx, assignee_id, "
        "team_id, '', '', '', %s, %s, "
        "CASE WHEN case_id IS NOT NULL AND final = '' THEN %s END, '' FROM ("
        f"SELECT y.*, CASE WHEN code <> '' THEN code WHEN {over} THEN 'over_balance' "
        "ELSE '' END AS final FROM ("
        "SELECT x.*, SUM(CASE WHEN code = '' THEN amount ELSE 0 END) "
        "OVER (PARTITION BY case_id) AS file_total FROM ("
        "SELECT r.organisation_id, r.contract_id, r.case_id, r.job_id, r.row_number, "
        "r.transaction_id, r.amount, COALESCE(c.currency, 'CNY') AS currency, r.paid_at, "
        "r.channel, r.match_method, r.client_case_number, r.account_bidx, r.id_number_bidx, "
        f"c.assignee_id, c.team_id, c.total_owed AS owed, {code} AS code "
        f"FROM {R} r LEFT JOIN cases_case c ON c.id = r.case_id "
        "WHERE r.job_id = %s AND r.state IN ('valid', 'unmatched')) x) y) z "
        "ORDER BY row_number",
        [ts, job.created_by_id, ts, today, job.pk],
    )
    analyze_tables(P)
    _readmit(job.pk, ts)
    posted, closed = _post(job.pk, ts)
    _closed, promises = after_posting(job_id=job.pk, at=at, closed=closed)
    counts = dict(
        Payment.objects.filter(job_id=job.pk)
        .values("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    audit_record(
        action="money.payment.file_posted",
        actor=job.created_by,
        organisation=job.organisation_id,
        object_type="import_job",
        object_id=job.pk,
        data={
            "posted": posted,
            "unmatched": counts.get("unmatched", 0),
            "exceptions": counts.get("exception", 0),
            "paid_off": closed,
            "promises_changed": promises,
        },
    )
    return posted


def _readmit(job_id: int, ts: Any) -> None:
    """More than the balance, counting the file's payments to a case in date order: a
    payment that would cross the balance stays aside and the next ones are counted without
    it (a later, smaller payment may still fit). Only the cases whose payments in the file
    add up to more than their balance were set aside; they are judged here, in Python."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT p.id, p.case_id, p.amount, c.total_owed FROM {P} p "
            "JOIN cases_case c ON c.id = p.case_id "
            "WHERE p.job_id = %s AND p.status = 'exception' AND p.exception_code = 'over_balance' "
            "ORDER BY p.case_id, p.paid_on, p.row_number",
            [job_id],
        )
        rows = cursor.fetchall()
    fits: list[int] = []
    case_id, running, owed = None, Decimal(0), Decimal(0)
    for pid, cid, amount, total_owed in rows:
        if cid != case_id:
            case_id, running, owed = cid, Decimal(0), _money(total_owed)
        amount = _money(amount)
        if running + amount <= owed:
            running += amount
            fits.append(int(pid))
    for start in range(0, len(fits), 5000):  # a statement per 5 000, not one per payment
        chunk = fits[start : start + 5000]
        execute(
            f"UPDATE {P} SET status = 'posted', exception_code = '', posted_at = %s "
            f"WHERE id IN ({', '.join(['%s'] * len(chunk))})",
            [ts, *chunk],
        )


def _post(job_id: int, ts: Any) -> tuple[int, int]:
    """Ledger entries and balances for the job's posted payments, and the cases they paid
    off closed in the same statement (结清); how many of each."""
    posted = execute(
        f"INSERT INTO {L} (organisation_id, case_id, kind, amount, currency, effective_on, "
        "source_type, source_id, idempotency_key, memo, created_by_id, created_at) "
        "SELECT organisation_id, case_id, 'payment', -amount, currency, paid_on, 'payment', id, "
        "NULL, '', created_by_id, %s "
        f"FROM {P} WHERE job_id = %s AND status = 'posted' ORDER BY id",
        [ts, job_id],
    )
    # Every SET expression reads the row as it was: "paid off" is the new balance at zero.
    paid_off = f"ROUND((total_owed - s.paid) * 100) = 0 AND status IN {OPEN_CASE}"
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE cases_case SET total_owed = ROUND(total_owed - s.paid, 2), updated_at = %s, "
            f"status = CASE WHEN {paid_off} THEN 'paid_off' ELSE status END, "
            f"status_changed_at = CASE WHEN {paid_off} THEN %s ELSE status_changed_at END, "
            f"closed_at = CASE WHEN {paid_off} THEN %s ELSE closed_at END "
            f"FROM (SELECT case_id, SUM(amount) AS paid FROM {P} "
            "  WHERE job_id = %s AND status = 'posted' GROUP BY case_id) s "
            # RETURNING sees the new row (and, on SQLite, only the updated table).
            "WHERE cases_case.id = s.case_id "
            "RETURNING CASE WHEN status = 'paid_off' AND closed_at = %s THEN 1 ELSE 0 END",
            [ts, ts, ts, job_id, ts],
        )
        closed = sum(row[0] for row in cursor.fetchall())
    return posted, closed


def after_posting(
    *,
    job_id: int | None = None,
    payment_ids: list[int] | None = None,
    at: datetime,
    closed: int | None = None,
) -> tuple[int, int]:
    """What posted payments change beyond the balance: promises kept, plan instalments
    filled, cases paid off, approved reductions whose remainder is now paid taking effect.

    ``closed``: the cases paid off were already closed (a file closes them in its balance
    statement), this many. Returns (cases closed as paid off, promises changed)."""
    where, params = (
        ("job_id = %s", [job_id])
        if job_id is not None
        else (f"id IN ({', '.join(['%s'] * len(payment_ids or []))})", list(payment_ids or []))
    )
    if not params:
        return 0, 0
    ts = connection.ops.adapt_datetimefield_value(at)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT case_id, amount, paid_on FROM {P} WHERE {where} AND status = 'posted' "
            "AND case_id IN (SELECT pr.case_id FROM contact_promise pr "
            "WHERE pr.status IN ('open', 'broken'))",
            params,
        )
        facts = [PaymentFact(int(c), _money(a), _date(d)) for c, a, d in cursor.fetchall()]
    changes = apply_payments(facts)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT case_id FROM {P} WHERE {where} AND status = 'posted' "
            "AND case_id IN (SELECT case_id FROM money_repaymentplan WHERE status = 'active')",
            params,
        )
        on_plan = [int(row[0]) for row in cursor.fetchall()]
    if on_plan:
        plans_replay(on_plan)
    if closed is None:
        closed = execute(
            "UPDATE cases_case SET status = 'paid_off', status_changed_at = %s, closed_at = %s, "
            "updated_at = %s WHERE ROUND(total_owed * 100) = 0 "
            f"AND status IN {OPEN_CASE} AND id IN (SELECT case_id FROM {P} WHERE {where} "
            "AND status = 'posted')",
            [ts, ts, ts, *params],
        )
    if closed:
        # A paid-off case owes nothing: its open promises are kept with it.
        execute(
            "UPDATE contact_promise SET status = 'kept', evaluated_at = %s "
            "WHERE status = 'open' AND case_id IN (SELECT id FROM cases_case "
            f"WHERE status = 'paid_off' AND id IN (SELECT case_id FROM {P} WHERE {where}))",
            [ts, *params],
        )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT case_id FROM {P} WHERE {where} AND status = 'posted' "
            "AND case_id IN (SELECT case_id FROM money_reduction WHERE status = 'approved')",
            params,
        )
        reduced = [int(row[0]) for row in cursor.fetchall()]
    if reduced:
        reductions_evaluate(reduced)
    return closed, len(changes)


def _money(value: object) -> Decimal:
    return to_money(str(value))


def _date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))

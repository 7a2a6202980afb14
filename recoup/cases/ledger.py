"""The case ledger: the only way a case's balance changes after placement.

``append`` writes one ``LedgerEntry`` and moves ``Case.total_owed`` by the same amount in
the caller's transaction, with a conditional ``UPDATE … WHERE total_owed + amount >= 0``
(STYLE §4.7): correct on SQLite and PostgreSQL without a read-modify-write. Bulk posting
(a repayment file, a balance file) writes entries and balances set-based with the same
invariant, which ``mismatches`` checks:

    Case.total_owed == Case.entrusted_amount + Σ LedgerEntry.amount
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum
from django.db.models.functions import Round
from django.utils.translation import gettext as _

from recoup.cases.models import Case, LedgerEntry
from recoup.core.clock import now
from recoup.core.db import dangling_keys
from recoup.core.exceptions import RecoupError
from recoup.core.money import to_money

if TYPE_CHECKING:
    from recoup.accounts.models import User


class LedgerRefused(RecoupError):
    """The entry would take the balance below zero, or moves nothing."""


@dataclass(frozen=True)
class Appended:
    entry: LedgerEntry
    created: bool  # False: the idempotency key was already used; nothing moved


def append(
    *,
    case: Case,
    kind: str,
    amount: Decimal,
    effective_on: date,
    source_type: str,
    source_id: int | None,
    idempotency_key: str | None,
    actor: User | None,
    memo: str = "",
) -> Appended:
    """Append one entry and move the balance with it (inside the caller's transaction)."""
    if amount == 0:
        raise LedgerRefused(_("金额不能为零。"), code="zero")
    at = now()
    with transaction.atomic():
        if idempotency_key:
            existing = LedgerEntry.objects.filter(
                organisation_id=case.organisation_id, idempotency_key=idempotency_key
            ).first()
            if existing is not None:
                return Appended(existing, False)
        try:
            with transaction.atomic():
                entry = LedgerEntry.objects.create(
                    organisation_id=case.organisation_id,
                    case_id=case.pk,
                    kind=kind,
                    amount=amount,
                    currency=case.currency,
                    effective_on=effective_on,
                    source_type=source_type,
                    source_id=source_id,
                    idempotency_key=idempotency_key,
                    memo=memo[:300],
                    created_by=actor,
                    created_at=at,
                )
        except IntegrityError:
            if not idempotency_key:  # the payment's one entry (or one reversal) exists
                raise LedgerRefused(_("这笔款项已经记账，不能重复。"), code="duplicate") from None
            existing = LedgerEntry.objects.get(
                organisation_id=case.organisation_id, idempotency_key=idempotency_key
            )
            return Appended(existing, False)
        # Rounded to cents in SQL: SQLite keeps decimals as binary floats, and a payment of
        # exactly the balance must leave 0.00, not -0.0000000001 (refused).
        after = Round(F("total_owed") + amount, 2)
        moved = (
            Case.objects.filter(pk=case.pk)
            .alias(after=after)
            .filter(after__gte=0)
            .update(total_owed=after, updated_at=at)
        )
        if not moved:
            raise LedgerRefused(
                _("金额 %(amount)s 超过案件当前余额，余额不能为负。") % {"amount": -amount},
                code="over_balance",
            )
    case.total_owed = Case.objects.values_list("total_owed", flat=True).get(pk=case.pk)
    return Appended(entry, True)


def balance(case: Case) -> Decimal:
    """The balance as the ledger says it (entrusted amount plus every entry)."""
    moved = LedgerEntry.objects.filter(case_id=case.pk).aggregate(s=Sum("amount"))["s"]
    return to_money(case.entrusted_amount + (moved or Decimal(0)))


def mismatches(
    *, organisation_id: int | None = None, limit: int = 100
) -> list[tuple[int, Decimal, Decimal]]:
    """Cases whose stored balance differs from their ledger: ``(case id, stored, ledger)``.

    An empty list is the normal answer; anything else is a defect to investigate
    (``manage.py ledger_check``)."""
    where = "WHERE c.organisation_id = %s" if organisation_id is not None else ""
    params: list[int] = [organisation_id] if organisation_id is not None else []
    sql = (
        "SELECT c.id, c.total_owed, c.entrusted_amount + COALESCE(l.moved, 0) FROM cases_case c "
        "LEFT JOIN (SELECT case_id, SUM(amount) AS moved FROM cases_ledgerentry "
        "GROUP BY case_id) l ON l.case_id = c.id "
        f"{where} {'AND' if where else 'WHERE'} "
        "ROUND(c.total_owed * 100) <> ROUND((c.entrusted_amount + COALESCE(l.moved, 0)) * 100) "
        "ORDER BY c.id LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        return [(int(i), to_money(str(s)), to_money(str(x))) for i, s, x in cursor.fetchall()]


def orphans(*, limit: int = 100) -> list[int]:
    """Ledger entries naming a case that does not exist (ids). The foreign key has no
    database check (bulk posting speed, see ``LedgerEntry.case``): this is its check."""
    return dangling_keys("cases_ledgerentry", "case_id", "cases_case", limit=limit)

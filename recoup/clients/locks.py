"""Locks that serialise money movements per contract (STYLE §4.7).

A repayment file posts hundreds of thousands of payments in one transaction; a balance file
rewrites balances; a manual payment, match or reversal moves one case. Each takes the
contract's row lock first (``FOR UPDATE`` on PostgreSQL; SQLite's IMMEDIATE write
transactions already serialise every writer), so a balance read to judge a payment cannot
change before the payment lands: one lock per file instead of one per case. A manual
payment on a contract whose file is posting waits for it (seconds), never races it.
"""

from __future__ import annotations

from recoup.clients.models import Contract


def lock_contract_money(contract_id: int) -> None:
    """Take the contract's money lock (inside the caller's transaction)."""
    list(Contract.objects.select_for_update().filter(pk=contract_id).values_list("pk", flat=True))

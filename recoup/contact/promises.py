"""Promises (承诺还款) against payments: which payment keeps which promise.

A payment counts toward a promise when it was paid inside the promise's window: on or after
the day the promise was made and on or before its date. Open and broken promises of the case,
earliest date first, absorb the payment; a promise whose amount is covered is kept. A broken
promise that a late-reported payment covers (the bank's file arrives the day after the date,
after the nightly run marked it broken) is kept after all, and the case's count of broken
promises falls with it (SPEC §3 step 7: intensive follow-up from 2 broken promises).

``apply_payments`` takes many payments at once: the money app calls it for a whole repayment
file (hundreds of thousands of rows) with a few queries, and for one manual payment.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from recoup.cases.models import Case
from recoup.contact.models import Promise
from recoup.core.clock import now

INTENSIVE_AFTER_BROKEN = 2


@dataclass(frozen=True)
class PaymentFact:
    case_id: int
    amount: Decimal
    paid_on: date


@dataclass
class PromiseChange:
    promise_id: int
    case_id: int
    paid: Decimal  # what this evaluation added
    status: str  # the promise's status after it
    was_broken: bool


def _allocate(
    case_id: int, promises: list[Promise], payments: list[PaymentFact]
) -> list[PromiseChange]:
    """Fill ``promises`` (earliest date first) from ``payments`` in date order, in memory."""
    changes: list[PromiseChange] = []
    for pay in sorted(payments, key=lambda p: p.paid_on):
        remaining = pay.amount
        for promise in promises:
            if remaining <= 0:
                break
            made_on = timezone.localdate(promise.created_at)
            if (
                promise.status == Promise.Status.KEPT
                or not made_on <= pay.paid_on <= promise.due_on
            ):
                continue
            take = min(remaining, promise.amount - promise.paid_amount)
            if take <= 0:
                continue
            was_broken = promise.status == Promise.Status.BROKEN
            promise.paid_amount += take
            remaining -= take
            if promise.paid_amount >= promise.amount:
                promise.status = Promise.Status.KEPT
            changes.append(PromiseChange(promise.pk, case_id, take, promise.status, was_broken))
    return changes


def replay(case_id: int, payments: list[PaymentFact], *, today: date) -> int:
    """Evaluate a case's promises again from all its payments (after a reversal took one
    back): each promise is open, kept or broken by what the remaining payments cover.
    The case's count of broken promises follows. Returns the promises whose status changed."""
    promises = list(
        Promise.objects.select_for_update()
        .filter(case_id=case_id)
        .exclude(status=Promise.Status.CANCELLED)
        .order_by("due_on", "id")
    )
    before = {p.pk: (p.status, p.paid_amount) for p in promises}
    for promise in promises:
        promise.paid_amount = Decimal("0.00")
        promise.status = Promise.Status.OPEN
    _allocate(case_id, promises, [p for p in payments if p.amount > 0])
    at = now()
    changed = 0
    broken_delta = 0
    for promise in promises:
        if promise.status != Promise.Status.KEPT and promise.due_on < today:
            promise.status = Promise.Status.BROKEN
        was_status, was_paid = before[promise.pk]
        if (promise.status, promise.paid_amount) != (was_status, was_paid):
            promise.evaluated_at = at
            promise.save(update_fields=["paid_amount", "status", "evaluated_at"])
            changed += was_status != promise.status
            broken_delta += (promise.status == Promise.Status.BROKEN) - (
                was_status == Promise.Status.BROKEN
            )
    if broken_delta:
        case = Case.objects.select_for_update().get(pk=case_id)
        case.broken_promises = max(0, case.broken_promises + broken_delta)
        case.intensive_follow_up = case.broken_promises >= INTENSIVE_AFTER_BROKEN
        case.save(update_fields=["broken_promises", "intensive_follow_up"])
    return changed


def apply_payments(payments: list[PaymentFact]) -> list[PromiseChange]:
    """Let the payments fill their cases' promises; returns what changed (caller's transaction).

    Cases left without an open promise go from 已承诺 back to 催收中."""
    by_case: dict[int, list[PaymentFact]] = defaultdict(list)
    for p in payments:
        if p.amount > 0:
            by_case[p.case_id].append(p)
    if not by_case:
        return []
    promises: dict[int, list[Promise]] = defaultdict(list)
    ids = list(by_case)
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        for promise in (
            Promise.objects.select_for_update()
            .filter(case_id__in=chunk, status__in=[Promise.Status.OPEN, Promise.Status.BROKEN])
            .order_by("case_id", "due_on", "id")
        ):
            promises[promise.case_id].append(promise)
    changes: list[PromiseChange] = []
    for case_id, open_promises in promises.items():
        changes.extend(_allocate(case_id, open_promises, by_case[case_id]))
    if not changes:
        return []
    at = now()
    touched = {c.promise_id for c in changes}
    rows = [
        (p.paid_amount, p.status, at, p.pk)
        for plist in promises.values()
        for p in plist
        if p.pk in touched
    ]
    with connection.cursor() as cursor:
        cursor.executemany(
            "UPDATE contact_promise SET paid_amount = %s, status = %s, evaluated_at = %s "
            "WHERE id = %s",
            rows,
        )
    unbroken: dict[int, int] = defaultdict(int)
    for c in changes:
        if c.was_broken and c.status == Promise.Status.KEPT:
            unbroken[c.case_id] += 1
    if unbroken:
        with connection.cursor() as cursor:
            cursor.executemany(
                "UPDATE cases_case SET broken_promises = CASE WHEN broken_promises > %s "
                "THEN broken_promises - %s ELSE 0 END, "
                "intensive_follow_up = (broken_promises - %s >= %s) WHERE id = %s",
                [(n, n, n, INTENSIVE_AFTER_BROKEN, case_id) for case_id, n in unbroken.items()],
            )
    kept_cases = sorted({c.case_id for c in changes if c.status == Promise.Status.KEPT})
    for start in range(0, len(kept_cases), 5000):
        chunk = kept_cases[start : start + 5000]
        Case.objects.filter(pk__in=chunk, status=Case.Status.PROMISED).exclude(
            promises__status=Promise.Status.OPEN
        ).update(status=Case.Status.IN_COLLECTION, status_changed_at=at)
    return changes

"""Counters are right under concurrency: collectors asking for a debtor's last slot at the same
moment get exactly one pass between them (issue 5, COMPLIANCE.md CN-2/CN-3, US-1).

``decide`` locks the debtor's row (``SELECT … FOR NO KEY UPDATE``) before counting, so the
second request counts the first one's grant. Each thread has its own connection and its own
transaction; the counting step is slowed down so the requests really overlap (without the
lock every one of them would pass).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, connections

from recoup.cases.models import Case, Debtor
from recoup.contact import gate
from recoup.contact.gate import ContactRequest, Decision, decide
from recoup.contact.models import ContactAttempt, ContactDecision
from recoup.contact.tests.helpers import add_third_party, bj, call, phone_of

pytestmark = pytest.mark.django_db(transaction=True)

SLOW_SECONDS = 0.3
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture(autouse=True)
def _server_database(db: None) -> None:
    if connection.vendor == "sqlite":
        # The test database is shared-cache in-memory SQLite, whose table locks fail at once
        # instead of waiting; file SQLite serialises writers with IMMEDIATE transactions.
        pytest.skip("needs a server database: the PostgreSQL leg of CI runs it")


@pytest.fixture
def slow_counting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hold every request inside its transaction, after the lock, while it counts."""
    original = gate._check_counters

    def slowly(ctx: Any) -> None:
        time.sleep(SLOW_SECONDS)
        original(ctx)

    monkeypatch.setattr(gate, "_check_counters", slowly)


def race(requests: list[ContactRequest]) -> list[Decision]:
    """Ask the gate with every request at once, one thread and connection each."""
    barrier = threading.Barrier(len(requests))
    decisions: list[Decision | None] = [None] * len(requests)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            barrier.wait()
            decisions[n] = decide(requests[n])
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert all(d is not None for d in decisions)
    return [d for d in decisions if d is not None]


def one_pass(decisions: list[Decision], code: str) -> None:
    allowed = [d for d in decisions if d.allowed]
    assert len(allowed) == 1, [d.codes for d in decisions]
    for refused in (d for d in decisions if not d.allowed):
        assert code in refused.codes
    # Every answer was logged, the refusals too, and only one grant holds the slot.
    ids = [d.record.pk for d in decisions if d.record is not None]
    assert len(ids) == len(decisions)
    assert ContactDecision.objects.filter(pk__in=ids, allowed=True).count() == 1


def requests_for(world, case: Case, at: datetime, n: int, **extra: Any) -> list[ContactRequest]:
    people = [world.people["ada"], world.people["tom"]]
    channels = ["call", "robot"]
    return [
        ContactRequest(
            actor=people[i % 2],
            case=case,
            channel=channels[i % 2],
            contact_point=extra.get("point") or phone_of(case),
            at=at,
            via="dialer",
        )
        for i in range(n)
    ]


def reported(result: object) -> None:
    assert isinstance(result, ContactAttempt), getattr(result, "refusals", result)


def test_two_collectors_asking_for_the_third_conversation_get_one_pass(world, slow_counting):
    ada, case = world.people["ada"], world.cases["ada_case"]
    reported(call(ada, case, bj(2026, 11, 23, 9, 0), "debtor"))
    reported(call(ada, case, bj(2026, 11, 23, 9, 30), "debtor"))
    started = time.monotonic()
    decisions = race(requests_for(world, case, bj(2026, 11, 23, 10, 0), 2))
    one_pass(decisions, "debtor_daily_cap")
    # They waited for each other on the debtor's row: one after the other, not side by side.
    assert time.monotonic() - started >= 2 * SLOW_SECONDS


def test_four_dialers_racing_for_the_last_slot_repeatedly(world, slow_counting):
    ada, case = world.people["ada"], world.cases["ada_case"]
    for day in (23, 24):
        for hour in (9, 10):
            reported(call(ada, case, bj(2026, 11, day, hour, 0), "debtor"))
        one_pass(race(requests_for(world, case, bj(2026, 11, day, 11, 0), 4)), "debtor_daily_cap")
    talked = ContactAttempt.objects.filter(case_id=case.pk, debtor_conversation=True).count()
    assert talked == 4


def test_the_last_unanswered_dial_of_a_number(world, slow_counting):
    ada, case = world.people["ada"], world.cases["ada_case"]
    for minute in range(5):
        reported(call(ada, case, bj(2026, 11, 23, 9, minute * 5), "no_answer"))
    decisions = race(requests_for(world, case, bj(2026, 11, 23, 10, 0), 3))
    allowed = [d for d in decisions if d.allowed]
    assert len(allowed) == 1, [d.codes for d in decisions]
    for refused in (d for d in decisions if not d.allowed):
        assert "number_unanswered_cap" in refused.codes


def us_federal(case: Case) -> Case:
    case.contract.compliance_profile = "us-federal"
    case.contract.save()
    Debtor.objects.filter(pk=case.debtor_id).update(time_zone="America/New_York")
    case.refresh_from_db()
    return case


def test_the_seventh_call_of_the_week_under_us_federal(world, slow_counting):
    ada, case = world.people["ada"], us_federal(world.cases["ada_case"])
    monday = datetime(2026, 11, 23, 10, 0, tzinfo=NEW_YORK)
    for day in range(6):
        reported(call(ada, case, monday + timedelta(days=day), "no_answer"))
    decisions = race(requests_for(world, case, monday + timedelta(days=6), 2))
    allowed = [d for d in decisions if d.allowed]
    assert len(allowed) == 1, [d.codes for d in decisions]
    for refused in (d for d in decisions if not d.allowed):
        assert "calls_7d_cap" in refused.codes


def test_one_conversation_with_a_third_party_under_us_federal(world, slow_counting):
    case = us_federal(world.cases["ada_case"])
    neighbour = add_third_party(case)
    at = datetime(2026, 11, 23, 10, 0, tzinfo=NEW_YORK)
    one_pass(race(requests_for(world, case, at, 2, point=neighbour)), "third_party_cap")


def test_without_the_lock_both_would_pass(world, monkeypatch):
    """The control: without the lock, two requests counting at the same moment both pass, so
    the lock is what makes the other tests right. Both wait for each other inside their
    transactions before counting (a barrier, not a sleep: it cannot depend on timing)."""
    ada, case = world.people["ada"], world.cases["ada_case"]
    reported(call(ada, case, bj(2026, 11, 23, 9, 0), "debtor"))
    reported(call(ada, case, bj(2026, 11, 23, 9, 30), "debtor"))
    monkeypatch.setattr(gate, "_lock_clause", lambda vendor: "")
    together = threading.Barrier(2, timeout=30)
    original = gate._check_counters

    def in_step(ctx: Any) -> None:
        together.wait()
        original(ctx)

    monkeypatch.setattr(gate, "_check_counters", in_step)
    decisions = race(requests_for(world, case, bj(2026, 11, 23, 10, 0), 2))
    assert [d.allowed for d in decisions] == [True, True]

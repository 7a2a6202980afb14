"""How many statements a decision costs, and that reading the counters with the case (on
PostgreSQL, in the same round trip, for a guessed zone) never changes an answer."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from recoup.cases.models import Case, ContactPoint, Debtor
from recoup.contact import gate
from recoup.contact.models import ContactAttempt
from recoup.contact.tests.helpers import ask, bj, call, phone_of

pytestmark = pytest.mark.django_db

MONDAY = (2026, 11, 23)


def statements(actor, case, at, **extra) -> tuple[list[str], gate.Decision]:
    extra.setdefault("point", phone_of(case))
    with CaptureQueriesContext(connection) as captured:
        decision = ask(actor, case, at, **extra)
    return [q["sql"] for q in captured.captured_queries], decision


def test_a_call_decision_is_a_read_and_an_insert(world, monkeypatch):
    ada, case = world.people["ada"], world.cases["ada_case"]
    ask(ada, case, bj(*MONDAY, 9, 0))  # the contract's zone is now known to the process
    pipelines: list[list[str]] = []
    real = gate.fetch_prepared

    def spy(statements):
        pipelines.append([sql for sql, _ in statements])
        return real(statements)

    monkeypatch.setattr(gate, "fetch_prepared", spy)
    sqls, decision = statements(ada, Case.objects.get(pk=case.pk), bj(*MONDAY, 10, 0))
    assert decision.allowed, decision.refusals
    work = [s for s in sqls if not s.startswith(("BEGIN", "SAVEPOINT", "RELEASE"))]
    assert len(work) == 3, work  # the read, the counters, the INSERT
    assert "SELECT 'a'" in work[1]
    assert work[-1].startswith("INSERT INTO")
    if connection.vendor == "postgresql":
        # the case and the day's counters in one pipeline: one round trip
        assert len(pipelines) == 1
        assert len(pipelines[0]) == 2
        assert "SELECT 'a'" in pipelines[0][1]
    else:
        assert pipelines == []


def test_a_wrong_zone_guess_is_counted_again_in_the_debtors_zone(world, monkeypatch):
    """The process guessed Beijing (the contract's last zone); the debtor lives in New York,
    whose day has other bounds: the counters must be those of New York's day."""
    ada, case = world.people["ada"], world.cases["ada_case"]
    ask(ada, case, bj(*MONDAY, 9, 0))
    Debtor.objects.filter(pk=case.debtor_id).update(time_zone="America/New_York")
    # New York, Monday 09:00–11:00 = Beijing Monday 22:00 – Tuesday 00:00 (the CN window is
    # judged in the debtor's zone: 08:00–22:00 there).
    for hour in (21, 22, 23):
        attempt = call(ada, case, bj(*MONDAY, hour, 30), "debtor")
        assert isinstance(attempt, ContactAttempt), attempt
    # another debtor of the contract was counted in Beijing last, and the debtor is not
    # loaded: the guess is Beijing
    monkeypatch.setitem(gate._LAST_ZONE, case.contract_id, "Asia/Shanghai")
    fresh = Case.objects.get(pk=case.pk)
    sqls, fourth = statements(ada, fresh, bj(2026, 11, 24, 0, 30))
    assert fourth.codes == ["debtor_daily_cap"]
    assert fourth.zone == "America/New_York"
    if connection.vendor == "postgresql":
        assert sum(1 for s in sqls if "SELECT 'a'" in s) == 2  # guessed, then counted again


def test_a_number_in_its_own_zone_is_counted_in_that_zone(world):
    ada, case = world.people["ada"], world.cases["ada_case"]
    point = phone_of(case)
    ContactPoint.objects.filter(pk=point.pk).update(time_zone="Asia/Tokyo")
    point = ContactPoint.objects.get(pk=point.pk)  # loaded: the guess is Tokyo
    for hour in (8, 9, 10):  # Tokyo 09:00–11:00
        attempt = call(ada, case, bj(*MONDAY, hour, 0), "debtor", point=point)
        assert isinstance(attempt, ContactAttempt), attempt
    sqls, fourth = statements(ada, case, bj(*MONDAY, 11, 0), point=point)
    assert fourth.codes == ["debtor_daily_cap"]
    assert fourth.zone == "Asia/Tokyo"
    if connection.vendor == "postgresql":
        assert sum(1 for s in sqls if "SELECT 'a'" in s) == 1  # the guess was right

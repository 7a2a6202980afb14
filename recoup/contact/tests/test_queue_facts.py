"""What the queue knows about each case besides its own columns (read in one statement with
the cases): best contact hours, the debtor's daily cap with open grants, intensive
follow-up's contacts this week. Each would silently mis-rank or mis-block a case if lost."""

from __future__ import annotations

import pytest

from recoup.cases.models import Case
from recoup.contact.models import ContactAttempt
from recoup.contact.queue import my_queue
from recoup.contact.tests.helpers import ask, bj, call

pytestmark = pytest.mark.django_db


def row_of(queue, number: str):
    for row in [*queue.rows, *queue.blocked]:
        if row.case.client_case_number == number:
            return row
    raise AssertionError(f"{number} not in the queue")


def test_the_hour_the_debtor_answered_before_scores(world):
    ada, case = world.people["ada"], world.cases["ada_case"]
    attempt = call(ada, case, bj(2026, 11, 20, 9, 15), "debtor")
    assert isinstance(attempt, ContactAttempt)
    at_nine = row_of(my_queue(ada, at=bj(2026, 11, 23, 9, 40)), "A0001")
    at_ten = row_of(my_queue(ada, at=bj(2026, 11, 23, 10, 40)), "A0001")
    assert at_nine.has("best_hour")
    assert not at_ten.has("best_hour")
    assert at_nine.score == at_ten.score + 100


def test_an_unanswered_call_is_no_best_hour(world):
    ada, case = world.people["ada"], world.cases["ada_case"]
    call(ada, case, bj(2026, 11, 20, 9, 15), "no_answer")
    assert not row_of(my_queue(ada, at=bj(2026, 11, 23, 9, 40)), "A0001").has("best_hour")


def test_a_debtor_at_the_daily_cap_is_listed_apart(world):
    ada, tom, case = world.people["ada"], world.people["tom"], world.cases["ada_case"]
    call(tom, case, bj(2026, 11, 23, 9, 0), "debtor")
    call(ada, case, bj(2026, 11, 23, 9, 20), "debtor")
    before = row_of(my_queue(ada, at=bj(2026, 11, 23, 9, 30)), "A0001")
    assert before.contactable
    assert ask(ada, case, bj(2026, 11, 23, 9, 40)).allowed  # an open grant holds the 3rd slot
    after = my_queue(ada, at=bj(2026, 11, 23, 9, 41))
    assert [r.case.client_case_number for r in after.blocked] == ["A0001"]
    assert any("3" in reason for reason in after.blocked[0].blocked)
    # the next day the count starts again
    assert row_of(my_queue(ada, at=bj(2026, 11, 24, 9, 0)), "A0001").contactable


def test_intensive_follow_up_counts_this_weeks_contacts(world):
    ada, case = world.people["ada"], world.cases["ada_case"]
    Case.objects.filter(pk=case.pk).update(intensive_follow_up=True, broken_promises=2)
    call(ada, case, bj(2026, 11, 16, 9, 0), "no_answer")  # last week: not counted
    call(ada, case, bj(2026, 11, 23, 9, 0), "no_answer")  # Monday: this week
    row = row_of(my_queue(ada, at=bj(2026, 11, 24, 10, 0)), "A0001")
    intensive = next(r for r in row.reasons if r.code == "intensive")
    assert "1/3" in intensive.label
    assert intensive.points == 500 + 150 * 2

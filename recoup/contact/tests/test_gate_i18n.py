"""The gate's reasons in English: collectors and dialers get a precise reason in their language."""

from __future__ import annotations

import pytest

from recoup.contact.tests.helpers import ask, bj

pytestmark = pytest.mark.django_db


def test_a_refusal_reason_in_english_names_the_local_time_and_the_window(world):
    ada, case = world.people["ada"], world.cases["ada_case"]
    decision = ask(ada, case, bj(2026, 11, 23, 22, 30))
    assert not decision.allowed
    assert decision.codes == ["outside_window"]
    refusal = decision.refusals[0]
    chinese, english = refusal.reason("zh-hans"), refusal.reason("en")
    assert english != chinese
    assert english == (
        "Debtor's local time 22:30:00 (Asia/Shanghai) is outside the contact window 08:00–22:00."
    )
    assert "08:00" in english
    assert "22:00" in english
    assert "可联系时段" in chinese
    # The rendered reason is English through and through: no Chinese punctuation left.
    assert not any("\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" for ch in english)

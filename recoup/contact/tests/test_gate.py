"""The compliance gate under the CN default profile: windows, caps, holds, third parties."""

from __future__ import annotations

from datetime import timedelta

import pytest

from recoup.cases.models import Hold
from recoup.cases.services import case_put_on_hold
from recoup.compliance.services import consent_record, profile_save
from recoup.contact.gate import Decision
from recoup.contact.models import ContactAttempt, ContactDecision
from recoup.contact.tests.helpers import add_third_party, ask, bj, call, phone_of

pytestmark = pytest.mark.django_db

MONDAY = (2026, 11, 23)


def test_an_allowed_call_is_logged_with_the_profile_version(world):
    ada, case = world.people["ada"], world.cases["ada_case"]
    decision = ask(ada, case, bj(*MONDAY, 10, 0))
    assert decision.allowed, decision.refusals
    record = ContactDecision.objects.get(pk=decision.record.pk)
    assert record.allowed
    assert record.profile_versions == {"cn-default": 1}
    assert record.expires_at > record.at


@pytest.mark.parametrize(
    ("moment", "allowed"),
    [
        ((21, 59, 59), True),
        ((22, 0, 0), False),
        ((23, 30, 0), False),
        ((0, 0, 0), False),
        ((7, 59, 59), False),
        ((8, 0, 0), True),
    ],
)
def test_the_night_window_is_judged_to_the_second(world, moment, allowed):
    decision = ask(world.people["ada"], world.cases["ada_case"], bj(*MONDAY, *moment))
    assert decision.allowed is allowed
    if not allowed:
        assert decision.codes == ["outside_window"]
        assert "22:00" in decision.refusals[0].reason("zh-hans")


def test_refused_decisions_are_logged_too(world):
    ask(world.people["ada"], world.cases["ada_case"], bj(*MONDAY, 22, 30))
    refused = ContactDecision.objects.get(allowed=False)
    assert refused.rules[0]["code"] == "outside_window"
    assert refused.expires_at is None


def test_a_consent_record_opens_the_night_for_that_debtor_and_channel_only(world):
    ada, case = world.people["ada"], world.cases["ada_case"]
    consent_record(
        actor=ada,
        debtor=case.debtor,
        channel="call",
        starts_at=bj(*MONDAY, 22, 0),
        ends_at=bj(*MONDAY, 23, 0),
        evidence="call-123 录音",
    )
    allowed = ask(ada, case, bj(*MONDAY, 22, 30))
    assert allowed.allowed
    assert [n.code for n in allowed.notices] == ["consent_window"]
    assert not ask(ada, case, bj(*MONDAY, 23, 30)).allowed
    assert not ask(ada, case, bj(*MONDAY, 22, 30), channel="sms").allowed


def test_three_debtor_conversations_a_day_then_refused(world):
    ada, case = world.people["ada"], world.cases["ada_case"]
    for hour in (9, 10, 11):
        attempt = call(ada, case, bj(*MONDAY, hour, 0), "debtor")
        assert isinstance(attempt, ContactAttempt)
    fourth = ask(ada, case, bj(*MONDAY, 12, 0))
    assert fourth.codes == ["debtor_daily_cap"]
    # The next day starts a new count.
    assert ask(ada, case, bj(2026, 11, 24, 9, 0)).allowed


def test_the_conversation_cap_is_per_debtor_across_collectors_and_robots(world):
    ada, tom, case = world.people["ada"], world.people["tom"], world.cases["ada_case"]
    call(ada, case, bj(*MONDAY, 9, 0), "debtor")
    call(tom, case, bj(*MONDAY, 9, 30), "debtor", channel="robot")
    call(ada, case, bj(*MONDAY, 10, 0), "debtor")
    assert ask(tom, case, bj(*MONDAY, 11, 0), channel="robot").codes == ["debtor_daily_cap"]


def test_an_open_grant_holds_the_last_slot(world):
    ada, tom, case = world.people["ada"], world.people["tom"], world.cases["ada_case"]
    call(ada, case, bj(*MONDAY, 9, 0), "debtor")
    call(ada, case, bj(*MONDAY, 9, 30), "debtor")
    first = ask(ada, case, bj(*MONDAY, 10, 0))
    assert first.allowed
    second = ask(tom, case, bj(*MONDAY, 10, 0))
    assert second.codes == ["debtor_daily_cap"]
    # Expired but unreported, the grant still holds the slot while its call may last...
    assert ask(tom, case, bj(*MONDAY, 10, 30)).codes == ["debtor_daily_cap"]
    # ...and frees it once no call could still be under way (a crashed dialer).
    later = bj(*MONDAY, 10, 0) + timedelta(minutes=3 + 60, seconds=1)
    assert ask(tom, case, later).allowed


def test_six_unanswered_dials_per_number_then_refused(world):
    ada, case = world.people["ada"], world.cases["ada_case"]
    for minute in range(6):
        call(ada, case, bj(*MONDAY, 9, minute * 5), "no_answer")
    assert ask(ada, case, bj(*MONDAY, 10, 0)).codes == ["number_unanswered_cap"]


def test_a_hold_blocks_every_channel(world):
    sue, ada, case = world.people["sue"], world.people["ada"], world.cases["ada_case"]
    case_put_on_hold(case=case, reason=Hold.Reason.COMPLAINT, actor=sue)
    for channel in ("call", "sms"):
        decision = ask(ada, case, bj(*MONDAY, 10, 0), channel=channel)
        assert "hold" in decision.codes
    assert "hold" in ask(ada, case, bj(*MONDAY, 10, 0), channel="letter", point=None).codes


def test_third_parties_only_after_three_failures_and_never_after_refusal(world):
    ada, case = world.people["ada"], world.cases["ada_case"]
    relative = add_third_party(case)
    assert ask(ada, case, bj(*MONDAY, 9, 0), point=relative).codes == ["third_party_locked"]
    for minute in (0, 10, 20):
        call(ada, case, bj(*MONDAY, 9, minute), "no_answer")
    unlocked = ask(ada, case, bj(*MONDAY, 10, 0), point=relative)
    assert unlocked.allowed
    assert [n.code for n in unlocked.notices] == ["third_party_script"]
    call(ada, case, bj(*MONDAY, 10, 5), "third_party", point=relative, third_party_refused=True)
    assert ask(ada, case, bj(*MONDAY, 11, 0), point=relative).codes == ["third_party_refused"]


def test_an_invalid_own_number_unlocks_third_parties(world):
    ada, case = world.people["ada"], world.cases["ada_case"]
    relative = add_third_party(case)
    call(ada, case, bj(*MONDAY, 9, 0), "invalid")
    assert ask(ada, case, bj(*MONDAY, 9, 30), point=relative).allowed
    assert ask(ada, case, bj(*MONDAY, 9, 30)).codes == ["number_invalid"]


def test_visits_need_two_trained_collectors_and_the_window(world):
    fay, ben, case = world.people["fay"], world.people["ben"], world.cases["fay_case"]
    alone = ask(
        fay, case, bj(*MONDAY, 10, 0), channel="visit", until=bj(*MONDAY, 11, 0), participants=[fay]
    )
    assert alone.codes == ["visit_collectors"]
    pair = ask(
        fay,
        case,
        bj(*MONDAY, 10, 0),
        channel="visit",
        until=bj(*MONDAY, 11, 0),
        participants=[fay, ben],
    )
    assert pair.allowed, pair.refusals
    late = ask(
        fay,
        case,
        bj(*MONDAY, 21, 30),
        channel="visit",
        until=bj(*MONDAY, 22, 30),
        participants=[fay, ben],
    )
    assert late.codes == ["outside_window"]


def test_someone_else_s_case_is_refused(world):
    ben, case = world.people["ben"], world.cases["ada_case"]
    assert ask(ben, case, bj(*MONDAY, 10, 0)).codes == ["not_permitted"]


def test_a_contract_override_can_only_tighten(world):
    ada, case = world.people["ada"], world.cases["ada_case"]
    officer = world.people["hal"]
    officer.role_assignments.create(role_id=_role_id("compliance_officer"))
    officer = type(officer).objects.get(pk=officer.pk)
    profile_save(
        actor=officer,
        organisation=world.org,
        code="bank-a-contract",
        params={"window_end": "23:00", "max_conversations_per_debtor_per_day": 1},
        note="甲银行合同第 7 条",
        contract=case.contract,
    )
    # 22:30 stays refused (the regulator's 22:00 wins); the cap falls to 1.
    assert ask(ada, case, bj(*MONDAY, 22, 30)).codes == ["outside_window"]
    call(ada, case, bj(*MONDAY, 9, 0), "debtor")
    decision: Decision = ask(ada, case, bj(*MONDAY, 10, 0))
    assert decision.codes == ["debtor_daily_cap"]
    assert decision.profile_versions == {"bank-a-contract": 1, "cn-default": 1}


def test_a_missing_profile_refuses_everything(world):
    case = world.cases["ada_case"]
    case.contract.compliance_profile = "cn-default,does-not-exist"
    case.contract.save()
    assert "profile_missing" in ask(world.people["ada"], case, bj(*MONDAY, 10, 0)).codes


def _role_id(code: str) -> int:
    from recoup.accounts.models import Role

    return Role.objects.get(code=code).pk


def test_phone_of_helper_finds_the_debtor_number(world):
    assert phone_of(world.cases["ada_case"]).kind == "phone"

"""The compliance gate under the US profiles (COMPLIANCE.md §B test ideas), and time travel:
the debtor's local midnight and daylight-saving changes in US zones.

The contract names the profile stack (``us-federal`` or ``us-federal,us-ma``); the debtor's
and the number's time zones are data on the rows.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from recoup.cases.models import Case, ContactPoint, Debtor, Hold
from recoup.cases.services import case_put_on_hold, case_release_hold, contact_point_add
from recoup.compliance.services import consent_record
from recoup.contact.gate import ContactRequest, held_after, precheck
from recoup.contact.models import ContactAttempt, ContactDecision
from recoup.contact.tests.helpers import add_third_party, ask, call, phone_of

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
CHICAGO = ZoneInfo("America/Chicago")


def et(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)  # type: ignore[misc]


def pt(*args: int) -> datetime:
    return datetime(*args, tzinfo=LOS_ANGELES)  # type: ignore[misc]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def us_case(world, profile: str = "us-federal", zone: str = "America/New_York") -> Case:
    case = world.cases["ada_case"]
    case.contract.compliance_profile = profile
    case.contract.save()
    Debtor.objects.filter(pk=case.debtor_id).update(time_zone=zone)
    case.refresh_from_db()
    return case


def attempted(result: object) -> ContactAttempt:
    assert isinstance(result, ContactAttempt), getattr(result, "refusals", result)
    return result


# --- US-1: 7 calls in 7 days; the cool-down after a conversation ---------------------------


def test_seven_calls_in_seven_days_then_the_eighth_on_day_seven_is_refused(world):
    ada, case = world.people["ada"], us_case(world)
    for day in range(2, 9):  # Monday 2 … Sunday 8 November 2026
        attempted(call(ada, case, et(2026, 11, day, 10, 0), "no_answer"))
    eighth = ask(ada, case, et(2026, 11, 8, 15, 0))
    assert eighth.codes == ["calls_7d_cap"]
    assert "7" in eighth.refusals[0].reason("zh-hans")
    assert "7" in eighth.refusals[0].reason("en")
    # Day 8: the first day's call has left the rolling window.
    assert ask(ada, case, et(2026, 11, 9, 8, 0)).allowed


def test_seven_calls_in_one_day_also_fill_the_week(world):
    ada, case = world.people["ada"], us_case(world)
    for hour in range(9, 16):
        attempted(call(ada, case, et(2026, 11, 2, hour, 0), "busy"))
    assert ask(ada, case, et(2026, 11, 2, 16, 0)).codes == ["calls_7d_cap"]
    assert ask(ada, case, et(2026, 11, 8, 20, 59)).codes == ["calls_7d_cap"]
    assert ask(ada, case, et(2026, 11, 9, 8, 0)).allowed


def test_every_number_of_the_debtor_counts_toward_the_same_seven(world):
    ada, case = world.people["ada"], us_case(world)
    work = contact_point_add(
        debtor=case.debtor, kind="phone", value="13812349999", label="工作", actor=None
    )
    for day in range(2, 9):
        point = work if day % 2 else phone_of(case)
        attempted(call(ada, case, et(2026, 11, day, 10, 0), "no_answer", point=point))
    assert ask(ada, case, et(2026, 11, 8, 11, 0), point=work).codes == ["calls_7d_cap"]


def test_a_conversation_on_monday_blocks_calls_until_the_next_monday(world):
    ada, tom, case = world.people["ada"], world.people["tom"], us_case(world)
    attempted(call(ada, case, et(2026, 11, 2, 10, 0), "debtor"))  # Monday
    same_day = ask(tom, case, et(2026, 11, 2, 15, 0), channel="robot")
    assert same_day.codes == ["conversation_cooldown"]
    assert "2026-11-09" in same_day.refusals[0].reason("zh-hans")
    assert ask(ada, case, et(2026, 11, 8, 20, 59)).codes == ["conversation_cooldown"]  # Sunday
    assert ask(ada, case, et(2026, 11, 9, 8, 0)).allowed  # next Monday


def test_the_cool_down_does_not_stop_a_letter_or_an_email(world):
    ada, case = world.people["ada"], us_case(world)
    attempted(call(ada, case, et(2026, 11, 2, 10, 0), "debtor"))
    email = contact_point_add(debtor=case.debtor, kind="email", value="zs@example.com", actor=None)
    assert ask(ada, case, et(2026, 11, 3, 10, 0), channel="email", point=email).allowed
    address = ContactPoint.objects.get(debtor_id=case.debtor_id, kind="address")
    assert ask(ada, case, et(2026, 11, 3, 10, 0), channel="letter", point=address).allowed


def test_a_call_still_unreported_may_be_a_conversation_so_a_second_waits(world):
    ada, tom, case = world.people["ada"], world.people["tom"], us_case(world)
    first = ask(ada, case, et(2026, 11, 2, 10, 0))
    assert first.allowed
    second = ask(tom, case, et(2026, 11, 2, 10, 0, 30), channel="robot")
    assert second.codes == ["call_open"]
    assert second.refusals[0].reason("zh-hans")
    # Expired but unreported, the first call may still be under way: the second still waits.
    assert ask(tom, case, first.expires_at + timedelta(minutes=30), channel="robot").codes
    # Once no call of the first grant could still be under way, a call may go out again.
    hold = first.expires_at - held_after(first.expires_at)  # RECOUP_GATE_CALL_HOLD_MINUTES
    later = first.expires_at + hold + timedelta(seconds=1)
    assert ask(tom, case, later, channel="robot").allowed


# --- US-2: 08:00–21:00 in every candidate time zone -----------------------------------------


def test_eastern_number_pacific_debtor_0830_eastern_is_0530_pacific_refused(world):
    ada, case = world.people["ada"], us_case(world, zone="America/Los_Angeles")
    phone = phone_of(case)
    ContactPoint.objects.filter(pk=phone.pk).update(time_zone="America/New_York")
    early = ask(ada, case, et(2026, 11, 3, 8, 30))
    assert early.codes == ["outside_window"]
    assert "America/Los_Angeles" in early.refusals[0].reason("zh-hans")
    assert "05:30:00" in early.refusals[0].reason("zh-hans")
    assert ask(ada, case, pt(2026, 11, 3, 7, 59, 59)).codes == ["outside_window"]
    assert ask(ada, case, pt(2026, 11, 3, 8, 0)).allowed  # 11:00 Eastern
    last = ContactRequest(actor=ada, case=case, channel="call", contact_point=phone)
    assert precheck(replace(last, at=et(2026, 11, 3, 20, 59, 59))).allowed  # 17:59 Pacific
    late = ask(ada, case, et(2026, 11, 3, 21, 0))  # 18:00 Pacific, but 21:00 Eastern
    assert late.codes == ["outside_window"]
    assert "America/New_York" in late.refusals[0].reason("zh-hans")


def test_the_profile_zone_is_a_candidate_too(world):
    # A Chicago debtor with no zone on the number: the profile's Eastern zone must pass as well.
    ada, case = world.people["ada"], us_case(world, zone="America/Chicago")
    assert ask(ada, case, datetime(2026, 11, 3, 20, 30, tzinfo=CHICAGO)).codes == [
        "outside_window"
    ]  # 21:30 Eastern
    assert ask(ada, case, datetime(2026, 11, 3, 19, 59, tzinfo=CHICAGO)).allowed


def test_a_us_debtor_s_consent_does_not_open_the_night(world):
    # us-federal sets consent_overrides_window = false; the stack takes the stricter "and".
    ada, case = world.people["ada"], us_case(world)
    consent_record(
        actor=ada,
        debtor=case.debtor,
        channel="",
        starts_at=et(2026, 11, 3, 21, 0),
        ends_at=et(2026, 11, 3, 23, 0),
        evidence="call-77 录音",
    )
    assert ask(ada, case, et(2026, 11, 3, 21, 30)).codes == ["outside_window"]


def test_sms_and_email_keep_the_window_too(world):
    ada, case = world.people["ada"], us_case(world)
    email = contact_point_add(debtor=case.debtor, kind="email", value="zs@example.com", actor=None)
    assert ask(ada, case, et(2026, 11, 3, 7, 0), channel="sms").codes == ["outside_window"]
    assert ask(ada, case, et(2026, 11, 3, 22, 0), channel="email", point=email).codes == [
        "outside_window"
    ]


# --- US-15: the Massachusetts overlay ------------------------------------------------------


def test_massachusetts_third_call_in_seven_days_is_refused(world):
    ada, case = world.people["ada"], us_case(world, profile="us-federal,us-ma")
    attempted(call(ada, case, et(2026, 11, 2, 10, 0), "no_answer"))
    attempted(call(ada, case, et(2026, 11, 5, 10, 0), "busy"))
    third = ask(ada, case, et(2026, 11, 8, 10, 0))
    assert third.codes == ["calls_7d_cap"]
    assert "2" in third.refusals[0].reason("zh-hans")
    assert third.profile_versions == {"us-federal": 1, "us-ma": 1}
    assert ask(ada, case, et(2026, 11, 9, 10, 0)).allowed  # the 2 November call rolled off


def test_the_federal_profile_alone_allows_that_third_call(world):
    ada, case = world.people["ada"], us_case(world)
    attempted(call(ada, case, et(2026, 11, 2, 10, 0), "no_answer"))
    attempted(call(ada, case, et(2026, 11, 5, 10, 0), "busy"))
    assert ask(ada, case, et(2026, 11, 8, 10, 0)).allowed


# --- US-4: third parties -------------------------------------------------------------------


def test_one_conversation_per_third_party(world):
    ada, case = world.people["ada"], us_case(world)
    neighbour = add_third_party(case, role="relative")
    # No "unreachable" unlock in the US profile: a location call may be the first call.
    first = attempted(call(ada, case, et(2026, 11, 2, 10, 0), "third_party", point=neighbour))
    assert [n["code"] for n in first.decision.notices] == ["third_party_script"]
    again = ask(ada, case, et(2026, 11, 20, 10, 0), point=neighbour)
    assert again.codes == ["third_party_cap"]
    other = add_third_party(case, phone="13600008888")
    assert ask(ada, case, et(2026, 11, 20, 10, 0), point=other).allowed


def test_an_unanswered_third_party_call_is_not_their_one_conversation(world):
    ada, case = world.people["ada"], us_case(world)
    neighbour = add_third_party(case)
    attempted(call(ada, case, et(2026, 11, 2, 10, 0), "no_answer", point=neighbour))
    assert ask(ada, case, et(2026, 11, 3, 10, 0), point=neighbour).allowed


def test_two_dials_to_one_third_party_at_once_get_one_grant(world):
    ada, tom, case = world.people["ada"], world.people["tom"], us_case(world)
    neighbour = add_third_party(case)
    assert ask(ada, case, et(2026, 11, 2, 10, 0), point=neighbour).allowed
    second = ask(tom, case, et(2026, 11, 2, 10, 0), point=neighbour)
    assert set(second.codes) == {"third_party_cap", "call_open"}


def test_a_neighbour_call_waits_while_a_call_to_the_debtor_is_open(world):
    # The debtor may pick up the neighbour's phone: that would be a conversation inside the
    # cool-down of the call still under way (or the other way round).
    ada, tom, case = world.people["ada"], world.people["tom"], us_case(world)
    neighbour = add_third_party(case)
    assert ask(ada, case, et(2026, 11, 2, 10, 0)).allowed
    assert ask(tom, case, et(2026, 11, 2, 10, 0, 1), point=neighbour).codes == ["call_open"]


# --- holds: every reason blocks everything --------------------------------------------------


@pytest.mark.parametrize("reason", Hold.Reason.values)
@pytest.mark.parametrize("profile", ["us-federal", "us-federal,us-ma", "cn-default"])
def test_every_hold_reason_blocks_every_channel(world, reason, profile):
    sue, ada, case = world.people["sue"], world.people["ada"], us_case(world, profile=profile)
    email = contact_point_add(debtor=case.debtor, kind="email", value="zs@example.com", actor=None)
    relative = add_third_party(case)
    address = ContactPoint.objects.get(debtor_id=case.debtor_id, kind="address")
    hold = case_put_on_hold(case=case, reason=reason, actor=sue)
    at = et(2026, 11, 3, 10, 0)
    before = ContactDecision.objects.filter(allowed=True).count()
    asks = [
        {"channel": "call"},
        {"channel": "robot"},
        {"channel": "sms"},
        {"channel": "call", "point": relative},
        {"channel": "email", "point": email},
        {"channel": "letter", "point": address},
        {
            "channel": "visit",
            "point": address,
            "until": at + timedelta(hours=1),
            "participants": [world.people["fay"], world.people["ben"]],
        },
    ]
    for extra in asks:
        decision = ask(ada, case, at, **extra)
        assert not decision.allowed, extra
        assert "hold" in decision.codes, (extra, decision.codes)
        text = next(r for r in decision.refusals if r.code == "hold").reason("zh-hans")
        assert str(Hold.Reason(reason).label) in text
    assert ContactDecision.objects.filter(allowed=True).count() == before
    case_release_hold(hold=hold, actor=sue)
    assert ask(ada, case, at).allowed


def test_an_expired_hold_no_longer_blocks(world):
    sue, ada, case = world.people["sue"], world.people["ada"], us_case(world)
    with time_machine.travel(et(2026, 11, 2, 9, 0), tick=False):
        case_put_on_hold(
            case=case, reason=Hold.Reason.DISPUTE, actor=sue, expires_at=et(2026, 11, 3, 12, 0)
        )
    assert ask(ada, case, et(2026, 11, 3, 11, 59, 59)).codes == ["hold"]
    assert ask(ada, case, et(2026, 11, 3, 12, 0)).allowed


def test_precheck_agrees_with_decide_and_logs_nothing(world):
    ada, case = world.people["ada"], us_case(world)
    attempted(call(ada, case, et(2026, 11, 2, 10, 0), "debtor"))
    before = ContactDecision.objects.count()
    checked = precheck(
        ContactRequest(
            actor=ada,
            case=case,
            channel="call",
            contact_point=phone_of(case),
            at=et(2026, 11, 3, 10, 0),
        )
    )
    assert checked.codes == ["conversation_cooldown"]
    assert ContactDecision.objects.count() == before


# --- daylight saving: the window and the days follow the debtor's wall clock ---------------


def test_the_window_follows_eastern_daylight_saving(world):
    ada, case = world.people["ada"], us_case(world)
    # 12:30 UTC is 07:30 EST on Saturday 7 March and 08:30 EDT on Monday 9 March 2026.
    assert ask(ada, case, utc(2026, 3, 7, 12, 30)).codes == ["outside_window"]
    assert ask(ada, case, utc(2026, 3, 9, 12, 30)).allowed
    # And back: 08:30 EDT on Saturday 31 October, 07:30 EST on Monday 2 November.
    assert ask(ada, case, utc(2026, 10, 31, 12, 30)).allowed
    assert ask(ada, case, utc(2026, 11, 2, 12, 30)).codes == ["outside_window"]


def test_seven_local_days_across_the_end_of_daylight_saving(world):
    # 27 October … 2 November holds a 25-hour Sunday; the week is still seven local days.
    ada, case = world.people["ada"], us_case(world)
    for day in (27, 28, 29, 30, 31):
        attempted(call(ada, case, et(2026, 10, day, 20, 30), "no_answer"))
    attempted(call(ada, case, et(2026, 11, 1, 20, 30), "no_answer"))
    attempted(call(ada, case, et(2026, 11, 2, 8, 0), "no_answer"))
    assert ask(ada, case, et(2026, 11, 2, 20, 59)).codes == ["calls_7d_cap"]
    assert ask(ada, case, et(2026, 11, 3, 8, 0)).allowed  # 27 October has left the week
    # 168 hours after the 27 October call is 19:30 EST on 3 November (the clock went back).
    week_later = et(2026, 10, 27, 20, 30).astimezone(UTC) + timedelta(hours=168)
    assert week_later.astimezone(NEW_YORK).strftime("%m-%d %H:%M %Z") == "11-03 19:30 EST"
    assert ask(ada, case, week_later).allowed


def test_the_cool_down_across_the_start_of_daylight_saving(world):
    # A conversation on Sunday 8 March 2026 (a 23-hour day): no call until Sunday 15 March.
    ada, case = world.people["ada"], us_case(world)
    attempted(call(ada, case, et(2026, 3, 8, 20, 0), "debtor"))
    assert ask(ada, case, et(2026, 3, 14, 20, 59)).codes == ["conversation_cooldown"]
    assert ask(ada, case, et(2026, 3, 15, 8, 0)).allowed


# --- the debtor's local midnight ------------------------------------------------------------


def _night_consent(case: Case, actor, starts_at: datetime, ends_at: datetime) -> None:
    consent_record(
        actor=actor,
        debtor=case.debtor,
        channel="call",
        starts_at=starts_at,
        ends_at=ends_at,
        evidence="call-123 录音：债务人约定夜间回电",
    )


def test_cn_counters_reset_at_the_debtor_s_local_midnight_in_new_york(world):
    # The CN profile, for a debtor living in New York: "per day" is their day, not Beijing's.
    ada, case = world.people["ada"], us_case(world, profile="cn-default")
    _night_consent(case, ada, et(2026, 11, 2, 22, 0), et(2026, 11, 3, 1, 0))
    for minute in (0, 20, 40):
        attempted(call(ada, case, et(2026, 11, 2, 23, minute), "debtor"))
    refused = ask(ada, case, et(2026, 11, 2, 23, 59, 59))
    assert refused.codes == ["debtor_daily_cap"]
    assert refused.zone == "America/New_York"
    new_day = ask(ada, case, et(2026, 11, 3, 0, 0))
    assert new_day.allowed, new_day.refusals
    assert [n.code for n in new_day.notices] == ["consent_window"]


def test_cn_day_of_twenty_five_hours_is_one_day(world):
    # Sunday 1 November 2026 in New York runs 25 hours; its 3 conversations end it.
    ada, case = world.people["ada"], us_case(world, profile="cn-default")
    _night_consent(case, ada, et(2026, 11, 1, 0, 0), et(2026, 11, 2, 1, 0))
    first = utc(2026, 11, 1, 4, 30)  # 00:30 EDT
    attempted(call(ada, case, first, "debtor"))
    attempted(call(ada, case, utc(2026, 11, 1, 5, 30), "debtor"))  # 01:30 EDT
    attempted(call(ada, case, utc(2026, 11, 1, 6, 30), "debtor"))  # 01:30 EST, again
    # 24 hours after the first is still Sunday (23:30 EST): refused.
    assert ask(ada, case, first + timedelta(hours=24)).codes == ["debtor_daily_cap"]
    assert ask(ada, case, utc(2026, 11, 2, 4, 59, 59)).codes == ["debtor_daily_cap"]
    assert ask(ada, case, utc(2026, 11, 2, 5, 0)).allowed  # 00:00 EST Monday


def test_cn_day_of_twenty_three_hours_ends_at_its_own_midnight(world):
    # Sunday 8 March 2026 in New York runs 23 hours.
    ada, case = world.people["ada"], us_case(world, profile="cn-default")
    _night_consent(case, ada, et(2026, 3, 8, 22, 0), et(2026, 3, 9, 1, 0))
    for minute in (0, 20, 40):
        attempted(call(ada, case, et(2026, 3, 8, 23, minute), "debtor"))
    assert ask(ada, case, et(2026, 3, 8, 23, 59, 59)).codes == ["debtor_daily_cap"]
    assert ask(ada, case, et(2026, 3, 9, 0, 0)).allowed

"""Property tests of the compliance gate: no random schedule of attempts passes a cap or window.

Hypothesis draws a schedule (moments over two Beijing days, or two weeks of a Pacific debtor
for the US profiles; collectors, numbers, results, when the call starts, when and whether the
dialer reports) and drives the real gate and ``attempt_record`` through it. Every answer is
compared with a small independent model of the rules kept in plain Python (the oracle), and
the stored rows are checked afterwards against the rules themselves: per
debtor-local day at most 3 debtor conversations, at most 6 unanswered dials per number, no
attempt outside the window; US: at most 7 (MA: 2) calls in any 7 days, none in the cool-down,
08:00–21:00 in both the debtor's and the profile's zone, one conversation per third party.

Each example runs inside a savepoint that is rolled back, so examples never see each other's
rows and the ``world`` fixture is built once per test.

The protocol the guarantee rests on: a dialer starts the call it was granted before the grant
expires (``RECOUP_GATE_GRANT_SECONDS``, cut short at the window's end and the debtor's
midnight). An unreported grant keeps its slot for ``RECOUP_GATE_CALL_HOLD_MINUTES`` more,
while its call may still be under way (``test_a_long_call_keeps_its_slot_until_…``).
"""

from __future__ import annotations

import functools
import heapq
import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from recoup.cases.models import ContactPoint
from recoup.cases.services import contact_point_add
from recoup.compliance.services import consent_record
from recoup.contact.gate import grant_seconds, held_after
from recoup.contact.models import FAILED_TO_REACH, UNANSWERED, ContactAttempt, ContactDecision
from recoup.contact.services import AttemptInput, attempt_record
from recoup.contact.tests.helpers import SHANGHAI, add_third_party, ask, bj, call, phone_of
from recoup.core.exceptions import ValidationError

pytestmark = pytest.mark.django_db

MONDAY = (2026, 11, 23)
CALL_RESULTS = (
    "debtor",
    "third_party",
    "no_answer",
    "busy",
    "off",
    "invalid",
    "wrong_person",
    "refused",
    "hung_up",
    "voicemail",
)
# Results drawn more often than the rest: reaching the caps needs conversations and misses;
# an invalid number ends that number's story, so it is drawn rarely.
RESULTS = st.one_of(
    st.sampled_from(("debtor", "no_answer", "busy", "off", "voicemail", "refused")),
    st.sampled_from(("debtor", "no_answer")),
    st.sampled_from(CALL_RESULTS),
)
DEBT_PARTIES = {"debtor", "guarantor"}
CN_ACTORS = ("ada", "ada", "ada", "tom", "tom", "ben")  # ben may not work ada's case
PROPERTY_SETTINGS = settings(
    # More for a deeper run: RECOUP_PROPERTY_EXAMPLES=1000 pytest -k schedule
    max_examples=int(os.environ.get("RECOUP_PROPERTY_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass(frozen=True)
class Step:
    offset: int  # seconds after the schedule's start
    actor: str
    target: str  # own, own2, relative
    channel: str
    result: str
    report: str  # now, later, never
    delay: int  # seconds until a "later" report (kept inside the grant)
    refuse_further: bool  # a third party says "别再打"
    repeat: int = 1  # the same dial, again and again (how the caps get reached)
    start_delay: int = 0  # seconds from the grant to the call's reported start
    gap: int = 0  # seconds between the repeats


def _moment_cn() -> st.SearchStrategy[int]:
    """Seconds over two Beijing days: mostly the first day's working hours (so the caps are
    reached), with the window's edges and midnight drawn often."""
    edges = [
        h * 3600 + m * 60 + s
        for (h, m, s) in ((7, 59, 59), (8, 0, 0), (21, 59, 59), (22, 0, 0), (23, 59, 59))
    ]
    within_day = st.one_of(
        st.integers(8 * 3600, 22 * 3600 - 1),
        st.integers(9 * 3600, 10 * 3600),
        st.sampled_from(edges),
        st.integers(0, 86400 - 1),
    )
    return st.builds(lambda day, sec: day * 86400 + sec, st.sampled_from((0, 0, 0, 1)), within_day)


def _steps(moments: st.SearchStrategy[int], actors: tuple[str, ...]) -> st.SearchStrategy[Step]:
    return st.builds(
        Step,
        offset=moments,
        actor=st.sampled_from(actors),
        target=st.sampled_from(("own", "own", "own2", "relative")),
        channel=st.sampled_from(("call", "call", "robot")),
        result=RESULTS,
        report=st.sampled_from(("now", "now", "now", "later", "never")),
        delay=st.integers(1, 170),
        refuse_further=st.booleans(),
        repeat=st.integers(1, 7),
        start_delay=st.sampled_from((0, 0, 0, 1, 5, 60, 179, 180, 181)),
        gap=st.sampled_from((0, 1, 30, 179, 180, 600, 3600)),
    )


# --- the independent model ---------------------------------------------------------------


def lost_now(
    attempts: list[Done], roles: dict[str, str], invalid: set[str], failures: int = 3
) -> bool:
    """Every own number invalid, or the last ``failures`` attempts on the debtor all failed."""
    own = [p for p, role in roles.items() if role == "debtor"]
    if own and all(p in invalid for p in own):
        return True
    mine = sorted((a for a in attempts if a.role == "debtor"), key=lambda a: (a.started_at, a.pk))
    recent = mine[-failures:]
    return len(recent) == failures and all(a.result in FAILED_TO_REACH for a in recent)


@dataclass
class Grant:
    pk: int
    at: datetime
    expires_at: datetime
    point: str
    role: str
    consumed_at: datetime | None = None


@dataclass
class Done:
    pk: int
    started_at: datetime
    point: str
    role: str
    result: str
    debtor_conversation: bool
    conversation: bool
    local_day: date


@dataclass
class Model:
    """What the rules say, worked out from what the test itself did (never from the gate)."""

    zone: ZoneInfo  # the debtor's local day
    roles: dict[str, str]
    window_zones: tuple[ZoneInfo, ...] = ()
    window_end: str = "22:00"
    invalid: set[str] = field(default_factory=set)
    lost: bool = False  # the case is marked lost-contact (失联)
    refused: set[str] = field(default_factory=set)
    grants: list[Grant] = field(default_factory=list)
    attempts: list[Done] = field(default_factory=list)

    def day_bounds(self, at: datetime) -> tuple[datetime, datetime]:
        local = at.astimezone(self.zone)
        start = datetime.combine(local.date(), time.min, tzinfo=self.zone)
        nxt = datetime.combine(local.date() + timedelta(days=1), time.min, tzinfo=self.zone)
        return start, nxt

    def open_grants(self, at: datetime) -> list[Grant]:
        start, end = self.day_bounds(at)
        return [
            g
            for g in self.grants
            if (g.consumed_at is None or g.consumed_at > at)
            and g.expires_at > held_after(at)
            and start <= g.at < end
        ]

    def today(self, at: datetime) -> list[Done]:
        start, end = self.day_bounds(at)
        return [a for a in self.attempts if start <= a.started_at < end]

    def expiry(self, at: datetime) -> datetime:
        """A grant lasts its seconds, but never past the window's end nor the local day's."""
        latest = [at + timedelta(seconds=grant_seconds()), self.day_bounds(at)[1]]
        hour, minute = (int(x) for x in self.window_end.split(":"))
        for zone in self.window_zones:
            local = at.astimezone(zone)
            latest.append(datetime.combine(local.date(), time(hour, minute), tzinfo=zone))
        return min(latest)

    def inside_window(
        self, at: datetime, start: str = "08:00", end: str = "22:00", zone: ZoneInfo | None = None
    ) -> bool:
        local = at.astimezone(zone or self.zone).strftime("%H:%M:%S")
        return f"{start}:00" <= local < f"{end}:00"

    def unreachable(self, failures: int = 3) -> bool:
        """失联: marked lost (sticky until the debtor is reached), every own number invalid,
        or the last ``failures`` attempts on the debtor all failed."""
        return self.lost or lost_now(self.attempts, self.roles, self.invalid, failures)

    def expected_cn(self, actor: str, point: str, at: datetime) -> set[str]:
        codes: set[str] = set()
        if actor == "ben":
            codes.add("not_permitted")
        if point in self.invalid:
            codes.add("number_invalid")
        if "not_permitted" in codes:
            return codes
        role = self.roles[point]
        if not self.inside_window(at):
            codes.add("outside_window")
        today, pending = self.today(at), self.open_grants(at)
        # The debtor may answer any number, a relative's too: every voice dial counts.
        if sum(a.debtor_conversation for a in today) + len(pending) >= 3:
            codes.add("debtor_daily_cap")
        unanswered = sum(a.point == point and a.result in UNANSWERED for a in today)
        if unanswered + sum(g.point == point for g in pending) >= 6:
            codes.add("number_unanswered_cap")
        if role not in DEBT_PARTIES:
            if point in self.refused:
                codes.add("third_party_refused")
            elif not self.unreachable():
                codes.add("third_party_locked")
        return codes

    def expected_us(self, actor: str, point: str, at: datetime, *, cap: int) -> set[str]:
        """Regulation F (and the MA overlay when ``cap`` is 2) as this test understands it."""
        codes: set[str] = set()
        if actor == "ben":
            codes.add("not_permitted")
        if point in self.invalid:
            codes.add("number_invalid")
        if "not_permitted" in codes:
            return codes
        # 08:00–21:00 in every candidate zone (the debtor's and the profile's).
        if not all(self.inside_window(at, "08:00", "21:00", zone) for zone in self.window_zones):
            codes.add("outside_window")
        day = at.astimezone(self.zone).date()
        held = [
            g
            for g in self.grants
            if (g.consumed_at is None or g.consumed_at > at) and g.expires_at > held_after(at)
        ]
        if held:  # another call on this debt may be a conversation under way
            codes.add("call_open")
        if self.roles[point] in DEBT_PARTIES:
            placed = sum(day - timedelta(days=6) <= a.local_day <= day for a in self.attempts)
            if placed + len(held) >= cap:
                codes.add("calls_7d_cap")
            talks = [a.local_day for a in self.attempts if a.debtor_conversation]
            if talks and day < max(talks) + timedelta(days=7):
                codes.add("conversation_cooldown")
        elif point in self.refused:
            codes.add("third_party_refused")
        elif any(a.point == point and a.conversation for a in self.attempts) or any(
            g.point == point for g in held
        ):
            codes.add("third_party_cap")
        return codes

    def record(
        self, grant: Grant, result: str, at: datetime, attempt: ContactAttempt, started_at: datetime
    ) -> None:
        grant.consumed_at = at
        third_party = grant.role not in DEBT_PARTIES
        self.attempts.append(
            Done(
                pk=attempt.pk,
                started_at=started_at,
                point=grant.point,
                role=grant.role,
                result=result,
                debtor_conversation=result == "debtor"
                or (result in {"refused", "hung_up"} and not third_party),
                conversation=result in {"debtor", "third_party", "refused", "hung_up"},
                local_day=started_at.astimezone(self.zone).date(),
            )
        )
        # A wrong person on the debtor's own number makes it invalid; on a relative's, not.
        if result == "invalid" or (result == "wrong_person" and grant.role == "debtor"):
            self.invalid.add(grant.point)
        elif result == "debtor":
            # Reaching the debtor on it proves the number works: a call granted before
            # another call's "invalid" was reported may still reach them (the last report
            # wins, as in the product).
            self.invalid.discard(grant.point)
        # Reaching the debtor ends 失联; a failed attempt that leaves them unreachable starts it.
        if self.attempts[-1].debtor_conversation:
            self.lost = False
        elif grant.role == "debtor" and result in FAILED_TO_REACH:
            self.lost = self.lost or lost_now(self.attempts, self.roles, self.invalid)


# --- driving the gate ----------------------------------------------------------------------


@dataclass
class Run:
    people: dict[str, object]
    case: object
    points: dict[str, ContactPoint]
    model: Model
    # The order things happened in: decision pk / attempt pk → step of the run.
    granted: dict[int, int] = field(default_factory=dict)
    reported: dict[int, int] = field(default_factory=dict)

    def tick(self) -> int:
        return len(self.granted) + len(self.reported)


def _setup(world: object) -> Run:
    case = world.cases["ada_case"]  # type: ignore[attr-defined]
    points = {
        "own": phone_of(case),
        "own2": contact_point_add(
            debtor=case.debtor, kind="phone", value="13812349999", label="工作手机", actor=None
        ),
        "relative": add_third_party(case),
    }
    return Run(
        people=world.people,  # type: ignore[attr-defined]
        case=case,
        points=points,
        model=Model(
            zone=SHANGHAI,
            roles={k: p.role for k, p in points.items()},
            window_zones=(SHANGHAI,),
            window_end="22:00",
        ),
    )


def _report(run: Run, grant: Grant, record: ContactDecision, step: Step, at: datetime) -> None:
    actor = run.people[step.actor]
    refuse = step.refuse_further and grant.role not in DEBT_PARTIES
    started_at = grant.at + timedelta(seconds=step.start_delay)
    data = AttemptInput(
        result=step.result, started_at=started_at, ended_at=at, third_party_refused=refuse
    )
    with time_machine.travel(at, tick=False):
        if started_at >= grant.expires_at:
            # A call started after its grant ran out (past the window's end, past midnight,
            # or just late) is not the call that was allowed: refused, nothing stored.
            with pytest.raises(ValidationError) as refused:
                attempt_record(actor=actor, decision=record, data=data)  # type: ignore[arg-type]
            assert refused.value.field == "started_at"
            return
        attempt = attempt_record(actor=actor, decision=record, data=data)  # type: ignore[arg-type]
    run.model.record(grant, step.result, at, attempt, started_at)
    run.reported[attempt.pk] = run.tick()
    if refuse:
        run.model.refused.add(grant.point)


def _drive(run: Run, start: datetime, steps: list[Step], expected: object) -> None:
    """Play the schedule in time order: asks, and reports that come later, interleaved."""
    # (moment, 0 for a report / 1 for an ask, order, kind, payload): at the same moment a
    # report is processed first, which is the protocol (reports arrive before the grant ends).
    queue: list[tuple[datetime, int, int, str, object]] = []
    seq = 0
    for step in steps:
        for n in range(step.repeat):
            # Wall-clock offsets from a local midnight, then UTC (ordered right across DST).
            at = (start + timedelta(seconds=step.offset + n * step.gap)).astimezone(UTC)
            heapq.heappush(queue, (at, 1, seq, "ask", step))
            seq += 1
    while queue:
        at, _, _, kind, payload = heapq.heappop(queue)
        if kind == "report":
            grant, record, step = payload  # type: ignore[misc]
            _report(run, grant, record, step, at)
            continue
        step = payload
        assert isinstance(step, Step)
        point = run.points[step.target]
        want = expected(run.model, step.actor, step.target, at)  # type: ignore[operator]
        decision = ask(run.people[step.actor], run.case, at, channel=step.channel, point=point)  # type: ignore[arg-type]
        got = set(decision.codes)
        assert got == want, (at.isoformat(), step, decision.refusals)
        for code in sorted(got) or ["allowed"]:
            event(code)  # shown by --hypothesis-show-statistics: which rules the schedules hit
        if "debtor_daily_cap" in got:
            # Refused for the daily cap: the debtor really was at it (not over: nothing let
            # a 4th through), counting reported conversations and grants still open.
            talked = sum(a.debtor_conversation for a in run.model.today(at))
            held = len(run.model.open_grants(at))
            assert talked + held == 3, (at.isoformat(), talked, held)
        if not decision.allowed:
            continue
        assert decision.record is not None
        assert decision.expires_at is not None
        assert decision.expires_at == run.model.expiry(at), (at, decision.expires_at)
        grant = Grant(
            pk=decision.record.pk,
            at=at,
            expires_at=decision.expires_at,
            point=step.target,
            role=point.role,
        )
        run.model.grants.append(grant)
        run.granted[grant.pk] = run.tick()
        if step.report == "never":
            continue
        # The call starts ``start_delay`` after the grant and is reported when it ends, at
        # once or ``delay`` later, but before the grant runs out (see the module's note).
        started_at = at + timedelta(seconds=step.start_delay)
        ends = started_at if step.report == "now" else started_at + timedelta(seconds=step.delay)
        ends = max(started_at, min(ends, grant.expires_at - timedelta(seconds=1)))
        heapq.heappush(queue, (ends, 0, seq, "report", (grant, decision.record, step)))
        seq += 1


def _stored(run: Run) -> list[ContactAttempt]:
    return list(
        ContactAttempt.objects.filter(case_id=run.case.pk).order_by("started_at", "id")  # type: ignore[attr-defined]
    )


def _dial(offset: int, target: str, result: str, **extra: object) -> Step:
    fields: dict[str, object] = {"actor": "ada", "channel": "call", "report": "now", "delay": 1}
    return Step(offset, target=target, result=result, refuse_further=False, **{**fields, **extra})  # type: ignore[arg-type]


NINE = 9 * 3600


def _lost_contact(run: Run, known: list[ContactAttempt]) -> bool:
    """失联 as the stored rows show it: replayed in the order the attempts were reported."""

    def unreachable(so_far: list[ContactAttempt]) -> bool:
        own_invalid = all(
            any(
                a.contact_point_id == run.points[p].pk and a.result in {"invalid", "wrong_person"}
                for a in so_far
            )
            for p in ("own", "own2")
        )
        mine = [a for a in so_far if a.party_role == "debtor"]  # in started order
        last3 = len(mine) >= 3 and all(a.result in FAILED_TO_REACH for a in mine[-3:])
        return own_invalid or last3

    lost = False
    in_report_order = sorted(known, key=lambda a: run.reported[a.pk])
    for n, attempt in enumerate(in_report_order):
        so_far = sorted(in_report_order[: n + 1], key=lambda a: (a.started_at, a.pk))
        if attempt.debtor_conversation:
            lost = False
        elif attempt.party_role == "debtor" and attempt.result in FAILED_TO_REACH:
            lost = lost or unreachable(so_far)
    return lost or unreachable(sorted(known, key=lambda a: (a.started_at, a.pk)))


@PROPERTY_SETTINGS
@example(  # both own numbers wrong; the debtor answers the relative's phone again and again
    steps=[
        _dial(NINE, "own", "wrong_person"),
        _dial(NINE, "own2", "wrong_person"),
        _dial(NINE + 60, "relative", "debtor", repeat=5, gap=600),
    ]
)
@example(  # a grant still open holds the last slot: the next collector is refused
    steps=[
        _dial(NINE, "own", "debtor", repeat=2, gap=60),
        _dial(NINE + 600, "own2", "debtor", report="later", delay=170),
        _dial(NINE + 601, "own", "no_answer", actor="tom", channel="robot"),
    ]
)
@example(  # six misses on one number, then the 7th; the other number has its own count
    steps=[
        _dial(NINE, "own", "no_answer", repeat=7, gap=30),
        _dial(NINE + 600, "own2", "busy", repeat=3, gap=30),
    ]
)
@example(  # across midnight: 21:59:59 passes, 22:00:00 does not, 08:00:00 next day passes
    steps=[
        _dial(22 * 3600 - 1, "own", "debtor", repeat=2, gap=1),
        _dial(86400 + 8 * 3600, "own", "debtor"),
    ]
)
@example(  # a call started a second later reaches the debtor after another call's "invalid":
    # the number works again (the last report wins)
    steps=[
        _dial(8 * 3600, "own", "debtor", repeat=1, start_delay=0, gap=0),
        _dial(8 * 3600, "own", "debtor", repeat=1, start_delay=1, gap=0),
        _dial(8 * 3600, "own", "invalid", repeat=2, start_delay=0, gap=1),
    ]
)
@given(steps=st.lists(_steps(_moment_cn(), CN_ACTORS), min_size=1, max_size=20))
def test_no_cn_schedule_passes_a_cap_or_the_window(world, steps):
    with transaction.atomic():
        run = _setup(world)
        _drive(run, bj(*MONDAY, 0, 0), steps, Model.expected_cn)
        stored = _stored(run)
        assert sorted(a.pk for a in stored) == sorted(a.pk for a in run.model.attempts)
        by_day: dict[date, list[ContactAttempt]] = {}
        for attempt in stored:
            local = attempt.started_at.astimezone(SHANGHAI)
            assert attempt.local_day == local.date()
            by_day.setdefault(attempt.local_day, []).append(attempt)
            # CN-1: never started 22:00–08:00 Beijing time (no consent in this schedule).
            assert time(8, 0) <= local.time() < time(22, 0), attempt.started_at
        for day, attempts in by_day.items():
            # CN-2: at most 3 debtor conversations per debtor-local day, all channels.
            assert sum(a.debtor_conversation for a in attempts) <= 3, day
            # CN-3: at most 6 unanswered dials per number per day.
            for point in run.points.values():
                misses = [a for a in attempts if a.contact_point_id == point.pk]
                assert sum(a.result in UNANSWERED for a in misses) <= 6, (day, point.role)
        # CN-4: a third party is never called once they refused, nor before the debtor was
        # lost, judged by what had been reported when the call was granted.
        relative = run.points["relative"]
        for attempt in stored:
            if attempt.contact_point_id != relative.pk:
                continue
            granted = run.granted[attempt.decision_id]
            known = [a for a in stored if run.reported[a.pk] < granted]
            assert not any(a.third_party_refused for a in known), "called after a refusal"
            assert _lost_contact(run, known), attempt.started_at
        transaction.set_rollback(True)


def test_the_debtor_reached_on_a_third_party_number_counts_toward_the_daily_cap(world):
    """Found by the property above: the cap is per debtor, whichever number they answer.

    Both own numbers turn out wrong, which unlocks the relative; the debtor then answers
    the relative's phone three times. A 4th dial to that phone could reach them a 4th time.
    """
    ada, case = world.people["ada"], world.cases["ada_case"]
    relative = add_third_party(case)
    at = bj(*MONDAY, 9, 0)
    own = phone_of(case)
    assert isinstance(call(ada, case, at, "wrong_person", point=own), ContactAttempt)
    for minute in (10, 20, 30):
        attempt = call(ada, case, at + timedelta(minutes=minute), "debtor", point=relative)
        assert isinstance(attempt, ContactAttempt), attempt
        assert attempt.debtor_conversation
    fourth = ask(ada, case, at + timedelta(minutes=40), point=relative)
    assert fourth.codes == ["debtor_daily_cap"]


# --- US: Regulation F and the Massachusetts overlay ----------------------------------------

LOS_ANGELES = ZoneInfo("America/Los_Angeles")
NEW_YORK = ZoneInfo("America/New_York")


def _moment_us() -> st.SearchStrategy[int]:
    """Seconds over two weeks from a Pacific midnight (across the end of DST on 1 November),
    mostly in the hours both Pacific and Eastern time allow (08:00–18:00 PT)."""
    edges = [
        h * 3600 + m * 60 + s for (h, m, s) in ((7, 59, 59), (8, 0, 0), (17, 59, 59), (18, 0, 0))
    ]
    within_day = st.one_of(
        st.integers(8 * 3600, 18 * 3600 - 1),
        st.integers(8 * 3600, 18 * 3600 - 1),
        st.sampled_from(edges),
        st.integers(0, 86400 - 1),
    )
    return st.builds(lambda day, sec: day * 86400 + sec, st.integers(0, 13), within_day)


US_NINE = 86400 + 9 * 3600  # Tuesday 27 October, 09:00 Pacific


@PROPERTY_SETTINGS
@example(  # found: two dials to one neighbour at once, both answered; the 2nd is refused now
    steps=[_dial(US_NINE, "relative", "third_party", repeat=2, report="later", delay=60)]
)
@example(  # found: a 2nd call while the 1st (a conversation) is still unreported
    steps=[_dial(US_NINE, "own", "debtor", repeat=2, gap=1, report="later", delay=60)]
)
@example(  # calls on 7 days, the 8th on day 7; the cool-down after a Monday conversation
    steps=[_dial(US_NINE + day * 86400, "own", "no_answer", actor="tom") for day in range(-1, 7)]
    + [_dial(US_NINE + 7 * 86400, "own2", "debtor"), _dial(US_NINE + 8 * 86400, "own", "busy")]
)
@pytest.mark.parametrize(("profile", "cap"), [("us-federal", 7), ("us-federal,us-ma", 2)])
@given(steps=st.lists(_steps(_moment_us(), ("ada", "ada", "tom")), min_size=1, max_size=15))
def test_no_us_schedule_passes_seven_in_seven_the_cooldown_or_the_window(
    world, profile, cap, steps
):
    with transaction.atomic():
        case = world.cases["ada_case"]
        case.contract.compliance_profile = profile
        case.contract.save()
        type(case.debtor).objects.filter(pk=case.debtor_id).update(time_zone="America/Los_Angeles")
        run = _setup(world)
        run.model.zone, run.model.window_zones = LOS_ANGELES, (LOS_ANGELES, NEW_YORK)
        run.model.window_end = "21:00"
        expected = functools.partial(Model.expected_us, cap=cap)
        _drive(run, datetime(2026, 10, 26, tzinfo=LOS_ANGELES), steps, expected)
        stored = _stored(run)
        assert sorted(a.pk for a in stored) == sorted(a.pk for a in run.model.attempts)
        for attempt in stored:
            assert attempt.local_day == attempt.started_at.astimezone(LOS_ANGELES).date()
            for zone in (LOS_ANGELES, NEW_YORK):  # US-2: inside 08:00–21:00 in every zone
                local = attempt.started_at.astimezone(zone).time()
                assert time(8, 0) <= local < time(21, 0), (attempt.started_at, zone)
            if attempt.party_role not in DEBT_PARTIES:
                continue
            # US-1: never more than ``cap`` calls to the debtor in the 7 days ending on any
            # such call's day (a third party's own limit is one conversation, below).
            day = attempt.local_day
            week = [
                a
                for a in stored
                if a.party_role in DEBT_PARTIES and day - timedelta(days=6) <= a.local_day <= day
            ]
            assert len(week) <= cap, (day, len(week))
            # US-1: no call in the 7 days from a conversation (its day is day 1).
            for talk in stored:
                if talk.debtor_conversation and talk.started_at < attempt.started_at:
                    assert day >= talk.local_day + timedelta(days=7), (talk.local_day, day)
        # US-4: one conversation per third party.
        relative = run.points["relative"]
        assert sum(a.conversation for a in stored if a.contact_point_id == relative.pk) <= 1
        transaction.set_rollback(True)


# --- time travel around the edges of a grant ------------------------------------------------


def _report_start(actor, decision, started_at, result="debtor"):
    with time_machine.travel(started_at + timedelta(seconds=30), tick=False):
        return attempt_record(
            actor=actor,
            decision=decision.record,
            data=AttemptInput(result=result, started_at=started_at),
        )


def test_a_grant_at_21_59_59_does_not_let_a_call_start_after_22_00(world):
    ada, case = world.people["ada"], world.cases["ada_case"]
    decision = ask(ada, case, bj(*MONDAY, 21, 59, 59))
    assert decision.allowed
    assert decision.expires_at == bj(*MONDAY, 22, 0)
    before = ContactAttempt.objects.count()
    for started in (bj(*MONDAY, 22, 0, 0), bj(*MONDAY, 22, 0, 5)):
        with pytest.raises(ValidationError) as late:
            _report_start(ada, decision, started)
        assert late.value.field == "started_at"
    assert ContactAttempt.objects.count() == before
    # Started within its second, the call is recorded as usual.
    assert _report_start(ada, decision, bj(*MONDAY, 21, 59, 59)).local_day.day == 23


def test_a_grant_before_midnight_does_not_spill_into_the_next_day(world):
    ada, case = world.people["ada"], world.cases["ada_case"]
    consent_record(
        actor=ada,
        debtor=case.debtor,
        channel="call",
        starts_at=bj(*MONDAY, 22, 0),
        ends_at=bj(2026, 11, 24, 1, 0),
        evidence="call-9 录音：约定夜间回电",
    )
    decision = ask(ada, case, bj(*MONDAY, 23, 59, 0))
    assert decision.allowed
    assert decision.expires_at == bj(2026, 11, 24, 0, 0)
    with pytest.raises(ValidationError):
        _report_start(ada, decision, bj(2026, 11, 24, 0, 0, 30))


def test_cn_counters_reset_at_beijing_midnight(world):
    ada, case = world.people["ada"], world.cases["ada_case"]
    consent_record(
        actor=ada,
        debtor=case.debtor,
        channel="call",
        starts_at=bj(*MONDAY, 22, 0),
        ends_at=bj(2026, 11, 24, 1, 0),
        evidence="call-9 录音：约定夜间回电",
    )
    for minute in (0, 20, 40):
        assert isinstance(call(ada, case, bj(*MONDAY, 23, minute), "debtor"), ContactAttempt)
    assert ask(ada, case, bj(*MONDAY, 23, 59)).codes == ["debtor_daily_cap"]
    assert ask(ada, case, bj(*MONDAY, 23, 59, 59)).codes == ["debtor_daily_cap"]
    tuesday = ask(ada, case, bj(2026, 11, 24, 0, 0))
    assert tuesday.allowed
    assert [n.code for n in tuesday.notices] == ["consent_window"]


def test_unanswered_counts_reset_at_beijing_midnight_too(world):
    ada, case = world.people["ada"], world.cases["ada_case"]
    consent_record(
        actor=ada,
        debtor=case.debtor,
        channel="call",
        starts_at=bj(*MONDAY, 22, 0),
        ends_at=bj(2026, 11, 24, 1, 0),
        evidence="call-9 录音：约定夜间回电",
    )
    for minute in range(50, 56):
        assert isinstance(call(ada, case, bj(*MONDAY, 23, minute), "no_answer"), ContactAttempt)
    assert ask(ada, case, bj(*MONDAY, 23, 59, 59)).codes == ["number_unanswered_cap"]
    assert ask(ada, case, bj(2026, 11, 24, 0, 0)).allowed


def test_a_long_call_keeps_its_slot_until_it_is_reported(world):
    ada, tom, case = world.people["ada"], world.people["tom"], world.cases["ada_case"]
    for hour in (9, 10):
        assert isinstance(call(ada, case, bj(*MONDAY, hour, 0), "debtor"), ContactAttempt)
    long_call = ask(ada, case, bj(*MONDAY, 11, 0))  # the last slot; a 10-minute conversation
    assert long_call.allowed
    # The grant lapsed, but the call may still be under way: the slot stays taken.
    assert ask(tom, case, bj(*MONDAY, 11, 5), channel="robot").codes == ["debtor_daily_cap"]
    with time_machine.travel(bj(*MONDAY, 11, 10), tick=False):
        attempt_record(
            actor=ada,
            decision=long_call.record,
            data=AttemptInput(result="debtor", started_at=bj(*MONDAY, 11, 0, 2)),
        )
    talked = ContactAttempt.objects.filter(case_id=case.pk, debtor_conversation=True).count()
    assert talked == 3
    assert ask(tom, case, bj(*MONDAY, 11, 15), channel="robot").codes == ["debtor_daily_cap"]

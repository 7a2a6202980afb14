"""Shared helpers of the contact tests: moments in Beijing time, asking the gate, reporting."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import time_machine

from recoup.accounts.models import User
from recoup.cases.models import Case, ContactPoint
from recoup.cases.services import contact_point_add
from recoup.contact.gate import ContactRequest, Decision, decide
from recoup.contact.models import ContactAttempt
from recoup.contact.services import AttemptInput, attempt_record

SHANGHAI = ZoneInfo("Asia/Shanghai")


def bj(*args: int) -> datetime:
    """A moment in Beijing time: bj(2026, 11, 23, 21, 59, 59)."""
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


def phone_of(case: Case, role: str = "debtor") -> ContactPoint:
    return ContactPoint.objects.filter(debtor_id=case.debtor_id, kind="phone", role=role).first()  # type: ignore[return-value]


def add_third_party(case: Case, phone: str = "13600009999", role: str = "relative") -> ContactPoint:
    return contact_point_add(
        debtor=case.debtor, kind="phone", value=phone, role=role, name="联系人", actor=None
    )


def ask(
    actor: User,
    case: Case,
    at: datetime,
    *,
    channel: str = "call",
    point: ContactPoint | None = None,
    **extra: object,
) -> Decision:
    if point is None and channel in {"call", "robot", "sms"}:
        point = phone_of(case)
    with time_machine.travel(at, tick=False):
        return decide(
            ContactRequest(
                actor=actor,
                case=case,
                channel=channel,
                contact_point=point,
                at=at,
                **extra,  # type: ignore[arg-type]
            )
        )


def call(
    actor: User,
    case: Case,
    at: datetime,
    result: str,
    *,
    point: ContactPoint | None = None,
    channel: str = "call",
    **extra: object,
) -> ContactAttempt | Decision:
    """Ask the gate and, when allowed, report ``result``; returns the attempt or the refusal."""
    decision = ask(actor, case, at, channel=channel, point=point)
    if not decision.allowed:
        return decision
    assert decision.record is not None
    with time_machine.travel(at, tick=False):
        return attempt_record(
            actor=actor,
            decision=decision.record,
            data=AttemptInput(result=result, started_at=at, **extra),  # type: ignore[arg-type]
        )

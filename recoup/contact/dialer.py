"""What the dialer API needs around the gate: find the case and number, ask, report.

Dialers and voice robots call ``POST /api/v1/contact/authorize`` before each dial and
``POST /api/v1/contact/attempts`` after it (``recoup.contact.api``). This module turns their
identifiers into rows the caller may see and keeps the API handlers free of queries; the
decision itself is always ``recoup.contact.gate.decide`` and the attempt always
``recoup.contact.services.attempt_record``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.utils.translation import gettext as _

from recoup.accounts.models import User
from recoup.accounts.roles import VIEW
from recoup.cases.models import Case, ContactPoint
from recoup.cases.permissions import cases_user_can
from recoup.contact.gate import ContactRequest, Decision, decide
from recoup.contact.models import CallMode, Channel, ContactAttempt, ContactDecision, Promise
from recoup.contact.selectors import decision_get_for_user
from recoup.contact.services import START_SKEW, AttemptInput, attempt_record
from recoup.core.clock import now
from recoup.core.exceptions import NotFound, RecoupError, ValidationError


class AlreadyReported(RecoupError):
    """The decision's attempt was reported with other facts (409)."""

    code = "already_reported"


def case_get_for_dialer(
    user: User, *, case_id: int | None = None, client_case_number: str = "", contract: str = ""
) -> Case:
    """The case by its id, or by the client's case number (and contract number when the
    number is used under several contracts); NotFound when the caller may not see it.

    Cases the caller may not see answer exactly like cases that do not exist.
    """
    visible = cases_user_can(user, VIEW).select_related("debtor", "contract")
    number = client_case_number.strip()
    if case_id is not None:
        found = list(visible.filter(pk=case_id)[:1])
    elif number:
        candidates = visible.filter(client_case_number=number)
        if contract.strip():
            candidates = candidates.filter(contract__number=contract.strip())
        found = list(candidates[:2])
        if len(found) > 1:
            raise ValidationError(
                _("案件号“%(number)s”在多个合同下都存在，请同时提供合同编号（contract）。")
                % {"number": number},
                field="contract",
                code="ambiguous_case",
            )
    else:
        raise ValidationError(
            _("请提供案件编号（case_id）或委托方案件号（client_case_number）。"),
            field="case_id",
            code="case_required",
        )
    if not found:
        raise NotFound(_("案件不存在。"))
    return found[0]


def contact_point_get_for_case(case: Case, uid: str) -> ContactPoint:
    """One of the case debtor's contact points by its uid (ids are not guessable)."""
    unknown = ValidationError(
        _("联系方式“%(id)s”不存在或不属于该案件的债务人。") % {"id": uid},
        field="contact_point_id",
        code="unknown_contact_point",
    )
    try:
        key = uuid.UUID(uid.strip())
    except ValueError:
        raise unknown from None
    point = (
        ContactPoint.objects.for_org(case.organisation_id)
        .filter(debtor_id=case.debtor_id, uid=key)
        .first()
    )
    if point is None:
        raise unknown
    return point


def participants_get(actor: User, usernames: Sequence[str]) -> list[User]:
    """The field collectors named for a visit, from the actor's organisation."""
    names = list(dict.fromkeys(n.strip() for n in usernames if n.strip()))
    people = list(
        User.objects.filter(
            organisation_id=actor.organisation_id or 0, username__in=names
        ).order_by("username")
    )
    missing = sorted(set(names) - {p.username for p in people})
    if missing:
        raise ValidationError(
            _("外访人员不存在：%(names)s。") % {"names": ", ".join(missing)},
            field="participants",
            code="unknown_participant",
        )
    return people


def contact_authorize(
    *,
    actor: User,
    case: Case,
    channel: str,
    mode: str = "",
    contact_point: ContactPoint | None = None,
    at: datetime | None = None,
    until: datetime | None = None,
    participants: Sequence[User] = (),
) -> Decision:
    """Ask the gate for a contact on behalf of a dialer, robot or other system (logged).

    Only a field visit is asked for a future slot (``at``..``until`` with its collectors);
    every other contact is judged at the moment of asking, as it is about to happen.
    """
    if channel not in Channel.values:
        raise ValidationError(
            _("未知渠道“%(channel)s”，可用：%(choices)s。")
            % {"channel": channel, "choices": ", ".join(Channel.values)},
            field="channel",
            code="unknown_channel",
        )
    if mode not in CallMode.values:
        raise ValidationError(
            _("未知拨号方式“%(mode)s”，可用：%(choices)s。")
            % {"mode": mode, "choices": ", ".join(v for v in CallMode.values if v)},
            field="mode",
            code="unknown_mode",
        )
    if channel != Channel.VISIT:
        for name, value in (("at", at), ("until", until), ("participants", participants)):
            if value:
                raise ValidationError(
                    _("只有外访可以指定时间和人员（%(field)s）；其他联系按请求的当前时间判断。")
                    % {"field": name},
                    field=name,
                    code="visit_only",
                )
    elif at is not None and at < now() - START_SKEW:
        raise ValidationError(_("外访开始时间不能早于现在。"), field="at", code="past")
    return decide(
        ContactRequest(
            actor=actor,
            case=case,
            channel=channel,
            contact_point=contact_point,
            at=at,
            until=until,
            mode=mode,
            participants=tuple(participants),
            via="api",
        )
    )


def decision_get_for_dialer(user: User, uid: uuid.UUID) -> ContactDecision:
    """A decision the caller asked for, or one on a case the caller may see."""
    return decision_get_for_user(user, uid, VIEW)


def attempt_promise(attempt: ContactAttempt) -> Promise | None:
    """The promise to pay made in the attempt, if any."""
    return Promise.objects.filter(attempt_id=attempt.pk).order_by("id").first()


def _same_report(attempt: ContactAttempt, decision: ContactDecision, data: AttemptInput) -> bool:
    def close(a: datetime | None, b: datetime | None) -> bool:
        if a is None or b is None:
            return a is b
        return abs(a - b) < timedelta(seconds=1)

    return (
        attempt.call_id == data.call_id
        and attempt.result == data.result
        and close(attempt.started_at, data.started_at or decision.at)
        and close(attempt.answered_at, data.answered_at)
        and close(attempt.ended_at, data.ended_at)
    )


def attempt_report(
    *, actor: User, decision: ContactDecision, data: AttemptInput
) -> tuple[ContactAttempt, bool]:
    """Record a dialer's outcome report; ``(attempt, created)``.

    A retry of the same report (same call id, result and times) returns the stored attempt;
    a different report for a decision already reported is a conflict and changes nothing.
    """
    existing = ContactAttempt.objects.filter(decision_id=decision.pk).first()
    if existing is not None:
        if _same_report(existing, decision, data):
            return existing, False
        raise AlreadyReported(
            _("该次联系的结果已经记录（通话编号 %(call_id)s），不能再次上报不同的结果。")
            % {"call_id": existing.call_id or "-"}
        )
    attempt = attempt_record(actor=actor, decision=decision, data=data)
    return attempt, True

"""Recording contact work: attempts against their grants, promises to pay, follow-ups.

Every outbound contact is asked of the gate first (``recoup.contact.gate.decide``); the
attempt that follows names the grant (``ContactDecision``) that allowed it. Reporting the
attempt releases the grant's slot and updates what the gate counts next time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from recoup.accounts.roles import WORK
from recoup.audit.services import audit_record
from recoup.cases.models import CASE_TRANSITIONS, Case, ContactPoint
from recoup.cases.permissions import user_can
from recoup.compliance.lexicon import scan
from recoup.contact.gate import DEBT_PARTIES, debtor_unreachable
from recoup.contact.models import (
    CONVERSATION,
    FAILED_TO_REACH,
    ClientResultCode,
    ContactAttempt,
    ContactDecision,
    InfoRepair,
    OverdueReason,
    Promise,
    Result,
    SavedQueueView,
    seal_notes,
)
from recoup.contact.promises import INTENSIVE_AFTER_BROKEN, PaymentFact, apply_payments
from recoup.core.clock import now
from recoup.core.exceptions import NotFound, PermissionDenied, RecoupError, ValidationError

if TYPE_CHECKING:
    from recoup.accounts.models import User

# How far a reported start may precede the grant (clock skew between dialer and server).
START_SKEW = timedelta(seconds=60)
CHANNEL_RESULTS: dict[str, frozenset[str]] = {
    "call": frozenset(
        {
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
        }
    ),
    "sms": frozenset({"sent", "delivered", "failed"}),
    "email": frozenset({"sent", "delivered", "failed"}),
    "im": frozenset({"sent", "delivered", "failed"}),
    "letter": frozenset({"sent", "delivered", "failed"}),
    "visit": frozenset({"visit_met", "visit_not_met"}),
}
CHANNEL_RESULTS["robot"] = CHANNEL_RESULTS["call"]
# Consecutive failures after which a case is marked lost-contact (中银协 2026's example).
LOST_CONTACT_AFTER_FAILURES = 3


@dataclass(frozen=True)
class PromiseInput:
    amount: Decimal
    due_on: date


@dataclass(frozen=True)
class AttemptInput:
    result: str
    started_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    call_id: str = ""
    notes: str = ""
    overdue_reason: str = ""
    next_follow_up_at: datetime | None = None
    promise: PromiseInput | None = None
    third_party_refused: bool = False


def parse_promise(amount: str, due_on: date | None) -> PromiseInput | None:
    """A promise from form text; both empty = no promise; one without the other is an error."""
    amount = (amount or "").strip().replace(",", "").replace("，", "")
    if not amount and due_on is None:
        return None
    if not amount or due_on is None:
        raise ValidationError(_("承诺还款须同时填写金额和日期。"), field="promise_amount")
    try:
        value = Decimal(amount).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise ValidationError(
            _("承诺金额无效：%(value)s") % {"value": amount}, field="promise_amount"
        ) from None
    return PromiseInput(amount=value, due_on=due_on)


def _validate(decision: ContactDecision, data: AttemptInput, case: Case, at: datetime) -> None:
    if data.result not in CHANNEL_RESULTS.get(decision.channel, frozenset()):
        raise ValidationError(
            _("结果“%(result)s”不适用于渠道“%(channel)s”。")
            % {
                "result": dict(Result.choices).get(data.result, data.result),
                "channel": decision.get_channel_display(),
            },
            field="result",
        )
    started = data.started_at or decision.at
    if started < decision.at - START_SKEW or (
        # The grant's end is exclusive, as the gate counts it (a grant ending at 22:00:00
        # does not cover a call starting at 22:00:00).
        decision.expires_at is not None and started >= decision.expires_at
    ):
        raise ValidationError(
            _("联系开始时间不在合规放行的时段内（放行于 %(at)s，有效至 %(until)s）。")
            % {"at": decision.at.isoformat(), "until": (decision.expires_at or at).isoformat()},
            field="started_at",
        )
    if data.answered_at and data.answered_at < started:
        raise ValidationError(_("接通时间早于开始时间。"), field="answered_at")
    if data.ended_at and data.ended_at < (data.answered_at or started):
        raise ValidationError(_("结束时间早于开始或接通时间。"), field="ended_at")
    if data.overdue_reason and data.overdue_reason not in OverdueReason.values:
        raise ValidationError(_("逾期原因无效。"), field="overdue_reason")
    if data.next_follow_up_at and data.next_follow_up_at <= at:
        raise ValidationError(_("下次跟进时间须在将来。"), field="next_follow_up_at")
    if data.promise is not None:
        if data.result != Result.DEBTOR_REACHED and data.result != Result.VISITED_MET:
            raise ValidationError(_("只有与本人沟通后才能记录承诺还款。"), field="promise_amount")
        if data.promise.amount <= 0:
            raise ValidationError(_("承诺金额须大于 0。"), field="promise_amount")
        if data.promise.amount > case.total_owed:
            raise ValidationError(
                _("承诺金额不能超过欠款总额 %(total)s。") % {"total": case.total_owed},
                field="promise_amount",
            )
        if data.promise.due_on < at.date():
            raise ValidationError(_("承诺日期不能早于今天。"), field="promise_due_on")
    if data.third_party_refused and decision.party_role in ("", *DEBT_PARTIES):
        raise ValidationError(
            _("只有第三方联系人才能标记为拒绝联系。"), field="third_party_refused"
        )


def attempt_record(*, actor: User, decision: ContactDecision, data: AttemptInput) -> ContactAttempt:
    """Record what happened after an allowed contact; idempotent by the decision and call id.

    Reporting the same decision again with the same call id returns the stored attempt (a
    dialer retrying); anything else about a reported decision is refused. Nothing is stored
    when any part is invalid.
    """
    at = now()
    if not decision.allowed:
        raise RecoupError(_("该联系已被合规拦截，不能记录结果。"), code="refused_decision")
    with transaction.atomic():
        locked = ContactDecision.objects.select_for_update().get(pk=decision.pk)
        existing = ContactAttempt.objects.filter(decision_id=locked.pk).first()
        if existing is not None:
            if data.call_id and existing.call_id == data.call_id:
                return existing
            raise RecoupError(_("该次联系的结果已经记录。"), code="already_reported")
        case = Case.objects.select_for_update().get(pk=locked.case_id)
        if locked.actor_id != actor.pk and not user_can(actor, WORK, case):
            raise NotFound(_("案件不存在。"))
        if (
            data.call_id
            and ContactAttempt.objects.filter(
                organisation_id=case.organisation_id, call_id=data.call_id
            ).exists()
        ):
            raise ValidationError(
                _("通话编号 %(call_id)s 已被另一条联系记录使用。") % {"call_id": data.call_id},
                field="call_id",
            )
        _validate(locked, data, case, at)
        started = data.started_at or locked.at
        point = (
            ContactPoint.objects.select_for_update().get(pk=locked.contact_point_id)
            if locked.contact_point_id
            else None
        )
        third_party = bool(point and point.role not in DEBT_PARTIES)
        hits = scan(case.organisation_id, data.notes, third_party=third_party)
        conversation = data.result in CONVERSATION or data.result == Result.VISITED_MET
        debtor_conversation = data.result == Result.DEBTOR_REACHED or (
            data.result in {Result.REFUSED, Result.HUNG_UP} and not third_party
        )
        uid = uuid.uuid4()
        attempt = ContactAttempt.objects.create(
            organisation_id=case.organisation_id,
            uid=uid,
            case=case,
            debtor_id=case.debtor_id,
            contact_point=point,
            decision=locked,
            actor=actor,
            channel=locked.channel,
            mode=locked.mode,
            party_role=locked.party_role,
            call_id=data.call_id,
            started_at=started,
            answered_at=data.answered_at,
            ended_at=data.ended_at,
            local_day=started.astimezone(_zone_of(locked)).date(),
            result=data.result,
            conversation=conversation,
            debtor_conversation=debtor_conversation,
            overdue_reason=data.overdue_reason,
            notes_sealed=seal_notes(uid, data.notes),
            next_follow_up_at=data.next_follow_up_at,
            lexicon_hits=[h.as_dict() for h in hits],
            flagged_for_review=bool(hits),
            third_party_refused=data.third_party_refused,
        )
        locked.consumed_at = at
        locked.save(update_fields=["consumed_at"])
        changes = _apply_to_contact_point(point, data, at)
        status_from = case.status
        _apply_to_case(case, attempt, data, at)
        promise = None
        if data.promise is not None:
            promise = Promise.objects.create(
                organisation_id=case.organisation_id,
                case=case,
                attempt=attempt,
                amount=data.promise.amount,
                due_on=data.promise.due_on,
                created_by=actor,
            )
            _move(case, "promised")
        case.save()
        audit_record(
            action="contact.attempt.recorded",
            actor=actor,
            organisation=case.organisation_id,
            case_id=case.pk,
            debtor_id=case.debtor_id,
            object_type="contact_attempt",
            object_id=attempt.pk,
            data={
                "decision": str(locked.uid),
                "channel": attempt.channel,
                "result": attempt.result,
                "call_id": attempt.call_id,
                "status": [status_from, case.status] if status_from != case.status else None,
                "promise": {"amount": str(promise.amount), "due_on": promise.due_on.isoformat()}
                if promise
                else None,
                "lexicon_hits": [h.category for h in hits],
                "contact_point": changes,
            },
        )
    return attempt


def _zone_of(decision: ContactDecision) -> ZoneInfo:
    try:
        return ZoneInfo(decision.zone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


def _apply_to_contact_point(
    point: ContactPoint | None, data: AttemptInput, at: datetime
) -> dict[str, Any]:
    if point is None:
        return {}
    changes: dict[str, Any] = {}
    # An empty number is invalid for anyone; "wrong person" only says so of the debtor's own.
    wrong_owner = data.result == Result.WRONG_PERSON and point.role == ContactPoint.Role.DEBTOR
    if data.result == Result.INVALID_NUMBER or wrong_owner:
        changes["validity"] = point.validity = ContactPoint.Validity.INVALID
    elif data.result == Result.DEBTOR_REACHED:
        changes["validity"] = point.validity = ContactPoint.Validity.VALID
    if data.third_party_refused:
        point.refused_contact, point.refused_at = True, at
        changes["refused_contact"] = True
    if changes:
        point.save(update_fields=["validity", "refused_contact", "refused_at"])
    return changes


def _move(case: Case, to_status: str) -> None:
    if case.status != to_status and to_status in CASE_TRANSITIONS.get(case.status, frozenset()):
        case.status, case.status_changed_at = to_status, now()


def _apply_to_case(case: Case, attempt: ContactAttempt, data: AttemptInput, at: datetime) -> None:
    if case.first_action_at is None:
        case.first_action_at = attempt.started_at
    if case.status == Case.Status.ASSIGNED:
        _move(case, "collecting")
    case.last_attempt_at = max(case.last_attempt_at or attempt.started_at, attempt.started_at)
    if attempt.debtor_conversation:
        # a dialer may report calls out of order: keep the latest conversation
        case.last_conversation_at = max(
            case.last_conversation_at or attempt.started_at, attempt.started_at
        )
        case.lost_contact_since = None
    elif (
        case.lost_contact_since is None
        and attempt.party_role in ("", ContactPoint.Role.DEBTOR)
        and attempt.result in FAILED_TO_REACH
        and debtor_unreachable(case.debtor_id, LOST_CONTACT_AFTER_FAILURES)
    ):
        # 失联: every own number invalid or the last attempts all failed.
        case.lost_contact_since = attempt.started_at
    if data.overdue_reason:
        case.overdue_reason = data.overdue_reason
    if data.next_follow_up_at is not None or attempt.channel in {"call", "robot", "visit"}:
        # A call or visit sets the next follow-up (cleared when none was agreed); an SMS or
        # letter leaves it as it was.
        case.next_follow_up_at = data.next_follow_up_at


# --- promises ---------------------------------------------------------------------------


def promises_on_payment(*, case: Case, amount: Decimal, paid_on: date) -> list[Promise]:
    """The hook the money app calls when one payment is posted to a case.

    Open (or already broken) promises whose window holds ``paid_on``, earliest first, absorb
    the amount (``recoup.contact.promises``): a promise whose amount is covered is kept; a
    partly covered one records what was paid and stays open until its date passes. Returns
    the promises that changed, each audited.
    """
    if amount <= 0:
        return []
    with transaction.atomic():
        changes = apply_payments([PaymentFact(case.pk, amount, paid_on)])
        for change in changes:
            audit_record(
                action="contact.promise.paid",
                actor=None,
                organisation=case.organisation_id,
                case_id=case.pk,
                object_type="promise",
                object_id=change.promise_id,
                data={
                    "paid": str(change.paid),
                    "status": change.status,
                    "paid_on": paid_on.isoformat(),
                    "was_broken": change.was_broken,
                },
            )
    return list(Promise.objects.filter(pk__in=[c.promise_id for c in changes]))


def promises_mark_broken(*, today: date) -> int:
    """Open promises whose date has passed unpaid become broken (run daily by a task).

    A case with 2 or more broken promises moves to intensive follow-up (SPEC §3 step 7), and
    a follow-up call is due on it today.
    """
    count = 0
    due = Promise.objects.filter(status=Promise.Status.OPEN, due_on__lt=today).values_list(
        "pk", flat=True
    )
    for promise_id in list(due):
        with transaction.atomic():
            promise = Promise.objects.select_for_update().get(pk=promise_id)
            if promise.status != Promise.Status.OPEN:
                continue
            promise.status, promise.evaluated_at = Promise.Status.BROKEN, now()
            promise.save(update_fields=["status", "evaluated_at"])
            Case.objects.filter(pk=promise.case_id).update(broken_promises=F("broken_promises") + 1)
            case = Case.objects.select_for_update().get(pk=promise.case_id)
            if case.broken_promises >= INTENSIVE_AFTER_BROKEN:
                case.intensive_follow_up = True
            if (
                case.status == Case.Status.PROMISED
                and not Promise.objects.filter(case_id=case.pk, status=Promise.Status.OPEN).exists()
            ):
                _move(case, "collecting")
            case.save(update_fields=["intensive_follow_up", "status", "status_changed_at"])
            audit_record(
                action="contact.promise.broken",
                actor=None,
                organisation=case.organisation_id,
                case_id=case.pk,
                object_type="promise",
                object_id=promise.pk,
                data={
                    "amount": str(promise.amount),
                    "due_on": promise.due_on.isoformat(),
                    "paid": str(promise.paid_amount),
                    "broken_total": case.broken_promises,
                    "intensive": case.intensive_follow_up,
                },
            )
            count += 1
    return count


def require_worker(actor: User, case: Case) -> None:
    if not user_can(actor, WORK, case):
        raise PermissionDenied(_("您无权处理该案件。"))


# --- information repair and lost contact -------------------------------------------------

LAWFUL_REPAIR_SOURCES = frozenset(
    {ContactPoint.Source.CLIENT, ContactPoint.Source.DEBTOR, ContactPoint.Source.COLLECTOR}
)


@dataclass(frozen=True)
class NewContact:
    kind: str
    value: str
    role: str
    source: str
    name: str = ""
    label: str = ""


def repair_record(
    *,
    actor: User,
    case: Case,
    outcome: str,
    channel: str,
    note: str = "",
    new_contact: NewContact | None = None,
) -> InfoRepair:
    """Record an information-repair attempt (信息修复), adding what it found, if anything.

    Only lawful sources are accepted (the client, the debtor, the collector's own
    conversation; never address books or bought data: COMPLIANCE.md CN-4, CN-16).
    """
    require_worker(actor, case)
    if outcome not in InfoRepair.Outcome.values:
        raise ValidationError(_("请选择修复结果。"), field="outcome")
    if not channel.strip():
        raise ValidationError(_("请填写查找途径。"), field="channel")
    if outcome == InfoRepair.Outcome.FOUND and new_contact is None:
        raise ValidationError(_("找到新联系方式时请填写该联系方式。"), field="value")
    if new_contact is not None and new_contact.source not in LAWFUL_REPAIR_SOURCES:
        raise ValidationError(
            _("联系方式来源必须合法：委托方提供、债务人提供或催收员通话获取。"), field="source"
        )
    from recoup.cases.services import contact_point_add

    with transaction.atomic():
        point = None
        if new_contact is not None and outcome == InfoRepair.Outcome.FOUND:
            try:
                point = contact_point_add(
                    debtor=case.debtor,
                    kind=new_contact.kind,
                    value=new_contact.value,
                    role=new_contact.role,
                    name=new_contact.name,
                    label=new_contact.label,
                    source=new_contact.source,
                    actor=actor,
                )
            except RecoupError as exc:
                raise ValidationError(exc.message, field="value") from exc
        repair = InfoRepair.objects.create(
            organisation_id=case.organisation_id,
            case=case,
            actor=actor,
            outcome=outcome,
            channel=channel.strip(),
            contact_point=point,
            note=note.strip(),
        )
        Case.objects.filter(pk=case.pk).update(last_repair_at=repair.created_at)
        audit_record(
            action="contact.repair.recorded",
            actor=actor,
            organisation=case.organisation_id,
            case_id=case.pk,
            object_type="info_repair",
            object_id=repair.pk,
            data={
                "outcome": outcome,
                "channel": channel.strip(),
                "contact_point": point.pk if point else None,
            },
        )
    return repair


def case_mark_lost_contact(*, actor: User, case: Case, lost: bool) -> None:
    """Mark or clear 失联 by hand (a supervisor's or collector's judgement, audited)."""
    require_worker(actor, case)
    with transaction.atomic():
        value = now() if lost else None
        Case.objects.filter(pk=case.pk).update(lost_contact_since=value)
        audit_record(
            action="contact.lost_contact.marked" if lost else "contact.lost_contact.cleared",
            actor=actor,
            organisation=case.organisation_id,
            case_id=case.pk,
        )


# --- saved queue views -------------------------------------------------------------------


def saved_view_save(*, user: User, name: str, filters: dict[str, Any]) -> SavedQueueView:
    name = name.strip()
    if not name:
        raise ValidationError(_("请填写视图名称。"), field="name")
    view, _created = SavedQueueView.objects.update_or_create(
        user=user,
        name=name,
        defaults={"organisation_id": user.organisation_id or 0, "filters": filters},
    )
    return view


def saved_view_delete(*, user: User, view: SavedQueueView) -> None:
    if view.user_id != user.pk:
        raise PermissionDenied(_("只能删除自己的视图。"))
    view.delete()


# --- clients' own result codes ------------------------------------------------------------

RESULT_CODE_EDITORS = frozenset({"supervisor", "branch_manager", "hq", "admin_assistant"})


def client_result_codes_save(
    *, actor: User, client_id: int, codes: dict[str, tuple[str, str]]
) -> int:
    """Map Recoup's result codes to one client's own list (code, label); blank code = unmapped.

    Used in the client's reports and the dialer API. Returns how many mappings are in force.
    """
    if not actor.has_role(*RESULT_CODE_EDITORS) or actor.organisation_id is None:
        raise PermissionDenied(_("只有主管、分公司经理、总公司或协助行政可以维护委托方结果代码。"))
    unknown = sorted(set(codes) - set(Result.values))
    if unknown:
        raise ValidationError(
            _("未知结果：%(names)s") % {"names": _("、").join(unknown)}, field="codes"
        )
    with transaction.atomic():
        before = dict(
            ClientResultCode.objects.filter(
                organisation_id=actor.organisation_id, client_id=client_id
            ).values_list("result", "code")
        )
        for result, (code, label) in codes.items():
            code, label = code.strip(), label.strip()
            if not code:
                ClientResultCode.objects.filter(
                    organisation_id=actor.organisation_id, client_id=client_id, result=result
                ).delete()
                continue
            ClientResultCode.objects.update_or_create(
                organisation_id=actor.organisation_id,
                client_id=client_id,
                result=result,
                defaults={"code": code[:30], "label": label[:100]},
            )
        after = dict(
            ClientResultCode.objects.filter(
                organisation_id=actor.organisation_id, client_id=client_id
            ).values_list("result", "code")
        )
        audit_record(
            action="contact.result_codes.saved",
            actor=actor,
            organisation=actor.organisation_id,
            object_type="client",
            object_id=client_id,
            data={"before": before, "after": after},
        )
    return len(after)

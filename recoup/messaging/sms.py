"""Sending SMS: approved template → filled text → the compliance gate → a backend → records.

``sms_send`` is the one way an SMS leaves Recoup:

1. the template must be approved, of the case's client (and contract), for the contact
   point's audience (a debtor text never goes to a third party);
2. every variable must have a value (``rendering.render_for_case``), else nothing happens;
3. the gate decides (``recoup.contact.gate.decide``, channel ``sms``): night window, holds,
   third-party rules, caps. A refusal is returned with its reasons; the gate logged it.
   Asked with ``queue_outside_window``, a refusal for the night window alone queues the SMS
   for the window's next opening instead (CN-1: "queue messages for release at 08:00");
   ``sms_release_due`` (``manage.py messaging_release_sms``) sends it then, asking the gate
   again;
4. the ``Message`` row is stored *before* the backend is called (outside any transaction:
   an external call never holds a database lock), then the attempt is recorded against the
   gate's grant (``attempt_record``, result ``sent``/``failed``) with the message's status.

Delivery reports come back through ``sms_delivery_report`` (the signed callback).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from recoup.audit.services import audit_record
from recoup.cases.models import ContactPoint
from recoup.compliance.params import parse_time
from recoup.compliance.selectors import effective_rules
from recoup.contact.gate import DEBT_PARTIES, ContactRequest, Decision, Refusal, decide
from recoup.contact.services import AttemptInput, attempt_record, require_worker
from recoup.core import crypto
from recoup.core.clock import now
from recoup.core.exceptions import NotFound, PermissionDenied, RecoupError, ValidationError
from recoup.messaging.adapters import OutgoingSms, SendResult, get_backend, signature_valid
from recoup.messaging.lint import SMS_MAX_CHARS
from recoup.messaging.models import Message, MessageTemplate
from recoup.messaging.rendering import render_for_case
from recoup.messaging.selectors import message_by_reference

if TYPE_CHECKING:
    from recoup.accounts.models import User
    from recoup.cases.models import Case

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmsOutcome:
    status: str  # sent, failed, refused (by the gate), queued (for the window's opening)
    message: Message | None = None
    refusals: tuple[Refusal, ...] = ()
    error: str = ""

    @property
    def reasons(self) -> list[str]:
        return [r.reason() for r in self.refusals]


def check_sendable(
    *, template: MessageTemplate, case: Case, contact_point: ContactPoint, kind: str
) -> None:
    """The template may go to this contact point of this case (before any rendering)."""
    if (
        template.organisation_id != case.organisation_id
        or template.client_id != case.client_id
        or (template.contract_id is not None and template.contract_id != case.contract_id)
        or template.kind != kind
    ):
        raise NotFound(_("模板不存在或不适用于该案件。"))
    if template.status != MessageTemplate.Status.APPROVED:
        raise ValidationError(
            _("模板“%(name)s” v%(version)s 未批准或已被新版本取代，不能发送。")
            % {"name": template.name, "version": template.version},
            field="template",
            code="template_not_approved",
        )
    if contact_point.debtor_id != case.debtor_id:
        raise NotFound(_("联系方式不存在。"))
    debt_party = contact_point.role in DEBT_PARTIES
    if template.audience == MessageTemplate.Audience.DEBTOR and not debt_party:
        raise ValidationError(
            _("该模板以债务人本人为对象，不能发给第三方联系人（第三方不得获知欠款信息）。"),
            field="template",
            code="audience_mismatch",
        )
    if template.audience == MessageTemplate.Audience.THIRD_PARTY and debt_party:
        raise ValidationError(
            _("该模板以第三方为对象，请选择债务人本人适用的模板。"),
            field="template",
            code="audience_mismatch",
        )


def sms_send(
    *,
    actor: User,
    case: Case,
    contact_point: ContactPoint,
    template: MessageTemplate,
    at: datetime | None = None,
    due_date: date | None = None,
    queue_outside_window: bool = False,
) -> SmsOutcome:
    """Send one SMS from an approved template to a phone of the case, if the gate allows.

    Bad input (not approved, wrong audience, a variable without a value, too long) raises
    ``ValidationError`` and changes nothing; a gate refusal is returned (and was logged).
    """
    at = at or now()
    require_worker(actor, case)
    check_sendable(template=template, case=case, contact_point=contact_point, kind="sms")
    rendered = render_for_case(
        case=case, template=template, contact_point=contact_point, at=at, due_date=due_date
    )
    if len(rendered.text) > SMS_MAX_CHARS:
        raise ValidationError(
            _("短信填写变量后 %(count)s 字，超过上限 %(limit)s 字，未发送。")
            % {"count": len(rendered.text), "limit": SMS_MAX_CHARS},
            field="template",
        )
    decision = decide(
        ContactRequest(actor=actor, case=case, channel="sms", contact_point=contact_point, at=at)
    )
    if not decision.allowed:
        if queue_outside_window and decision.codes == ["outside_window"]:
            message = _queue(actor, case, contact_point, template, rendered.text, decision, at)
            return SmsOutcome("queued", message=message, refusals=decision.refusals)
        return SmsOutcome("refused", refusals=decision.refusals)
    message = _store(actor, case, contact_point, template, rendered.text, decision)
    return _dispatch(actor, message, contact_point, rendered.text, decision, at)


def _new_message(
    actor: User,
    case: Case,
    contact_point: ContactPoint,
    template: MessageTemplate,
    text: str,
) -> Message:
    message = Message(
        organisation_id=case.organisation_id,
        kind=MessageTemplate.Kind.SMS,
        case=case,
        contact_point=contact_point,
        template=template,
        template_version=template.version,
        created_by=actor,
        status=Message.Status.QUEUED,
    )
    message.body_sealed = crypto.seal(text.encode(), aad=message.body_aad())
    return message


def _store(
    actor: User,
    case: Case,
    contact_point: ContactPoint,
    template: MessageTemplate,
    text: str,
    decision: Decision,
) -> Message:
    message = _new_message(actor, case, contact_point, template, text)
    message.decision = decision.record
    message.backend = get_backend().name
    message.save()
    return message


def next_window_opening(case: Case, zone_name: str, at: datetime) -> datetime:
    """When the contact window next opens in the debtor's zone (CN: 08:00 the next morning)."""
    rules = effective_rules(case.contract)
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo(settings.TIME_ZONE)
    start = parse_time(rules.get("window_start") or "00:00")
    blocked = set(rules.get("blocked_weekdays") or [])
    local = at.astimezone(zone)
    day = local.date()
    if local.time() >= start:
        day += timedelta(days=1)
    for _step in range(8):
        if day.weekday() not in blocked:
            break
        day += timedelta(days=1)
    return datetime.combine(day, max(start, time.min), tzinfo=zone)


def _queue(
    actor: User,
    case: Case,
    contact_point: ContactPoint,
    template: MessageTemplate,
    text: str,
    decision: Decision,
    at: datetime,
) -> Message:
    zone = str(decision.refusals[0].params.get("zone") or decision.zone)
    release_at = next_window_opening(case, zone, at)
    with transaction.atomic():
        message = _new_message(actor, case, contact_point, template, text)
        message.decision = decision.record
        message.release_at = release_at
        message.save()
        audit_record(
            action="messaging.sms.queued",
            actor=actor,
            organisation=case.organisation_id,
            case_id=case.pk,
            debtor_id=case.debtor_id,
            object_type="message",
            object_id=str(message.uid),
            data={
                "template": template.pk,
                "version": template.version,
                "release_at": release_at.isoformat(),
                "rules": [r.as_dict() for r in decision.refusals],
            },
        )
    return message


def _dispatch(
    actor: User,
    message: Message,
    contact_point: ContactPoint,
    text: str,
    decision: Decision,
    at: datetime,
) -> SmsOutcome:
    assert decision.record is not None
    number = str(contact_point.personal_data().get("value") or "")
    backend = get_backend()
    try:
        result = backend.send(OutgoingSms(message_id=str(message.uid), to=number, body=text))
    except Exception as exc:  # a backend bug must not lose the record of the attempt
        logger.exception("SMS backend %s failed for message %s", backend.name, message.uid)
        result = SendResult(ok=False, error=f"{type(exc).__name__}"[:500])
    with transaction.atomic():
        attempt = attempt_record(
            actor=actor,
            decision=decision.record,
            data=AttemptInput(result="sent" if result.ok else "failed", started_at=at),
        )
        message.status = Message.Status.SENT if result.ok else Message.Status.FAILED
        message.attempt = attempt
        message.backend = backend.name
        message.provider_id = result.provider_id
        message.error = result.error
        message.sent_at = now() if result.ok else None
        message.save(
            update_fields=["status", "attempt", "backend", "provider_id", "error", "sent_at"]
        )
        audit_record(
            action="messaging.sms.sent" if result.ok else "messaging.sms.failed",
            actor=actor,
            organisation=message.organisation_id,
            case_id=message.case_id,
            debtor_id=attempt.debtor_id,
            object_type="message",
            object_id=str(message.uid),
            data={
                "template": message.template_id,
                "version": message.template_version,
                "decision": str(decision.record.uid),
                "backend": backend.name,
                "provider_id": result.provider_id,
                "error": result.error,
            },
        )
    return SmsOutcome("sent" if result.ok else "failed", message=message, error=result.error)


# --- queued SMS (CN-1) ----------------------------------------------------------------------


@dataclass
class ReleaseReport:
    sent: int = 0
    failed: int = 0
    refused: int = 0
    requeued: int = 0
    messages: list[str] = field(default_factory=list)


def sms_release_due(*, at: datetime | None = None, limit: int = 500) -> ReleaseReport:
    """Send the queued SMS whose release time has come, each asking the gate again.

    Each message is claimed first (its ``release_at`` cleared by a conditional update), so
    two workers never send the same one. Still outside the window → queued again; refused
    for another reason (a hold placed overnight, a cap) → ``refused`` with the rule codes.
    """
    at = at or now()
    report = ReleaseReport()
    due = list(
        Message.objects.filter(
            kind=MessageTemplate.Kind.SMS, status=Message.Status.QUEUED, release_at__lte=at
        )
        .order_by("release_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in due:
        claimed = Message.objects.filter(
            pk=pk, status=Message.Status.QUEUED, release_at__lte=at
        ).update(release_at=None)
        if not claimed:
            continue
        message = Message.objects.select_related(
            "case__contract",
            "case__client",
            "case__debtor",
            "contact_point",
            "template",
            "created_by",
        ).get(pk=pk)
        outcome = _release_one(message, at)
        report.messages.append(f"{message.uid} {outcome}")
        setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def _release_one(message: Message, at: datetime) -> str:
    actor, case, point, template = (
        message.created_by,
        message.case,
        message.contact_point,
        message.template,
    )
    try:
        require_worker(actor, case)
        check_sendable(template=template, case=case, contact_point=point, kind="sms")
        rendered = render_for_case(case=case, template=template, contact_point=point, at=at)
    except RecoupError as exc:
        _mark_refused(message, [], exc.message)
        return "refused"
    decision = decide(
        ContactRequest(actor=actor, case=case, channel="sms", contact_point=point, at=at)
    )
    if not decision.allowed:
        if decision.codes == ["outside_window"]:
            zone = str(decision.refusals[0].params.get("zone") or decision.zone)
            message.release_at = next_window_opening(case, zone, at)
            message.save(update_fields=["release_at"])
            return "requeued"
        _mark_refused(message, [r.as_dict() for r in decision.refusals], "")
        return "refused"
    message.body_sealed = crypto.seal(rendered.text.encode(), aad=message.body_aad())
    message.decision = decision.record
    message.save(update_fields=["body_sealed", "decision"])
    outcome = _dispatch(actor, message, point, rendered.text, decision, at)
    return "sent" if outcome.status == "sent" else "failed"


def _mark_refused(message: Message, rules: list[dict[str, Any]], error: str) -> None:
    with transaction.atomic():
        message.status = Message.Status.REFUSED
        message.refusals = rules
        message.error = error[:500]
        message.save(update_fields=["status", "refusals", "error"])
        audit_record(
            action="messaging.sms.refused",
            actor=None,
            organisation=message.organisation_id,
            case_id=message.case_id,
            object_type="message",
            object_id=str(message.uid),
            data={"rules": rules, "error": error},
        )


# --- delivery reports -------------------------------------------------------------------------

REPORTABLE = {Message.Status.DELIVERED, Message.Status.FAILED}
FINAL = frozenset({Message.Status.DELIVERED, Message.Status.FAILED, Message.Status.REFUSED})


def sms_delivery_report(*, body: bytes, signature: str) -> Message:
    """Apply a gateway's signed delivery report: ``{"id": …, "status": "delivered"|"failed"}``.

    A bad or missing signature raises ``PermissionDenied`` and nothing is read or changed.
    ``id`` is our message id (sent to the gateway) or the gateway's own. A repeated report
    is accepted without change; a report contradicting a final status is refused.
    """
    if not signature_valid(body, signature, getattr(settings, "RECOUP_SMS_GATEWAY_SECRET", "")):
        raise PermissionDenied(_("签名无效。"))
    try:
        data = json.loads(body)
        reference = str(data["id"])
        status = str(data["status"])
    except (ValueError, KeyError, TypeError):
        raise ValidationError(_("回执格式无效：须为 JSON，含 id 和 status。")) from None
    if status not in REPORTABLE:
        raise ValidationError(_("回执状态无效：%(status)s。") % {"status": status}, field="status")
    found = message_by_reference(reference)
    if found is None or found.kind != MessageTemplate.Kind.SMS:
        raise NotFound(_("短信不存在。"))
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=found.pk)
        if message.status == status:
            return message
        if message.status in FINAL:
            raise RecoupError(
                _("短信状态已是“%(status)s”，不能改为“%(new)s”。")
                % {"status": message.get_status_display(), "new": status},
                code="conflict",
            )
        previous = message.status
        message.status = status
        message.error = str(data.get("error") or "")[:500]
        if status == Message.Status.DELIVERED:
            message.delivered_at = now()
        message.save(update_fields=["status", "error", "delivered_at"])
        audit_record(
            action="messaging.sms.status_reported",
            actor=None,
            organisation=message.organisation_id,
            case_id=message.case_id,
            object_type="message",
            object_id=str(message.uid),
            data={"from": previous, "to": status, "error": message.error},
        )
    return message

"""The contact API under /api/v1/contact: dialers and robots ask, report, upload recordings.

1. ``POST /authorize`` before every dial: the compliance gate's decision (logged). A refusal
   is an answer (200, ``allowed: false`` with the rules and their reasons), not an error.
2. ``POST /attempts`` after the call: its outcome against the decision; a retry of the same
   report returns the same attempt, a different one is a conflict (409).
3. ``POST /recordings`` later: the call's recording, matched by call id and verified by its
   SHA-256; ``GET /recordings/{uid}`` its metadata (the browser plays it at ``play_url``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.http import HttpRequest
from django.urls import reverse
from ninja import File, Form, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import Status
from pydantic import AwareDatetime, Field

from recoup.accounts.models import User
from recoup.contact import dialer, recordings
from recoup.contact.gate import Decision, Refusal
from recoup.contact.models import ContactAttempt, Recording
from recoup.contact.selectors import client_code_for
from recoup.contact.services import AttemptInput, parse_promise
from recoup.core.exceptions import RecoupError, ValidationError

router = Router(tags=["contact"])

# Errors a report can meet that are about the state of things, not the input (409).
CONFLICTS = frozenset({"already_reported", "refused_decision", "already_uploaded"})


class ErrorOut(Schema):
    error: str
    code: str
    field: str = ""


class RuleOut(Schema):
    code: str
    reason_zh: str
    reason_en: str


class AuthorizeIn(Schema):
    case_id: int | None = Field(default=None, ge=1)
    client_case_number: str = Field(default="", max_length=80)
    contract: str = Field(default="", max_length=80)  # the contract number (协议编号)
    contact_point_id: str = Field(default="", max_length=64)  # the contact point's uid
    channel: str = Field(max_length=20)
    mode: str = Field(default="", max_length=20)
    at: AwareDatetime | None = None  # visits only: the slot's start
    until: AwareDatetime | None = None  # visits only: the slot's end
    participants: list[str] = Field(default_factory=list, max_length=10)  # visits: usernames


class AuthorizeOut(Schema):
    decision_id: UUID
    allowed: bool
    at: datetime
    expires_at: datetime | None
    rules: list[RuleOut]
    notices: list[RuleOut]
    profile_versions: dict[str, int]


class AttemptIn(Schema):
    decision_id: UUID
    call_id: str = Field(min_length=1, max_length=100)
    started_at: AwareDatetime
    answered_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    result: str = Field(max_length=20)
    notes: str = Field(default="", max_length=4000)
    overdue_reason: str = Field(default="", max_length=20)
    next_follow_up_at: AwareDatetime | None = None
    promise_amount: Decimal | None = Field(default=None, max_digits=16, decimal_places=2)
    promise_due_on: date | None = None
    third_party_refused: bool = False


class PromiseOut(Schema):
    amount: Decimal
    due_on: date


class AttemptOut(Schema):
    attempt_id: UUID
    decision_id: UUID
    call_id: str
    result: str
    case_id: int
    case_status: str
    flagged_for_review: bool
    lexicon_hits: list[str]
    promise: PromiseOut | None
    client_result_code: str  # the client's own code for the result ("" when unmapped)


class RecordingOut(Schema):
    recording_id: UUID
    attempt_id: UUID
    call_id: str
    case_id: int
    sha256: str
    size: int
    content_type: str
    retain_until: date
    uploaded_by: str
    created_at: datetime
    play_url: str


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _error(status: int, exc: RecoupError) -> Status[dict[str, str]]:
    return Status(
        status, {"error": exc.message, "code": exc.code, "field": getattr(exc, "field", "")}
    )


def _rules(items: tuple[Refusal, ...]) -> list[dict[str, str]]:
    return [
        {"code": r.code, "reason_zh": r.reason("zh-hans"), "reason_en": r.reason("en")}
        for r in items
    ]


def _decision_out(decision: Decision) -> dict[str, Any]:
    record = decision.record
    assert record is not None, "decide() always logs its decision"
    return {
        "decision_id": record.uid,
        "allowed": decision.allowed,
        "at": record.at,
        "expires_at": decision.expires_at,
        "rules": _rules(decision.refusals),
        "notices": _rules(decision.notices),
        "profile_versions": decision.profile_versions,
    }


@router.post(
    "/authorize",
    response={200: AuthorizeOut, 400: ErrorOut, 404: ErrorOut},
    operation_id="api_contact_authorize",
)
def api_contact_authorize(
    request: HttpRequest, body: AuthorizeIn
) -> dict[str, Any] | Status[dict[str, str]]:
    """Ask before dialling. ``allowed: false`` lists every refusing rule with its reason in
    Chinese and English; an allowed decision holds its slot until ``expires_at``."""
    user = _user(request)
    try:
        case = dialer.case_get_for_dialer(
            user,
            case_id=body.case_id,
            client_case_number=body.client_case_number,
            contract=body.contract,
        )
        point = (
            dialer.contact_point_get_for_case(case, body.contact_point_id)
            if body.contact_point_id
            else None
        )
        participants = dialer.participants_get(user, body.participants)
        decision = dialer.contact_authorize(
            actor=user,
            case=case,
            channel=body.channel,
            mode=body.mode,
            contact_point=point,
            at=body.at,
            until=body.until,
            participants=participants,
        )
    except ValidationError as exc:
        return _error(400, exc)
    return _decision_out(decision)


def _attempt_out(attempt: ContactAttempt) -> dict[str, Any]:
    promise = dialer.attempt_promise(attempt)
    return {
        "attempt_id": attempt.uid,
        "decision_id": attempt.decision.uid,
        "call_id": attempt.call_id,
        "result": attempt.result,
        "case_id": attempt.case_id,
        "case_status": attempt.case.status,
        "flagged_for_review": attempt.flagged_for_review,
        "lexicon_hits": sorted({h["category"] for h in attempt.lexicon_hits}),
        "promise": {"amount": promise.amount, "due_on": promise.due_on} if promise else None,
        "client_result_code": client_code_for(attempt),
    }


@router.post(
    "/attempts",
    response={200: AttemptOut, 201: AttemptOut, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    operation_id="api_contact_attempt",
)
def api_contact_attempt(request: HttpRequest, body: AttemptIn) -> Status[dict[str, Any]]:
    """Report what happened after an allowed decision (201; 200 for a retry of the same)."""
    user = _user(request)
    decision = dialer.decision_get_for_dialer(user, body.decision_id)
    try:
        promise = parse_promise(
            "" if body.promise_amount is None else str(body.promise_amount), body.promise_due_on
        )
        attempt, created = dialer.attempt_report(
            actor=user,
            decision=decision,
            data=AttemptInput(
                result=body.result,
                started_at=body.started_at,
                answered_at=body.answered_at,
                ended_at=body.ended_at,
                call_id=body.call_id.strip(),
                notes=body.notes,
                overdue_reason=body.overdue_reason,
                next_follow_up_at=body.next_follow_up_at,
                promise=promise,
                third_party_refused=body.third_party_refused,
            ),
        )
    except ValidationError as exc:
        return _error(400, exc)
    except RecoupError as exc:
        if exc.code in CONFLICTS:
            return _error(409, exc)
        raise
    return Status(201 if created else 200, _attempt_out(attempt))


def _recording_out(recording: Recording) -> dict[str, Any]:
    attempt = recording.attempt
    return {
        "recording_id": recording.uid,
        "attempt_id": attempt.uid,
        "call_id": attempt.call_id,
        "case_id": attempt.case_id,
        "sha256": recording.sha256,
        "size": recording.size,
        "content_type": recording.content_type,
        "retain_until": recording.retain_until,
        "uploaded_by": recording.uploaded_by.username,
        "created_at": recording.created_at,
        "play_url": reverse("recordings:recording-play", args=[recording.uid]),
    }


@router.post(
    "/recordings",
    response={201: RecordingOut, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    operation_id="api_recording_upload",
)
def api_recording_upload(
    request: HttpRequest,
    file: File[UploadedFile],
    call_id: Form[str],
    sha256: Form[str],
) -> Status[dict[str, Any]]:
    """Upload a call's recording (multipart): matched to the attempt reported with
    ``call_id``; refused, with nothing stored, unless its SHA-256 is ``sha256``."""
    user = _user(request)
    try:
        recording = recordings.recording_store(
            actor=user,
            upload=recordings.RecordingUpload(
                call_id=call_id,
                sha256=sha256,
                file=file,
                file_name=file.name or "",
                content_type=file.content_type or "",
            ),
        )
    except recordings.RecordingConflict as exc:
        return _error(409, exc)
    except (ValidationError, recordings.ChecksumMismatch) as exc:
        return _error(400, exc)
    return Status(201, _recording_out(recording))


@router.get(
    "/recordings/{recording_id}",
    response={200: RecordingOut, 404: ErrorOut},
    operation_id="api_recording_detail",
)
def api_recording_detail(request: HttpRequest, recording_id: UUID) -> dict[str, Any]:
    return _recording_out(recordings.recording_get_for_user(_user(request), recording_id))

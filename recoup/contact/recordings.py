"""Call recordings: stored with their checksum, played by permission, kept for the retention.

The call system uploads a recording after the call and names the call id its attempt was
reported with (``POST /api/v1/contact/recordings``). The upload is streamed to disk while it
is hashed and refused unless the SHA-256 matches the one sent: a recording is evidence
(COMPLIANCE.md CN-5, US-12), so a damaged file is never stored in its place. Every play is
audited; nothing is deleted before ``retain_until``, fixed at upload from the profile's
``recording_retention_days``.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import tempfile
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import IO, TYPE_CHECKING

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from recoup.accounts.roles import VIEW, WORK
from recoup.audit.services import audit_record
from recoup.cases.permissions import cases_user_can, user_can
from recoup.compliance.selectors import effective_rules
from recoup.contact.models import ContactAttempt, Recording
from recoup.core.clock import now
from recoup.core.exceptions import NotFound, RecoupError, ValidationError

if TYPE_CHECKING:
    from recoup.accounts.models import User

# CN-5: records of collection kept at least 2 years; a profile may ask for more.
DEFAULT_RETENTION_DAYS = 730
CHUNK = 1 << 16
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class RecordingConflict(RecoupError):
    """The attempt already has its recording (409)."""

    code = "already_uploaded"


class ChecksumMismatch(RecoupError):
    """The bytes received are not the bytes the call system hashed (400; nothing stored)."""

    code = "checksum_mismatch"


def max_bytes() -> int:
    return int(getattr(settings, "RECOUP_RECORDING_MAX_BYTES", 512 << 20))


def attempt_get_by_call_id(actor: User, call_id: str) -> ContactAttempt:
    """The attempt reported with ``call_id`` in the actor's organisation, for its recording.

    The caller is the one who reported the attempt, or works the case. Unknown call ids and
    attempts the caller may not touch get the same answer, so call ids cannot be probed.
    """
    missing = NotFound(
        _("没有通话编号为“%(call_id)s”的联系记录，请先上报该次通话的结果。") % {"call_id": call_id}
    )
    if not call_id or actor.organisation_id is None:
        raise missing
    attempt = (
        ContactAttempt.objects.for_org(actor.organisation_id)
        .select_related("case", "case__contract")
        .filter(call_id=call_id)
        .first()
    )
    if attempt is None or (
        attempt.actor_id != actor.pk and not user_can(actor, WORK, attempt.case)
    ):
        raise missing
    return attempt


def retention_days(attempt: ContactAttempt) -> int:
    """``recording_retention_days`` of the case's profiles (most restrictive), or 2 years."""
    days = effective_rules(attempt.case.contract).get("recording_retention_days")
    return int(days) if days else DEFAULT_RETENTION_DAYS


def _content_type(content_type: str, file_name: str) -> str:
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared.startswith("audio/"):
        return declared
    guessed, _encoding = mimetypes.guess_type(file_name or "")
    if guessed and guessed.startswith("audio/"):
        return guessed
    raise ValidationError(
        _("录音须为音频文件（收到的类型为“%(type)s”）。") % {"type": declared or file_name},
        field="file",
        code="not_audio",
    )


def _spool(upload: IO[bytes]) -> tuple[str, str, int]:
    """Copy the upload to a temporary file while hashing it; (path, sha256, size)."""
    limit = max_bytes()
    digest, size = hashlib.sha256(), 0
    with tempfile.NamedTemporaryFile(delete=False, prefix="recording-") as tmp:
        try:
            while chunk := upload.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise ValidationError(
                        _("录音文件超过大小上限（%(mb)d MB）。") % {"mb": limit // (1 << 20)},
                        field="file",
                        code="too_large",
                    )
                digest.update(chunk)
                tmp.write(chunk)
        except BaseException:
            tmp.close()
            os.unlink(tmp.name)
            raise
    return tmp.name, digest.hexdigest(), size


@dataclass(frozen=True)
class RecordingUpload:
    call_id: str
    sha256: str
    file: IO[bytes]
    file_name: str = ""
    content_type: str = ""


def recording_store(*, actor: User, upload: RecordingUpload) -> Recording:
    """Store the recording of a reported call, verified against its SHA-256.

    Refused, with nothing stored, when the call id is unknown, the attempt already has a
    recording, the file is not audio or empty, or the checksum does not match. The file is
    written before the row; if the row cannot be written the file is removed again, so a
    file without its row (or a row without its file) is never left behind.
    """
    expected = (upload.sha256 or "").strip().lower()
    if not _SHA256.match(expected):
        raise ValidationError(
            _("SHA-256 校验值须为 64 位十六进制字符。"), field="sha256", code="invalid_sha256"
        )
    attempt = attempt_get_by_call_id(actor, upload.call_id.strip())
    if Recording.objects.filter(attempt_id=attempt.pk).exists():
        raise RecordingConflict(
            _("通话“%(call_id)s”的录音已经上传过。") % {"call_id": attempt.call_id}
        )
    content_type = _content_type(upload.content_type, upload.file_name)
    spooled, digest, size = _spool(upload.file)
    try:
        if digest != expected:
            raise ChecksumMismatch(
                _("录音校验失败：文件的 SHA-256 与上报的不一致，已拒收。请重新上传完整文件。")
            )
        if size == 0:
            raise ValidationError(_("录音文件为空。"), field="file", code="empty")
        at = now()
        uid = uuid.uuid4()
        local = timezone.localtime(at)
        name = f"recordings/{attempt.organisation_id}/{local:%Y}/{local:%m}/{uid}"
        with open(spooled, "rb") as fh:
            stored = default_storage.save(name, File(fh))
    finally:
        os.unlink(spooled)
    try:
        with transaction.atomic():
            recording = Recording.objects.create(
                organisation_id=attempt.organisation_id,
                uid=uid,
                attempt=attempt,
                sha256=digest,
                size=size,
                content_type=content_type,
                file=stored,
                retain_until=max(at, attempt.started_at).astimezone(local.tzinfo).date()
                + timedelta(days=retention_days(attempt)),
                uploaded_by=actor,
            )
            audit_record(
                action="contact.recording.uploaded",
                actor=actor,
                organisation=attempt.organisation_id,
                case_id=attempt.case_id,
                debtor_id=attempt.debtor_id,
                object_type="recording",
                object_id=recording.pk,
                data={
                    "uid": str(uid),
                    "attempt": str(attempt.uid),
                    "call_id": attempt.call_id,
                    "sha256": digest,
                    "size": size,
                    "retain_until": recording.retain_until.isoformat(),
                },
            )
    except IntegrityError:
        # Two uploads of the same call raced past the check above: the one-to-one kept one.
        default_storage.delete(stored)
        raise RecordingConflict(
            _("通话“%(call_id)s”的录音已经上传过。") % {"call_id": attempt.call_id}
        ) from None
    except BaseException:
        default_storage.delete(stored)
        raise
    return recording


def recording_get_for_user(user: User, uid: uuid.UUID | str) -> Recording:
    """A recording of a case the user may see, or NotFound (the same for both)."""
    missing = NotFound(_("录音不存在。"))
    try:
        key = uid if isinstance(uid, uuid.UUID) else uuid.UUID(str(uid))
    except ValueError:
        raise missing from None
    recording = (
        Recording.objects.for_org(user.organisation_id or 0)
        .select_related("attempt", "attempt__case", "uploaded_by")
        .filter(uid=key, attempt__case__in=cases_user_can(user, VIEW))
        .first()
    )
    if recording is None:
        raise missing
    return recording


def recording_open_for_play(
    *, actor: User, recording: Recording, first_byte: int = 0
) -> File[bytes]:
    """Open the recording's file for the actor to listen to; audited.

    One audit event per play: a request from the first byte (or without a range) is a play,
    and the range requests a player makes while seeking are not logged again.
    """
    attempt = recording.attempt
    if not user_can(actor, VIEW, attempt.case):
        raise NotFound(_("录音不存在。"))
    try:
        fh = default_storage.open(recording.file.name or "", "rb")
    except (FileNotFoundError, IsADirectoryError):
        raise NotFound(_("录音文件已不存在（可能已过保存期被清除）。")) from None
    if first_byte == 0:
        try:
            audit_record(
                action="contact.recording.played",
                actor=actor,
                organisation=recording.organisation_id,
                case_id=attempt.case_id,
                debtor_id=attempt.debtor_id,
                object_type="recording",
                object_id=recording.pk,
                data={"uid": str(recording.uid), "call_id": attempt.call_id},
            )
        except BaseException:
            fh.close()
            raise
    return fh


class RetentionNotOver(RecoupError):
    code = "retention"


def recording_purge(*, recording: Recording, today: date, actor: User | None = None) -> None:
    """Delete a recording whose retention is over; refused inside the retention (CN-5).

    The audit event is the purge certificate: which recording, its checksum, size and the
    retention it was kept for. The file goes once the deletion has committed.
    """
    with transaction.atomic():
        locked = (
            Recording.objects.select_for_update()
            .select_related("attempt")
            .filter(pk=recording.pk)
            .first()
        )
        if locked is None:
            raise NotFound(_("录音不存在。"))
        if today <= locked.retain_until:
            raise RetentionNotOver(
                _("录音须保存至 %(date)s，保存期内不得删除。")
                % {"date": locked.retain_until.isoformat()}
            )
        name = locked.file.name
        attempt = locked.attempt
        audit_record(
            action="contact.recording.purged",
            actor=actor,
            organisation=locked.organisation_id,
            case_id=attempt.case_id,
            debtor_id=attempt.debtor_id,
            object_type="recording",
            object_id=locked.pk,
            data={
                "uid": str(locked.uid),
                "attempt": str(attempt.uid),
                "call_id": attempt.call_id,
                "sha256": locked.sha256,
                "size": locked.size,
                "uploaded_at": locked.created_at.isoformat(),
                "retain_until": locked.retain_until.isoformat(),
                "purged_on": today.isoformat(),
            },
        )
        locked.delete()
        transaction.on_commit(lambda: default_storage.delete(name) if name else None)


def recording_purge_expired(*, today: date) -> int:
    """Purge every recording whose retention ended before ``today`` (a daily job)."""
    count = 0
    expired = list(Recording.objects.filter(retain_until__lt=today).order_by("pk"))
    for recording in expired:
        try:
            recording_purge(recording=recording, today=today)
        except (NotFound, RetentionNotOver):
            continue  # gone meanwhile, or its retention was extended
        count += 1
    return count

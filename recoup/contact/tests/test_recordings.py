"""Call recordings: upload by call id with a checksum, play with range requests, retention."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from recoup.accounts.models import Role
from recoup.accounts.services import api_token_create
from recoup.audit.models import AuditEvent
from recoup.compliance.services import profile_save
from recoup.contact.models import ContactAttempt, Recording
from recoup.contact.recording_views import RangeNotSatisfiable, parse_range
from recoup.contact.recordings import (
    RetentionNotOver,
    recording_purge,
    recording_purge_expired,
)
from recoup.contact.tests.helpers import bj, call

pytestmark = pytest.mark.django_db

CALL_AT = bj(2026, 11, 23, 10, 0)
UPLOAD_AT = CALL_AT + timedelta(minutes=5)
AUDIO = bytes(range(256)) * 4  # 1024 bytes: byte i is i % 256
SHA = hashlib.sha256(AUDIO).hexdigest()


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


@pytest.fixture
def attempt(world: Any) -> ContactAttempt:
    made = call(world.ada, world.cases["ada_case"], CALL_AT, "debtor", call_id="CALL-1")
    assert isinstance(made, ContactAttempt)
    return made


def _auth(world: Any, user: Any, role: str) -> dict[str, str]:
    _token, raw = api_token_create(
        organisation=user.organisation,
        user=user,
        role=role,
        name="pbx",
        expires_at=None,
        actor=None,
    )
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def _upload(
    client: Any,
    auth: dict[str, str],
    *,
    call_id: str = "CALL-1",
    sha256: str = SHA,
    content: bytes = AUDIO,
    name: str = "call.wav",
    content_type: str = "audio/wav",
) -> Any:
    with time_machine.travel(UPLOAD_AT, tick=False):
        return client.post(
            "/api/v1/contact/recordings",
            {
                "call_id": call_id,
                "sha256": sha256,
                "file": SimpleUploadedFile(name, content, content_type=content_type),
            },
            **auth,
        )


def _stored_files(media: Path) -> list[Path]:
    return [p for p in (media / "recordings").rglob("*") if p.is_file()]


@pytest.fixture
def recording(world: Any, client: Any, media: Path, attempt: ContactAttempt) -> Recording:
    response = _upload(client, _auth(world, world.ada, "collector"))
    assert response.status_code == 201, response.content
    return Recording.objects.get(uid=response.json()["recording_id"])


# --- upload ------------------------------------------------------------------------------


def test_a_recording_is_stored_with_its_checksum_and_retention(world, client, media, attempt):
    response = _upload(client, _auth(world, world.ada, "collector"))
    assert response.status_code == 201, response.content
    data = response.json()
    recording = Recording.objects.get(uid=data["recording_id"])
    assert recording.attempt == attempt
    assert data["attempt_id"] == str(attempt.uid)
    assert data["call_id"] == "CALL-1"
    assert data["sha256"] == SHA
    assert data["size"] == len(AUDIO)
    assert data["content_type"] == "audio/wav"
    assert data["uploaded_by"] == "ada"
    # CN default: kept 730 days from the upload (≥ 2 years, CN-5).
    assert data["retain_until"] == (date(2026, 11, 23) + timedelta(days=730)).isoformat()
    assert data["play_url"] == f"/recordings/{recording.uid}/"
    path = media / recording.file.name
    assert recording.file.name == f"recordings/{world.org.pk}/2026/11/{recording.uid}"
    assert path.read_bytes() == AUDIO
    event = AuditEvent.objects.get(action="contact.recording.uploaded")
    assert event.case_id == attempt.case_id
    assert event.data["sha256"] == SHA


def test_the_metadata_is_readable_by_who_may_see_the_case(world, client, recording):
    ok = client.get(
        f"/api/v1/contact/recordings/{recording.uid}", **_auth(world, world.sue, "supervisor")
    )
    assert ok.status_code == 200
    assert ok.json()["recording_id"] == str(recording.uid)
    hidden = client.get(
        f"/api/v1/contact/recordings/{recording.uid}", **_auth(world, world.ben, "collector")
    )
    assert hidden.status_code == 404


def test_a_wrong_checksum_is_refused_and_nothing_is_stored(world, client, media, attempt):
    response = _upload(client, _auth(world, world.ada, "collector"), sha256="0" * 64)
    assert response.status_code == 400
    data = response.json()
    assert data["code"] == "checksum_mismatch"
    assert "拒收" in data["error"]
    assert not Recording.objects.exists()
    assert not (media / "recordings").exists() or not _stored_files(media)
    assert not AuditEvent.objects.filter(action="contact.recording.uploaded").exists()


def test_a_truncated_upload_is_refused(world, client, media, attempt):
    response = _upload(client, _auth(world, world.ada, "collector"), content=AUDIO[:500])
    assert response.status_code == 400
    assert response.json()["code"] == "checksum_mismatch"
    assert not Recording.objects.exists()


def test_an_unknown_call_id_is_404_with_the_id_named(world, client, media, attempt):
    response = _upload(client, _auth(world, world.ada, "collector"), call_id="NO-SUCH-CALL")
    assert response.status_code == 404
    assert "NO-SUCH-CALL" in response.json()["error"]
    assert not Recording.objects.exists()


def test_another_organisation_cannot_reach_the_call(world, client, media, attempt):
    response = _upload(client, _auth(world, world.ola, "supervisor"))
    assert response.status_code == 404
    assert not Recording.objects.exists()


def test_a_collector_who_does_not_work_the_case_gets_404(world, client, media, attempt):
    response = _upload(client, _auth(world, world.ben, "collector"))
    assert response.status_code == 404


def test_a_second_upload_for_the_same_call_is_a_conflict(world, client, media, recording):
    again = _upload(client, _auth(world, world.ada, "collector"))
    assert again.status_code == 409
    assert again.json()["code"] == "already_uploaded"
    assert Recording.objects.count() == 1
    assert _stored_files(media) == [media / recording.file.name]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"sha256": "not-a-checksum"}, "sha256"),
        ({"name": "notes.txt", "content_type": "text/plain"}, "file"),
        ({"content": b"", "sha256": hashlib.sha256(b"").hexdigest()}, "file"),
    ],
)
def test_bad_uploads_name_the_field(world, client, media, attempt, changes, field):
    response = _upload(client, _auth(world, world.ada, "collector"), **changes)
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field
    assert not Recording.objects.exists()
    assert not (media / "recordings").exists() or not _stored_files(media)


def test_the_retention_comes_from_the_profile(world, client, media, attempt):
    officer = world.hal
    officer.role_assignments.create(role=Role.objects.get(code="compliance_officer"))
    officer = type(officer).objects.get(pk=officer.pk)
    profile_save(
        actor=officer,
        organisation=world.org,
        code="bank-a-records",
        params={"recording_retention_days": 1825},
        note="甲银行合同：录音保存 5 年",
        contract=attempt.case.contract,
    )
    response = _upload(client, _auth(world, world.ada, "collector"))
    assert (
        response.json()["retain_until"] == (date(2026, 11, 23) + timedelta(days=1825)).isoformat()
    )


# --- playing -----------------------------------------------------------------------------


def _play(client: Any, recording: Recording, **headers: str) -> Any:
    with time_machine.travel(UPLOAD_AT, tick=False):
        return client.get(f"/recordings/{recording.uid}/", **headers)


def _body(response: Any) -> bytes:
    return b"".join(response.streaming_content)


@pytest.fixture
def ada_session(world: Any, client: Any, login: Any) -> Any:
    with time_machine.travel(UPLOAD_AT, tick=False):  # sessions end after 30 idle minutes
        login(world.ada)
    return client


def test_the_whole_file_without_a_range(recording, ada_session):
    response = _play(ada_session, recording)
    assert response.status_code == 200
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Type"] == "audio/wav"
    assert response["Content-Length"] == str(len(AUDIO))
    assert "no-store" in response["Cache-Control"]
    assert _body(response) == AUDIO


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=10-", 10, 1023),
        ("bytes=-5", 1019, 1023),
        ("bytes=1000-5000", 1000, 1023),
    ],
)
def test_a_range_is_answered_with_206(recording, ada_session, header, first, last):
    response = _play(ada_session, recording, HTTP_RANGE=header)
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {first}-{last}/1024"
    assert response["Content-Length"] == str(last - first + 1)
    assert response["Accept-Ranges"] == "bytes"
    assert _body(response) == AUDIO[first : last + 1]


@pytest.mark.parametrize("header", ["bytes=1024-", "bytes=5000-6000", "bytes=-0"])
def test_an_unsatisfiable_range_is_416(recording, ada_session, header):
    response = _play(ada_session, recording, HTTP_RANGE=header)
    assert response.status_code == 416
    assert response["Content-Range"] == "bytes */1024"


def test_a_stale_if_range_gets_the_whole_file(recording, ada_session):
    response = _play(ada_session, recording, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"other"')
    assert response.status_code == 200
    assert _body(response) == AUDIO
    matching = _play(
        ada_session, recording, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=f'"{recording.sha256}"'
    )
    assert matching.status_code == 206


def test_every_play_is_audited_once_not_every_seek(world, recording, ada_session):
    def plays() -> int:
        return AuditEvent.objects.filter(action="contact.recording.played").count()

    _body(_play(ada_session, recording))
    assert plays() == 1
    _body(_play(ada_session, recording, HTTP_RANGE="bytes=10-"))  # seeking
    _body(_play(ada_session, recording, HTTP_RANGE="bytes=500-600"))
    assert plays() == 1
    _body(_play(ada_session, recording, HTTP_RANGE="bytes=0-"))  # played again from the start
    assert plays() == 2
    event = AuditEvent.objects.filter(action="contact.recording.played").first()
    assert event is not None
    assert event.actor_id == world.ada.pk
    assert event.case_id == recording.attempt.case_id
    assert event.data["uid"] == str(recording.uid)


def test_someone_who_may_not_see_the_case_gets_404_and_no_play(world, client, login, recording):
    with time_machine.travel(UPLOAD_AT, tick=False):
        login(world.ben)
    response = _play(client, recording)
    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action="contact.recording.played").exists()


def test_playing_needs_a_login(client, recording):
    response = _play(client, recording)
    assert response.status_code == 302
    assert not AuditEvent.objects.filter(action="contact.recording.played").exists()


def test_parse_range_ignores_what_it_does_not_understand():
    assert parse_range("", 100) is None
    assert parse_range("items=0-5", 100) is None
    assert parse_range("bytes=0-5,10-20", 100) is None  # several ranges: the whole file
    assert parse_range("bytes=9-3", 100) is None  # invalid: ignored, RFC 9110 §14.1.1
    assert parse_range("bytes=-200", 100) == (0, 99)
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=100-", 100)


# --- retention ---------------------------------------------------------------------------


def test_a_recording_inside_its_retention_is_never_purged(
    recording, media, django_capture_on_commit_callbacks
):
    path = media / recording.file.name
    last_day = recording.retain_until
    with pytest.raises(RetentionNotOver) as refused:
        recording_purge(recording=recording, today=last_day)
    assert last_day.isoformat() in refused.value.message
    with django_capture_on_commit_callbacks(execute=True):
        assert recording_purge_expired(today=last_day) == 0
        assert recording_purge_expired(today=date(2028, 10, 23)) == 0  # 23 months later
    assert Recording.objects.filter(pk=recording.pk).exists()
    assert path.read_bytes() == AUDIO
    assert not AuditEvent.objects.filter(action="contact.recording.purged").exists()


def test_an_expired_recording_is_purged_with_a_certificate(
    recording, media, django_capture_on_commit_callbacks
):
    path = media / recording.file.name
    with django_capture_on_commit_callbacks(execute=True):
        assert recording_purge_expired(today=recording.retain_until + timedelta(days=1)) == 1
    assert not Recording.objects.exists()
    assert not path.exists()
    certificate = AuditEvent.objects.get(action="contact.recording.purged")
    assert certificate.data["sha256"] == SHA
    assert certificate.data["size"] == len(AUDIO)
    assert certificate.data["retain_until"] == recording.retain_until.isoformat()
    assert certificate.case_id == recording.attempt.case_id
    # The attempt itself stays: only the recording's retention ended.
    assert ContactAttempt.objects.filter(pk=recording.attempt_id).exists()


def test_a_failed_database_write_leaves_no_file(world, client, media, attempt, monkeypatch):
    from recoup.contact import recordings

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(recordings, "audit_record", broken)
    with pytest.raises(RuntimeError):
        _upload(client, _auth(world, world.ada, "collector"))
    assert not Recording.objects.exists()
    assert not _stored_files(media)

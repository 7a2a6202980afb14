"""Sending SMS: gate, rendering, backends, records, the night queue, delivery reports."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import time_machine

from recoup.audit.models import AuditEvent
from recoup.cases.models import Hold
from recoup.cases.services import case_put_on_hold
from recoup.contact.models import ContactAttempt, ContactDecision
from recoup.contact.tests.helpers import add_third_party, bj, phone_of
from recoup.core.exceptions import NotFound, PermissionDenied, RecoupError, ValidationError
from recoup.messaging.adapters import SIGNATURE_HEADER, sign
from recoup.messaging.models import Message
from recoup.messaging.services import TemplateInput, template_save
from recoup.messaging.sms import sms_delivery_report, sms_release_due, sms_send
from recoup.messaging.tests.helpers import (
    OFFICIAL_CHANNEL,
    SMS_BODY,
    THIRD_PARTY_BODY,
    approved,
    settings_for,
)

pytestmark = pytest.mark.django_db

MONDAY = (2026, 11, 23)
SECRET = "gateway-test-secret"


@pytest.fixture
def outbox(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path / "outbox"


@pytest.fixture
def ready(world, outbox):
    settings_for(world.bank_a, world.sue)
    return approved(world.sue, world.hal, world.bank_a)


def send(world, template, at, *, point=None, **kwargs):
    case = world.cases["ada_case"]
    with time_machine.travel(at, tick=False):
        return sms_send(
            actor=world.ada,
            case=case,
            contact_point=point or phone_of(case),
            template=template,
            at=at,
            **kwargs,
        )


def outbox_lines(outbox: Path) -> list[dict]:
    if not outbox.exists():
        return []
    return [
        json.loads(line) for f in sorted(outbox.iterdir()) for line in f.read_text().splitlines()
    ]


def test_an_sms_is_rendered_sent_through_the_file_backend_and_recorded(world, ready, outbox):
    outcome = send(world, ready, bj(*MONDAY, 10, 0))
    assert outcome.status == "sent", outcome.reasons
    [line] = outbox_lines(outbox)
    assert line["to"] == "13812341234"
    assert line["body"] == (
        f"张三丰您好，您在甲银行的信用卡欠款 10,573.45 元已逾期，请通过{OFFICIAL_CHANNEL}还款。"
        "如有疑问请致电 400-800-1234。"
    )
    message = Message.objects.get()
    assert message.status == "sent"
    assert (message.template_id, message.template_version) == (ready.pk, 1)
    assert message.provider_id == f"file:{message.uid}"
    assert message.body() == line["body"]
    assert "张三丰".encode() not in bytes(message.body_sealed)
    attempt = ContactAttempt.objects.get()
    assert (attempt.channel, attempt.result) == ("sms", "sent")
    assert message.attempt == attempt
    assert message.decision.allowed
    assert message.decision.consumed_at is not None
    event = AuditEvent.objects.get(action="messaging.sms.sent")
    assert event.case_id == world.cases["ada_case"].pk
    assert event.data["version"] == 1


def test_a_variable_without_a_value_is_refused_and_nothing_happens(world, outbox):
    template = approved(world.sue, world.hal, world.bank_a)  # bank_a has no settings yet
    with pytest.raises(ValidationError) as err:
        send(world, template, bj(*MONDAY, 10, 0))
    assert "{{repayment_channel}}" in err.value.message
    assert "甲银行" in err.value.message
    assert err.value.code == "variable_missing"
    assert not ContactDecision.objects.exists()
    assert not Message.objects.exists()
    assert outbox_lines(outbox) == []


def test_due_date_comes_from_the_open_promise_or_is_refused(world, outbox):
    settings_for(world.bank_a, world.sue)
    template = approved(
        world.sue, world.hal, world.bank_a, "{{name}}您好，请于{{due_date}}前还款。"
    )
    with pytest.raises(ValidationError) as err:
        send(world, template, bj(*MONDAY, 10, 0))
    assert "{{due_date}}" in err.value.message
    from datetime import date

    outcome = send(world, template, bj(*MONDAY, 10, 0), due_date=date(2026, 11, 30))
    assert outcome.status == "sent"
    assert "2026年11月30日" in outbox_lines(outbox)[0]["body"]


def test_the_gate_refuses_at_23_00_and_nothing_is_sent(world, ready, outbox):
    outcome = send(world, ready, bj(*MONDAY, 23, 0))
    assert outcome.status == "refused"
    assert [r.code for r in outcome.refusals] == ["outside_window"]
    assert "22:00" in outcome.reasons[0]
    assert outbox_lines(outbox) == []
    assert not Message.objects.exists()
    assert not ContactAttempt.objects.exists()
    decision = ContactDecision.objects.get()
    assert (decision.channel, decision.allowed) == ("sms", False)


def test_at_23_00_an_sms_can_be_queued_for_08_00_and_released_then(world, ready, outbox):
    outcome = send(world, ready, bj(*MONDAY, 23, 0), queue_outside_window=True)
    assert outcome.status == "queued"
    message = Message.objects.get()
    assert message.status == "queued"
    assert message.release_at == bj(2026, 11, 24, 8, 0)
    assert outbox_lines(outbox) == []
    assert AuditEvent.objects.filter(action="messaging.sms.queued").exists()

    with time_machine.travel(bj(2026, 11, 24, 7, 59), tick=False):
        assert sms_release_due().sent == 0
    with time_machine.travel(bj(2026, 11, 24, 8, 0), tick=False):
        report = sms_release_due()
    assert (report.sent, report.refused) == (1, 0)
    message.refresh_from_db()
    assert message.status == "sent"
    assert len(outbox_lines(outbox)) == 1
    attempt = ContactAttempt.objects.get()
    assert attempt.started_at == bj(2026, 11, 24, 8, 0)
    # Released once only.
    with time_machine.travel(bj(2026, 11, 24, 8, 5), tick=False):
        assert sms_release_due().sent == 0


def test_a_queued_sms_is_refused_at_release_when_a_hold_was_placed(world, ready, outbox):
    send(world, ready, bj(*MONDAY, 23, 0), queue_outside_window=True)
    case_put_on_hold(case=world.cases["ada_case"], reason=Hold.Reason.COMPLAINT, actor=world.sue)
    with time_machine.travel(bj(2026, 11, 24, 8, 0), tick=False):
        report = sms_release_due()
    assert report.refused == 1
    message = Message.objects.get()
    assert message.status == "refused"
    assert message.refusals[0]["code"] == "hold"
    assert outbox_lines(outbox) == []


def test_other_refusals_are_never_queued(world, ready, outbox):
    case_put_on_hold(case=world.cases["ada_case"], reason=Hold.Reason.COMPLAINT, actor=world.sue)
    outcome = send(world, ready, bj(*MONDAY, 23, 0), queue_outside_window=True)
    assert outcome.status == "refused"
    assert not Message.objects.exists()


def test_a_debtor_template_never_goes_to_a_third_party(world, ready, outbox):
    relative = add_third_party(world.cases["ada_case"])
    with pytest.raises(ValidationError) as err:
        send(world, ready, bj(*MONDAY, 10, 0), point=relative)
    assert err.value.code == "audience_mismatch"
    assert not ContactDecision.objects.exists()


def test_a_third_party_sms_still_asks_the_gate(world, outbox):
    settings_for(world.bank_a, world.sue)
    template = approved(
        world.sue, world.hal, world.bank_a, THIRD_PARTY_BODY, audience="third_party"
    )
    relative = add_third_party(world.cases["ada_case"])
    outcome = send(world, template, bj(*MONDAY, 10, 0), point=relative)
    assert [r.code for r in outcome.refusals] == ["third_party_locked"]
    with pytest.raises(ValidationError):  # and never to the debtor
        send(world, template, bj(*MONDAY, 10, 0))


def test_drafts_and_superseded_versions_cannot_be_sent(world, ready, outbox):
    v2 = template_save(
        actor=world.sue,
        template=ready,
        data=TemplateInput(
            kind="sms",
            name="逾期提醒",
            audience="debtor",
            body=SMS_BODY + "。",
            client=world.bank_a,
        ),
    )
    with pytest.raises(ValidationError) as err:
        send(world, v2, bj(*MONDAY, 10, 0))
    assert err.value.code == "template_not_approved"
    from recoup.messaging.services import template_approve

    v2 = template_approve(actor=world.hal, template=v2, approval_reference="函 2")
    ready.refresh_from_db()
    with pytest.raises(ValidationError):
        send(world, ready, bj(*MONDAY, 10, 0))
    assert send(world, v2, bj(*MONDAY, 10, 0)).status == "sent"


def test_a_template_of_another_client_does_not_apply(world, outbox):
    settings_for(world.bank_b, world.sue)
    template = approved(world.sue, world.hal, world.bank_b)
    with pytest.raises(NotFound):
        send(world, template, bj(*MONDAY, 10, 0))


def test_someone_who_does_not_work_the_case_cannot_send(world, ready, outbox):
    case = world.cases["ada_case"]
    with pytest.raises(PermissionDenied):
        sms_send(actor=world.ben, case=case, contact_point=phone_of(case), template=ready)
    assert not ContactDecision.objects.exists()


# --- the HTTP gateway and its callbacks -------------------------------------------------------


class _Gateway(BaseHTTPRequestHandler):
    received: list[tuple[bytes, str]] = []
    answer_status = 200

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((body, self.headers.get(SIGNATURE_HEADER, "")))
        self.send_response(type(self).answer_status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"provider_id": f"gw-{len(type(self).received)}"}).encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway(settings):
    _Gateway.received = []
    _Gateway.answer_status = 200
    server = HTTPServer(("127.0.0.1", 0), _Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.RECOUP_SMS_BACKEND = "http"
    settings.RECOUP_SMS_GATEWAY_URL = f"http://127.0.0.1:{server.server_port}/send"
    settings.RECOUP_SMS_GATEWAY_SECRET = SECRET
    yield _Gateway
    server.shutdown()
    server.server_close()


def _report(payload: dict, secret: str = SECRET) -> tuple[bytes, str]:
    body = json.dumps(payload).encode()
    return body, sign(body, secret)


def test_the_http_gateway_gets_signed_json_and_reports_delivery(world, gateway, outbox):
    settings_for(world.bank_a, world.sue)
    template = approved(world.sue, world.hal, world.bank_a)
    outcome = send(world, template, bj(*MONDAY, 10, 0))
    assert outcome.status == "sent"
    [(body, signature)] = gateway.received
    assert signature == sign(body, SECRET)
    payload = json.loads(body)
    assert payload["to"] == "13812341234"
    assert payload["id"] == str(outcome.message.uid)
    message = Message.objects.get()
    assert (message.backend, message.provider_id) == ("http", "gw-1")

    body, signature = _report({"id": "gw-1", "status": "delivered"})
    sms_delivery_report(body=body, signature=signature)
    message.refresh_from_db()
    assert message.status == "delivered"
    assert message.delivered_at is not None
    assert AuditEvent.objects.filter(action="messaging.sms.status_reported").count() == 1
    # A repeated report changes nothing; a contradicting one is refused.
    sms_delivery_report(body=body, signature=signature)
    body, signature = _report({"id": str(message.uid), "status": "failed"})
    with pytest.raises(RecoupError) as err:
        sms_delivery_report(body=body, signature=signature)
    assert err.value.code == "conflict"
    message.refresh_from_db()
    assert message.status == "delivered"


def test_a_report_with_a_bad_signature_changes_nothing(world, gateway, outbox):
    settings_for(world.bank_a, world.sue)
    send(world, approved(world.sue, world.hal, world.bank_a), bj(*MONDAY, 10, 0))
    body, _ = _report({"id": "gw-1", "status": "delivered"})
    for signature in ("", "sha256=00", sign(body, "another-secret")):
        with pytest.raises(PermissionDenied):
            sms_delivery_report(body=body, signature=signature)
    assert Message.objects.get().status == "sent"
    assert not AuditEvent.objects.filter(action="messaging.sms.status_reported").exists()


def test_bad_reports_are_refused(world, gateway, outbox):
    for payload in ({"id": "nope", "status": "delivered"},):
        body, signature = _report(payload)
        with pytest.raises(NotFound):
            sms_delivery_report(body=body, signature=signature)
    body, signature = _report({"id": "gw-1", "status": "read"})
    with pytest.raises(ValidationError):
        sms_delivery_report(body=body, signature=signature)
    body = b"not json"
    with pytest.raises(ValidationError):
        sms_delivery_report(body=body, signature=sign(body, SECRET))


def test_a_gateway_error_records_a_failed_attempt(world, gateway, outbox):
    gateway.answer_status = 500
    settings_for(world.bank_a, world.sue)
    outcome = send(world, approved(world.sue, world.hal, world.bank_a), bj(*MONDAY, 10, 0))
    assert outcome.status == "failed"
    assert "500" in outcome.error
    message = Message.objects.get()
    assert message.status == "failed"
    assert ContactAttempt.objects.get().result == "failed"
    assert AuditEvent.objects.filter(action="messaging.sms.failed").exists()


def test_the_console_backend_logs_without_the_text(world, settings, caplog, outbox):
    settings.RECOUP_SMS_BACKEND = "console"
    settings_for(world.bank_a, world.sue)
    with caplog.at_level("INFO", logger="recoup.messaging.adapters"):
        outcome = send(world, approved(world.sue, world.hal, world.bank_a), bj(*MONDAY, 10, 0))
    assert outcome.status == "sent"
    assert "138****1234" in caplog.text
    assert "张三丰" not in caplog.text
    assert outbox_lines(outbox) == []

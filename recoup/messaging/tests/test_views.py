"""The messaging screens and endpoints: templates, settings, SMS send, letter PDF, callback."""

from __future__ import annotations

import json

import pytest
import time_machine
from django.urls import reverse

from recoup.audit.models import AuditEvent
from recoup.cases.models import ContactPoint
from recoup.contact.tests.helpers import bj, phone_of
from recoup.messaging.adapters import SIGNATURE_HEADER, sign
from recoup.messaging.models import Message, MessageTemplate, MessagingSettings
from recoup.messaging.tests.helpers import LETTER_BODY, SMS_BODY, approved, draft, settings_for

pytestmark = pytest.mark.django_db

MONDAY_10 = bj(2026, 11, 23, 10, 0)
MONDAY_23 = bj(2026, 11, 23, 23, 0)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def sms_template(world, media):
    settings_for(world.bank_a, world.sue)
    return approved(world.sue, world.hal, world.bank_a)


def _post_sms(client, world, template, **extra):
    case = world.cases["ada_case"]
    data = {
        "case": case.pk,
        "contact_point": str(phone_of(case).uid),
        "template": template.pk,
    } | extra
    return client.post(reverse("messaging:sms-send"), data, headers={"HX-Request": "true"})


def test_a_collector_sends_an_sms_and_sees_it_sent(client, login, world, sms_template):
    with time_machine.travel(MONDAY_10, tick=False):
        login(world.ada)
        response = _post_sms(client, world, sms_template)
    assert response.status_code == 200
    body = response.content.decode()
    assert "短信已发送" in body
    assert "<html" not in body  # the fragment, not a page
    assert Message.objects.get().status == "sent"


def test_at_23_00_the_fragment_shows_the_gates_reason(client, login, world, sms_template):
    with time_machine.travel(MONDAY_23, tick=False):
        login(world.ada)
        response = _post_sms(client, world, sms_template)
    assert response.status_code == 200
    body = response.content.decode()
    assert "合规拦截" in body
    assert "22:00" in body
    assert not Message.objects.exists()


def test_at_23_00_queueing_shows_the_release_time(client, login, world, sms_template):
    with time_machine.travel(MONDAY_23, tick=False):
        login(world.ada)
        response = _post_sms(client, world, sms_template, queue="on")
    assert "2026-11-24 08:00" in response.content.decode()
    assert Message.objects.get().status == "queued"


def test_sms_send_bad_requests(client, login, world, sms_template):
    with time_machine.travel(MONDAY_10, tick=False):
        login(world.ada)
        assert client.get(reverse("messaging:sms-send")).status_code == 405
        assert client.post(reverse("messaging:sms-send"), {}).status_code == 400
        ben_case = world.cases["ben_case"]
        response = client.post(
            reverse("messaging:sms-send"),
            {
                "case": ben_case.pk,
                "contact_point": str(phone_of(ben_case).uid),
                "template": sms_template.pk,
            },
        )
        assert response.status_code == 404
        other_point = phone_of(world.cases["fay_case"])
        response = _post_sms(client, world, sms_template, contact_point=str(other_point.uid))
        assert response.status_code == 404
    assert not Message.objects.exists()


def test_a_missing_variable_is_shown_and_nothing_is_sent(client, login, world, media):
    template = approved(world.sue, world.hal, world.bank_a)  # no settings: no channel
    with time_machine.travel(MONDAY_10, tick=False):
        login(world.ada)
        response = _post_sms(client, world, template)
    assert response.status_code == 400
    assert "{{repayment_channel}}" in response.content.decode()
    assert not Message.objects.exists()


def test_the_letter_pdf_downloads_and_is_audited(client, login, world, media):
    settings_for(world.bank_a, world.sue)
    template = approved(world.sue, world.hal, world.bank_a, LETTER_BODY, kind="letter")
    case = world.cases["ada_case"]
    login(world.ada)
    response = client.get(reverse("messaging:letter-pdf", args=[case.pk, template.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert AuditEvent.objects.filter(
        action="messaging.letter.rendered", actor=world.ada, case_id=case.pk
    ).exists()
    # Another collector's case: 404.
    ben_case = world.cases["ben_case"]
    assert (
        client.get(reverse("messaging:letter-pdf", args=[ben_case.pk, template.pk])).status_code
        == 404
    )


def test_a_letter_is_sent_from_the_case_page(client, login, world, media):
    settings_for(world.bank_a, world.sue)
    template = approved(world.sue, world.hal, world.bank_a, LETTER_BODY, kind="letter")
    case = world.cases["ada_case"]
    address = ContactPoint.objects.get(debtor_id=case.debtor_id, kind="address")
    with time_machine.travel(MONDAY_10, tick=False):
        login(world.ada)
        response = client.post(
            reverse("messaging:letter-send"),
            {
                "case": case.pk,
                "address": str(address.uid),
                "template": template.pk,
                "delivery": "张贴",
            },
        )
        assert response.status_code == 400
        assert "张贴" in response.content.decode()
        response = client.post(
            reverse("messaging:letter-send"),
            {
                "case": case.pk,
                "address": str(address.uid),
                "template": template.pk,
                "delivery": "mail",
            },
        )
        assert response.status_code == 200
        message = Message.objects.get()
        download = reverse("messaging:letter-download", args=[case.pk, message.uid])
        assert download in response.content.decode()
        # Still at the session's time: the login would have timed out by the real clock.
        response = client.get(download)
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")


def test_templates_screens_are_for_managers(client, login, world):
    login(world.ada)
    assert client.get(reverse("messaging:template-list")).status_code == 403
    assert client.get(reverse("messaging:template-create")).status_code == 403


def test_a_refused_template_shows_every_problem_and_saves_nothing(client, login, world):
    login(world.sue)
    response = client.post(
        reverse("messaging:template-create"),
        {
            "name": "坏模板",
            "kind": "sms",
            "audience": "debtor",
            "client": world.bank_a.pk,
            "body": "{{foo}} 老赖 请扫二维码",
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "{{foo}}" in page
    assert "老赖" in page
    assert "二维码" in page
    assert not MessageTemplate.objects.exists()


def test_a_template_is_created_approved_and_versioned_through_the_screens(client, login, world):
    login(world.sue)
    response = client.post(
        reverse("messaging:template-create"),
        {
            "name": "逾期提醒",
            "kind": "sms",
            "audience": "debtor",
            "client": world.bank_a.pk,
            "body": "{{name}}您好，请联系 {{agency_phone}}。",
        },
    )
    assert response.status_code == 302
    template = MessageTemplate.objects.get()
    detail = reverse("messaging:template-detail", args=[template.pk])
    assert client.get(reverse("messaging:template-list")).status_code == 200
    # The author may not approve their own draft.
    client.post(
        reverse("messaging:template-approve", args=[template.pk]), {"approval_reference": "函 1"}
    )
    template.refresh_from_db()
    assert template.status == "draft"
    client.logout()
    login(world.hal)
    assert "批准" in client.get(detail).content.decode()
    response = client.post(
        reverse("messaging:template-approve", args=[template.pk]), {"approval_reference": "函 1"}
    )
    assert response.status_code == 302
    template.refresh_from_db()
    assert (template.status, template.approval_reference) == ("approved", "函 1")
    # Editing the approved version makes v2.
    response = client.post(
        detail,
        {
            "name": "逾期提醒",
            "kind": "sms",
            "audience": "debtor",
            "body": "{{name}}您好，请尽快联系 {{agency_phone}}。",
        },
    )
    assert response.status_code == 302
    v2 = MessageTemplate.objects.get(version=2)
    assert v2.status == "draft"
    assert v2.client_id == world.bank_a.pk


def test_the_rival_cannot_open_a_template(client, login, world):
    template = draft(world.sue, world.bank_a, SMS_BODY)
    login(world.ola)
    assert client.get(reverse("messaging:template-detail", args=[template.pk])).status_code == 404


def test_settings_are_edited_by_managers(client, login, world):
    login(world.sue)
    response = client.post(
        reverse("messaging:settings-edit", args=[world.bank_a.pk]),
        {"repayment_channel": "甲银行 App", "agency_phone": "400-1", "bank_contact": "95555"},
    )
    assert response.status_code == 302
    assert MessagingSettings.objects.get().repayment_channel == "甲银行 App"
    response = client.post(
        reverse("messaging:settings-edit", args=[world.bank_a.pk]),
        {"repayment_channel": "扫这个二维码还款", "agency_phone": "", "bank_contact": ""},
    )
    assert response.status_code == 400
    assert MessagingSettings.objects.get().repayment_channel == "甲银行 App"


def test_the_callback_checks_the_signature(client, world, sms_template, settings):
    settings.RECOUP_SMS_GATEWAY_SECRET = "s3cret"
    with time_machine.travel(MONDAY_10, tick=False):
        from recoup.messaging.sms import sms_send

        case = world.cases["ada_case"]
        outcome = sms_send(
            actor=world.ada, case=case, contact_point=phone_of(case), template=sms_template
        )
    url = reverse("messaging:sms-callback")
    body = json.dumps({"id": str(outcome.message.uid), "status": "delivered"}).encode()
    bad = client.post(
        url, body, content_type="application/json", headers={SIGNATURE_HEADER: "sha256=bad"}
    )
    assert bad.status_code == 403
    assert Message.objects.get().status == "sent"
    good = client.post(
        url,
        body,
        content_type="application/json",
        headers={SIGNATURE_HEADER: sign(body, "s3cret")},
    )
    assert good.status_code == 200
    assert good.json()["status"] == "delivered"
    assert Message.objects.get().status == "delivered"
    assert client.get(url).status_code == 405


def test_the_workspace_offers_the_approved_templates(client, login, world, sms_template):
    case = world.cases["ada_case"]
    with time_machine.travel(MONDAY_10, tick=False):
        login(world.ada)
        body = client.get(f"/work/case/{case.pk}/").content.decode()
    assert 'data-testid="messaging-panel"' in body
    assert 'data-testid="sms-form"' in body
    assert sms_template.name in body
    assert "138****1234" in body
    # ben may not work ada's case: no workspace, no panel.
    with time_machine.travel(MONDAY_10, tick=False):
        login(world.ben)
        assert client.get(f"/work/case/{case.pk}/").status_code == 404

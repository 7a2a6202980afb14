"""Letters: PDF rendering, CN-6 required content, sending behind the gate, the kept copy."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import time_machine
import weasyprint

from recoup.audit.models import AuditEvent
from recoup.cases.models import ContactPoint, Hold
from recoup.cases.services import case_put_on_hold
from recoup.contact.models import ContactAttempt, ContactDecision
from recoup.contact.tests.helpers import bj, phone_of
from recoup.core.exceptions import RecoupError, ValidationError
from recoup.messaging.letters import letter_html, letter_open, letter_render_pdf, letter_send
from recoup.messaging.models import Message
from recoup.messaging.services import TemplateRefused
from recoup.messaging.tests.helpers import BANK_CONTACT, LETTER_BODY, approved, draft, settings_for
from tests.fixtures import data_key_rotated

pytestmark = pytest.mark.django_db

MONDAY_10 = (2026, 11, 23, 10, 0)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def letter(world, media):
    settings_for(world.bank_a, world.sue)
    return approved(
        world.sue, world.hal, world.bank_a, LETTER_BODY, kind="letter", name="欠款还款通知书"
    )


def _address(case) -> ContactPoint:
    return ContactPoint.objects.get(debtor_id=case.debtor_id, kind="address")


def _pdf_text(html: str) -> str:
    """The text WeasyPrint laid out on the pages (what the PDF shows)."""
    document = weasyprint.HTML(string=html).render()

    def walk(box):
        if hasattr(box, "text"):
            yield box.text
        for child in getattr(box, "children", []):
            yield from walk(child)

    return "".join(t for page in document.pages for t in walk(page._page_box))


def test_a_letter_renders_to_a_pdf_with_the_case_filled_in(world, letter):
    case = world.cases["ada_case"]
    with time_machine.travel(bj(*MONDAY_10), tick=False):
        pdf = letter_render_pdf(actor=world.ada, case=case, template=letter)
        html = letter_html(case=case, template=letter, address=_address(case), at=bj(*MONDAY_10))
    assert pdf.pdf.startswith(b"%PDF")
    assert len(pdf.pdf) > 5000
    assert pdf.sha256 == hashlib.sha256(pdf.pdf).hexdigest()
    text = _pdf_text(html)
    for expected in (
        "欠款还款通知书",
        "尊敬的张三丰",
        "10,573.45",
        "2026年11月23日",
        "北京市朝阳区建国路88号1栋101室",
        "甲银行信用卡中心",
        "异议方式",
        "（业务公章）",
    ):
        assert expected in text, expected
    event = AuditEvent.objects.get(action="messaging.letter.rendered")
    assert event.data["sha256"] == pdf.sha256


def test_template_text_cannot_inject_html_into_the_letter(world, media):
    settings_for(world.bank_a, world.sue, bank_contact='<img src="http://evil.example/x.png">')
    body = LETTER_BODY.replace("尊敬的", '<b onclick="x">尊敬的</b>')
    template = approved(world.sue, world.hal, world.bank_a, body, kind="letter")
    case = world.cases["ada_case"]
    html = letter_html(case=case, template=template, address=_address(case), at=bj(*MONDAY_10))
    assert "<b onclick" not in html
    assert "<img" not in html
    assert "&lt;img" in html


def test_a_letter_template_missing_the_objection_section_is_refused(world, media):
    body = LETTER_BODY.replace(
        "异议方式：如对欠款有异议，请在收到本通知之日起 15 日内联系我们并提交证据。", ""
    )
    with pytest.raises(TemplateRefused) as refused:
        draft(world.sue, world.bank_a, body, kind="letter")
    assert "异议方式" in refused.value.message
    assert not Message.objects.exists()


def test_a_letter_is_sent_behind_the_gate_and_kept_with_its_checksum(world, letter, media):
    case = world.cases["ada_case"]
    with time_machine.travel(bj(*MONDAY_10), tick=False):
        outcome = letter_send(
            actor=world.ada, case=case, template=letter, address=_address(case), delivery="mail"
        )
    assert outcome.status == "sent"
    message = Message.objects.get()
    assert (message.kind, message.status, message.delivery) == ("letter", "sent", "mail")
    stored = Path(media) / message.pdf_path
    assert stored.exists()
    assert b"%PDF" not in stored.read_bytes()  # sealed at rest
    attempt = ContactAttempt.objects.get()
    assert (attempt.channel, attempt.result) == ("letter", "sent")
    assert ContactDecision.objects.get().channel == "letter"
    assert AuditEvent.objects.get(action="messaging.letter.sent").data["sha256"] == (
        message.pdf_sha256
    )
    kept = letter_open(actor=world.ada, case=case, message=message)
    assert kept.pdf.startswith(b"%PDF")
    assert hashlib.sha256(kept.pdf).hexdigest() == message.pdf_sha256


def test_a_tampered_kept_letter_is_refused(world, letter, media):
    case = world.cases["ada_case"]
    with time_machine.travel(bj(*MONDAY_10), tick=False):
        letter_send(
            actor=world.ada, case=case, template=letter, address=_address(case), delivery="hand"
        )
    message = Message.objects.get()
    path = Path(media) / message.pdf_path
    path.write_bytes(path.read_bytes()[:-5] + b"xxxxx")
    with pytest.raises(RecoupError):
        letter_open(actor=world.ada, case=case, message=message)


@pytest.mark.parametrize("delivery", ["public_posting", "张贴", "fax"])
def test_public_posting_and_unknown_methods_are_refused(world, letter, delivery):
    case = world.cases["ada_case"]
    with pytest.raises(ValidationError) as err:
        letter_send(
            actor=world.ada, case=case, template=letter, address=_address(case), delivery=delivery
        )
    assert "邮寄" in err.value.message
    assert not ContactDecision.objects.exists()
    assert not Message.objects.exists()


def test_a_hold_refuses_the_letter_and_nothing_is_kept(world, letter, media):
    case = world.cases["ada_case"]
    case_put_on_hold(case=case, reason=Hold.Reason.DISPUTE, actor=world.sue)
    with time_machine.travel(bj(*MONDAY_10), tick=False):
        outcome = letter_send(
            actor=world.ada, case=case, template=letter, address=_address(case), delivery="mail"
        )
    assert outcome.status == "refused"
    assert "hold" in [r.code for r in outcome.refusals]
    assert not Message.objects.exists()
    assert not (Path(media) / "letters").exists()


def test_a_letter_goes_to_an_address(world, letter):
    case = world.cases["ada_case"]
    with pytest.raises(ValidationError):
        letter_send(
            actor=world.ada, case=case, template=letter, address=phone_of(case), delivery="mail"
        )


def test_a_missing_bank_contact_refuses_the_letter(world, media):
    settings_for(world.bank_a, world.sue, bank_contact="")
    template = approved(world.sue, world.hal, world.bank_a, LETTER_BODY, kind="letter")
    with pytest.raises(ValidationError) as err:
        letter_render_pdf(actor=world.ada, case=world.cases["ada_case"], template=template)
    assert "{{bank_contact}}" in err.value.message
    assert BANK_CONTACT not in err.value.message


def test_key_rotation_reseals_kept_letters_and_call_notes(world, letter, media):
    from recoup.core import crypto

    case = world.cases["ada_case"]
    with time_machine.travel(bj(*MONDAY_10), tick=False):
        letter_send(
            actor=world.ada, case=case, template=letter, address=_address(case), delivery="mail"
        )
    message = Message.objects.get()
    path = Path(media) / message.pdf_path
    before = path.read_bytes()
    attempt = ContactAttempt.objects.latest("pk")  # the letter's; notes as a collector's
    attempt.notes_sealed = crypto.seal("客户称下周还款".encode(), aad=attempt.notes_aad())
    attempt.save(update_fields=["notes_sealed"])
    with data_key_rotated(batch_size=1):
        kept = letter_open(actor=world.ada, case=case, message=message)
        assert hashlib.sha256(kept.pdf).hexdigest() == message.pdf_sha256
        assert path.read_bytes() != before
        assert crypto.key_id_of(path.read_bytes()) == "k2027"
        assert not list(path.parent.glob("*.reseal"))
        assert ContactAttempt.objects.get(pk=attempt.pk).notes() == "客户称下周还款"
    tables = set(
        AuditEvent.objects.filter(action="cases.personal_data.resealed").values_list(
            "data__table", flat=True
        )
    )
    assert {"messaging.message", "contact.contactattempt"} <= tables

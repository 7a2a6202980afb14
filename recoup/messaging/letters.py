"""Letters (《欠款还款通知书》 and others): approved template → PDF (WeasyPrint) → gate → record.

- ``letter_render_pdf``: the PDF of a letter for a case, for preview or printing; audited
  (it holds the debtor's name, address and debt).
- ``letter_send``: the gate decides (channel ``letter``, the contact point is an address of
  the debtor), then the PDF is kept sealed under ``MEDIA_ROOT/letters/`` with its SHA-256,
  and the attempt is recorded (result ``sent``). Delivery is by mail, by hand or on a visit;
  public posting (张贴) is not a delivery method (COMPLIANCE.md CN-10).

Before either, the template is checked again for every lint rule, including CN-6's required
content (cardholder name, amount, reason and legal basis, rights and obligations, how to
check the account, how to object, the bank's contacts, the seal).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.translation import gettext as _

from recoup.audit.services import audit_record
from recoup.cases.models import ContactPoint
from recoup.contact.gate import ContactRequest, Refusal, decide
from recoup.contact.services import AttemptInput, attempt_record, require_worker
from recoup.core import crypto
from recoup.core.clock import now
from recoup.core.exceptions import RecoupError, ValidationError
from recoup.messaging.models import Message, MessageTemplate
from recoup.messaging.rendering import SEAL_TEXT, render_for_case
from recoup.messaging.selectors import debtor_address
from recoup.messaging.services import TemplateRefused, template_problems
from recoup.messaging.sms import check_sendable
from recoup.messaging.variables import render_html

if TYPE_CHECKING:
    from recoup.accounts.models import User
    from recoup.cases.models import Case

PUBLIC_POSTING_WORDS = ("public", "posting", "post", "张贴", "公告", "公示")


@dataclass(frozen=True)
class LetterPdf:
    pdf: bytes
    sha256: str
    filename: str


@dataclass(frozen=True)
class LetterOutcome:
    status: str  # sent, refused (by the gate)
    message: Message | None = None
    refusals: tuple[Refusal, ...] = ()

    @property
    def reasons(self) -> list[str]:
        return [r.reason() for r in self.refusals]


def _no_fetch(url: str, *args: Any, **kwargs: Any) -> NoReturn:
    # A letter is self-contained: no image, font or style is fetched from anywhere.
    raise ValueError(f"letters load no external resources ({url})")


def pdf_from_html(html: str) -> bytes:
    import weasyprint  # type: ignore[import-untyped]  # ships no type hints

    pdf: bytes = weasyprint.HTML(string=html, url_fetcher=_no_fetch).write_pdf()
    return pdf


def letter_html(
    *, case: Case, template: MessageTemplate, address: ContactPoint, at: datetime
) -> str:
    """The letter as the HTML page WeasyPrint prints (variables filled, text escaped)."""
    rendered = render_for_case(case=case, template=template, contact_point=address, at=at)
    seal = f'<span class="seal">{escape(case.client.name)}<br>{escape(SEAL_TEXT)}</span>'
    body = render_html(template.body, rendered.values, {"seal": seal})
    return render_to_string(
        "messaging/letter_pdf.html", {"title": template.name, "body": body, "case": case}
    )


def _check_letter(
    actor: User, case: Case, template: MessageTemplate, address: ContactPoint | None
) -> ContactPoint:
    require_worker(actor, case)
    if address is None:
        address = debtor_address(case)
    if address is None:
        raise ValidationError(_("债务人没有可用的地址，无法生成信函。"), field="address")
    if address.kind != ContactPoint.Kind.ADDRESS:
        raise ValidationError(_("信函须寄往地址，请选择地址。"), field="address")
    check_sendable(template=template, case=case, contact_point=address, kind="letter")
    problems = template_problems(
        organisation_id=template.organisation_id,
        kind=template.kind,
        audience=template.audience,
        body=template.body,
        client_id=template.client_id,
        contract=template.contract,
    )
    if problems:
        raise TemplateRefused(problems, field="template")
    return address


def letter_render_pdf(
    *,
    actor: User,
    case: Case,
    template: MessageTemplate,
    address: ContactPoint | None = None,
    at: datetime | None = None,
) -> LetterPdf:
    """The PDF of an approved letter template for a case (preview, printing); audited."""
    at = at or now()
    address = _check_letter(actor, case, template, address)
    pdf = pdf_from_html(letter_html(case=case, template=template, address=address, at=at))
    digest = hashlib.sha256(pdf).hexdigest()
    audit_record(
        action="messaging.letter.rendered",
        actor=actor,
        organisation=case.organisation_id,
        case_id=case.pk,
        debtor_id=case.debtor_id,
        object_type="message_template",
        object_id=template.pk,
        data={"version": template.version, "address": str(address.uid), "sha256": digest},
    )
    return LetterPdf(pdf=pdf, sha256=digest, filename=_filename(case, template))


def _filename(case: Case, template: MessageTemplate) -> str:
    return f"letter-{case.client_case_number}-{template.pk}v{template.version}.pdf"


def letter_send(
    *,
    actor: User,
    case: Case,
    template: MessageTemplate,
    address: ContactPoint,
    delivery: str,
    at: datetime | None = None,
) -> LetterOutcome:
    """Send a letter by mail, by hand or on a visit, if the gate allows; keep the PDF.

    Public posting is refused (CN-10), as is any unknown delivery method.
    """
    at = at or now()
    if delivery not in Message.Delivery.values:
        if any(word in delivery.lower() for word in PUBLIC_POSTING_WORDS):
            raise ValidationError(
                _("禁止在公共场所张贴催收函件（中银协 2026）：只能邮寄、当面送达或外访送达。"),
                field="delivery",
                code="public_posting",
            )
        raise ValidationError(_("送达方式无效：只能邮寄、当面送达或外访送达。"), field="delivery")
    address = _check_letter(actor, case, template, address)
    pdf = pdf_from_html(letter_html(case=case, template=template, address=address, at=at))
    decision = decide(
        ContactRequest(actor=actor, case=case, channel="letter", contact_point=address, at=at)
    )
    if not decision.allowed:
        return LetterOutcome("refused", refusals=decision.refusals)
    assert decision.record is not None
    message = Message(
        organisation_id=case.organisation_id,
        kind=MessageTemplate.Kind.LETTER,
        case=case,
        contact_point=address,
        template=template,
        template_version=template.version,
        decision=decision.record,
        delivery=delivery,
        created_by=actor,
        status=Message.Status.SENT,
    )
    relative = Path("letters") / str(case.organisation_id) / f"{message.uid}.pdf.sealed"
    path = Path(settings.MEDIA_ROOT) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    # The file first: a row never points at a file that is not there. If the transaction
    # fails, the orphan file is removed.
    path.write_bytes(crypto.seal(pdf, aad=message.pdf_aad()))
    message.pdf_path = str(relative)
    message.pdf_sha256 = hashlib.sha256(pdf).hexdigest()
    try:
        with transaction.atomic():
            attempt = attempt_record(
                actor=actor,
                decision=decision.record,
                data=AttemptInput(result="sent", started_at=at),
            )
            message.attempt = attempt
            message.sent_at = now()
            message.save()
            audit_record(
                action="messaging.letter.sent",
                actor=actor,
                organisation=case.organisation_id,
                case_id=case.pk,
                debtor_id=case.debtor_id,
                object_type="message",
                object_id=str(message.uid),
                data={
                    "template": template.pk,
                    "version": template.version,
                    "delivery": delivery,
                    "address": str(address.uid),
                    "decision": str(decision.record.uid),
                    "sha256": message.pdf_sha256,
                },
            )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return LetterOutcome("sent", message=message)


def letter_open(*, actor: User, case: Case, message: Message) -> LetterPdf:
    """The kept PDF of a sent letter, checked against its SHA-256; audited."""
    require_worker(actor, case)
    if message.case_id != case.pk or message.kind != MessageTemplate.Kind.LETTER:
        raise ValidationError(_("记录不是该案件的信函。"))
    path = Path(settings.MEDIA_ROOT) / message.pdf_path
    try:
        pdf = crypto.unseal(path.read_bytes(), aad=message.pdf_aad())
    except (OSError, crypto.DecryptionError):
        raise RecoupError(_("信函文件缺失或已损坏。"), code="letter_missing") from None
    if hashlib.sha256(pdf).hexdigest() != message.pdf_sha256:
        raise RecoupError(_("信函文件校验失败（SHA-256 不符）。"), code="letter_corrupt")
    audit_record(
        action="messaging.letter.downloaded",
        actor=actor,
        organisation=case.organisation_id,
        case_id=case.pk,
        debtor_id=case.debtor_id,
        object_type="message",
        object_id=str(message.uid),
        data={"sha256": message.pdf_sha256},
    )
    return LetterPdf(pdf=pdf, sha256=message.pdf_sha256, filename=f"letter-{message.uid}.pdf")

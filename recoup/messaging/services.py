"""Writing messaging data: a client's settings, templates and their approval.

Sending lives in ``recoup.messaging.sms`` and ``recoup.messaging.letters``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils.translation import gettext as _

from recoup.audit.services import audit_record
from recoup.core.clock import now
from recoup.core.exceptions import NotFound, PermissionDenied, RecoupError, ValidationError
from recoup.messaging.lint import Problem, lint, lint_official_channel
from recoup.messaging.models import MessageTemplate, MessagingSettings
from recoup.messaging.permissions import (
    can_approve_templates,
    can_edit_settings,
    can_edit_templates,
)
from recoup.messaging.selectors import settings_for_client, us_profile_for

if TYPE_CHECKING:
    from recoup.accounts.models import User
    from recoup.clients.models import Client, Contract


class TemplateRefused(ValidationError):
    """A template text with lint problems; ``problems`` lists every one of them."""

    def __init__(self, problems: list[Problem], *, field: str = "body") -> None:
        self.problems = problems
        message = _("模板未保存：%(problems)s") % {
            "problems": " ".join(p.message for p in problems)
        }
        super().__init__(message, field=field, code="template_refused")


# --- client settings ----------------------------------------------------------------------


def messaging_settings_save(
    *,
    actor: User,
    client: Client,
    repayment_channel: str,
    agency_phone: str,
    bank_contact: str,
) -> MessagingSettings:
    """Set a client's official repayment channel, the agency phone and the bank's contacts.

    The repayment channel is the only repayment instruction any message may carry (CN-10),
    so it is the managers' to set, audited with the old and new text.
    """
    if not can_edit_settings(actor) or client.organisation_id != actor.organisation_id:
        raise PermissionDenied(_("只有主管、分公司经理或总部可以修改委托方的短信和信函设置。"))
    channel, phone, contact = repayment_channel.strip(), agency_phone.strip(), bank_contact.strip()
    problems = lint_official_channel(organisation_id=client.organisation_id, text=channel)
    problems += lint_official_channel(organisation_id=client.organisation_id, text=contact)
    if problems:
        raise TemplateRefused(problems, field="repayment_channel")
    with transaction.atomic():
        current = MessagingSettings.objects.select_for_update().filter(client=client).first()
        before = (
            {
                "repayment_channel": current.repayment_channel,
                "agency_phone": current.agency_phone,
                "bank_contact": current.bank_contact,
            }
            if current
            else None
        )
        settings_row = current or MessagingSettings(
            organisation_id=client.organisation_id, client=client
        )
        settings_row.repayment_channel = channel
        settings_row.agency_phone = phone
        settings_row.bank_contact = contact
        settings_row.updated_by = actor
        settings_row.full_clean()
        if current is None:
            settings_row.save()
        else:
            settings_row.save(
                update_fields=["repayment_channel", "agency_phone", "bank_contact", "updated_by"]
            )
        audit_record(
            action="messaging.settings.saved",
            actor=actor,
            organisation=client.organisation_id,
            object_type="messaging_settings",
            object_id=settings_row.pk,
            data={
                "client": client.pk,
                "before": before,
                "after": {
                    "repayment_channel": channel,
                    "agency_phone": phone,
                    "bank_contact": contact,
                },
            },
        )
    return settings_row


# --- templates ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateInput:
    kind: str
    name: str
    audience: str
    body: str
    client: Client
    contract: Contract | None = None


def template_problems(
    *,
    organisation_id: int,
    kind: str,
    audience: str,
    body: str,
    client_id: int,
    contract: Contract | None,
) -> list[Problem]:
    """Lint a template text in its client's context (official channel, US profile)."""
    settings_row = settings_for_client(client_id)
    return lint(
        organisation_id=organisation_id,
        kind=kind,
        audience=audience,
        body=body,
        official_channel=settings_row.repayment_channel if settings_row else "",
        us_profile=us_profile_for(client_id, contract),
    )


def _check_input(actor: User, data: TemplateInput) -> None:
    if data.kind not in MessageTemplate.Kind.values:
        raise ValidationError(_("模板类型无效。"), field="kind")
    if data.audience not in MessageTemplate.Audience.values:
        raise ValidationError(_("发送对象无效。"), field="audience")
    if not data.name.strip():
        raise ValidationError(_("请填写模板名称。"), field="name")
    if data.client.organisation_id != actor.organisation_id:
        raise NotFound(_("委托方不存在。"))
    if data.contract is not None and data.contract.client_id != data.client.pk:
        raise ValidationError(_("合作协议不属于该委托方。"), field="contract")


def template_save(
    *, actor: User, data: TemplateInput, template: MessageTemplate | None = None
) -> MessageTemplate:
    """Create a template, or edit one: a draft in place, an approved one as a new draft.

    Every lint problem is listed in one ``TemplateRefused`` and nothing is stored. Only the
    newest version of a template can be edited; a superseded version is history.
    """
    if not can_edit_templates(actor):
        raise PermissionDenied(_("您无权编辑短信和信函模板。"))
    _check_input(actor, data)
    body = data.body.replace("\r\n", "\n").strip()
    problems = template_problems(
        organisation_id=data.client.organisation_id,
        kind=data.kind,
        audience=data.audience,
        body=body,
        client_id=data.client.pk,
        contract=data.contract,
    )
    if problems:
        raise TemplateRefused(problems)
    with transaction.atomic():
        if template is None:
            row = MessageTemplate(
                organisation_id=data.client.organisation_id,
                client=data.client,
                version=1,
                created_by=actor,
            )
            created_from = None
        else:
            if template.organisation_id != actor.organisation_id:
                raise NotFound(_("模板不存在。"))
            newest = (
                MessageTemplate.objects.select_for_update()
                .filter(family=template.family)
                .order_by("-version")
                .first()
            )
            assert newest is not None
            if newest.pk != template.pk:
                raise RecoupError(
                    _("只能编辑最新版本（v%(version)s）。") % {"version": newest.version},
                    code="not_latest",
                )
            if template.client_id != data.client.pk:
                raise ValidationError(_("模板的委托方不能更改。"), field="client")
            if template.status == MessageTemplate.Status.DRAFT:
                row = newest
            else:
                row = MessageTemplate(
                    organisation_id=template.organisation_id,
                    client=template.client,
                    family=template.family,
                    version=newest.version + 1,
                    created_by=actor,
                )
            created_from = template.version
        row.contract = data.contract
        row.kind = data.kind
        row.name = data.name.strip()
        row.audience = data.audience
        row.body = body
        row.status = MessageTemplate.Status.DRAFT
        row.full_clean()
        if row._state.adding:
            row.save()
        else:
            row.save(update_fields=["contract", "kind", "name", "audience", "body", "status"])
        audit_record(
            action="messaging.template.saved",
            actor=actor,
            organisation=row.organisation_id,
            object_type="message_template",
            object_id=row.pk,
            data={
                "family": str(row.family),
                "version": row.version,
                "from_version": created_from,
                "kind": row.kind,
                "audience": row.audience,
                "name": row.name,
                "body": row.body,
            },
        )
    return row


def template_approve(
    *, actor: User, template: MessageTemplate, approval_reference: str
) -> MessageTemplate:
    """Approve a draft as the client-approved text; the previously approved version retires.

    Four eyes: the author cannot approve their own draft. The text is linted again (the
    lexicon or the client's settings may have changed since it was saved).
    """
    if not can_approve_templates(actor) or template.organisation_id != actor.organisation_id:
        raise PermissionDenied(_("只有主管、分公司经理或总部可以批准模板。"))
    reference = approval_reference.strip()
    if not reference:
        raise ValidationError(
            _("请填写委托方的审批编号（函件或邮件编号）。"), field="approval_reference"
        )
    with transaction.atomic():
        row = MessageTemplate.objects.select_for_update().get(pk=template.pk)
        if row.status != MessageTemplate.Status.DRAFT:
            raise RecoupError(_("只有草稿可以批准。"), code="not_draft")
        if row.created_by_id == actor.pk:
            raise PermissionDenied(_("不能批准自己编写的模板，请由另一位主管批准。"))
        problems = template_problems(
            organisation_id=row.organisation_id,
            kind=row.kind,
            audience=row.audience,
            body=row.body,
            client_id=row.client_id,
            contract=row.contract,
        )
        if problems:
            raise TemplateRefused(problems)
        previous = (
            MessageTemplate.objects.select_for_update()
            .filter(family=row.family, status=MessageTemplate.Status.APPROVED)
            .first()
        )
        if previous is not None:
            previous.status = MessageTemplate.Status.SUPERSEDED
            previous.save(update_fields=["status"])
        row.status = MessageTemplate.Status.APPROVED
        row.approved_by = actor
        row.approved_at = now()
        row.approval_reference = reference
        row.save(update_fields=["status", "approved_by", "approved_at", "approval_reference"])
        audit_record(
            action="messaging.template.approved",
            actor=actor,
            organisation=row.organisation_id,
            object_type="message_template",
            object_id=row.pk,
            data={
                "family": str(row.family),
                "version": row.version,
                "approval_reference": reference,
                "superseded_version": previous.version if previous else None,
            },
        )
    return row

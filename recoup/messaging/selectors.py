"""Reads for the messaging screens and services: templates, settings, messages."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from recoup.cases.models import ContactPoint
from recoup.clients.models import Client, Contract
from recoup.compliance.selectors import effective_rules
from recoup.core.exceptions import NotFound, PermissionDenied
from recoup.messaging.models import Message, MessageTemplate, MessagingSettings
from recoup.messaging.permissions import can_read_templates

if TYPE_CHECKING:
    from recoup.accounts.models import User
    from recoup.cases.models import Case


def _require_reader(user: User) -> int:
    if not can_read_templates(user):
        raise PermissionDenied(_("您无权查看短信和信函模板。"))
    assert user.organisation_id is not None
    return user.organisation_id


def templates_for_user(user: User) -> QuerySet[MessageTemplate]:
    """Every version of every template of the person's agency (readers only)."""
    org_id = _require_reader(user)
    return (
        MessageTemplate.objects.for_org(org_id)
        .select_related("client", "contract", "created_by", "approved_by")
        .order_by("client__name", "name", "family", "-version")
    )


@dataclass(frozen=True)
class TemplateFamily:
    latest: MessageTemplate  # the newest version (a draft while one is being edited)
    approved: MessageTemplate | None  # the version in use, if any


def template_families_for_user(user: User) -> list[TemplateFamily]:
    families: dict[uuid.UUID, list[MessageTemplate]] = {}
    for template in templates_for_user(user):
        families.setdefault(template.family, []).append(template)
    return [
        TemplateFamily(
            latest=versions[0],
            approved=next(
                (v for v in versions if v.status == MessageTemplate.Status.APPROVED), None
            ),
        )
        for versions in families.values()
    ]


def template_get_for_user(user: User, template_id: int) -> MessageTemplate:
    template = templates_for_user(user).filter(pk=template_id).first()
    if template is None:
        raise NotFound(_("模板不存在。"))
    return template


def template_versions(template: MessageTemplate) -> QuerySet[MessageTemplate]:
    return (
        MessageTemplate.objects.for_org(template.organisation_id)
        .filter(family=template.family)
        .select_related("created_by", "approved_by")
        .order_by("-version")
    )


def latest_version_number(template: MessageTemplate) -> int:
    latest = (
        MessageTemplate.objects.filter(family=template.family)
        .order_by("-version")
        .values_list("version", flat=True)
        .first()
    )
    return latest or template.version


def templates_for_case(case: Case, kind: str | None = None) -> QuerySet[MessageTemplate]:
    """Approved templates usable on a case: its client's, for all contracts or its own.

    The caller has already reached the case through the case policy.
    """
    qs = (
        MessageTemplate.objects.for_org(case.organisation_id)
        .filter(client_id=case.client_id, status=MessageTemplate.Status.APPROVED)
        .filter(Q(contract__isnull=True) | Q(contract_id=case.contract_id))
        .select_related("client")
        .order_by("kind", "name")
    )
    return qs.filter(kind=kind) if kind else qs


def template_for_case(case: Case, template_id: int, kind: str) -> MessageTemplate:
    """A template of the case's client by id, in any status: the sending service refuses a
    draft or superseded one with its reason (a page opened before a new version was
    approved names the old one)."""
    template = (
        MessageTemplate.objects.for_org(case.organisation_id)
        .filter(pk=template_id, client_id=case.client_id, kind=kind)
        .filter(Q(contract__isnull=True) | Q(contract_id=case.contract_id))
        .select_related("client", "contract")
        .first()
    )
    if template is None:
        raise NotFound(_("模板不存在。"))
    return template


def clients_for_settings(user: User) -> QuerySet[Client]:
    org_id = _require_reader(user)
    return Client.objects.for_org(org_id).order_by("name")


def client_get_for_settings(user: User, client_id: int) -> Client:
    client = clients_for_settings(user).filter(pk=client_id).first()
    if client is None:
        raise NotFound(_("委托方不存在。"))
    return client


def contracts_for_templates(user: User) -> QuerySet[Contract]:
    org_id = _require_reader(user)
    return Contract.objects.for_org(org_id).select_related("client").order_by("client", "number")


def settings_for_client(client_id: int) -> MessagingSettings | None:
    return MessagingSettings.objects.filter(client_id=client_id).first()


def settings_by_client(user: User) -> dict[int, MessagingSettings]:
    org_id = _require_reader(user)
    return {s.client_id: s for s in MessagingSettings.objects.for_org(org_id)}


def us_profile(contract: Contract) -> bool:
    """The contract's effective compliance rules come from a US profile (US-8 applies)."""
    return any(code.startswith("us-") for code in effective_rules(contract).versions)


def us_profile_for(client_id: int, contract: Contract | None) -> bool:
    """A template of one contract: that contract; of a whole client: any of its contracts."""
    contracts = [contract] if contract is not None else Contract.objects.filter(client_id=client_id)
    return any(us_profile(c) for c in contracts)


def _uuid(value: uuid.UUID | str) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        return None


def contact_point_for_case(case: Case, uid: uuid.UUID | str) -> ContactPoint:
    key = _uuid(uid)
    point = (
        ContactPoint.objects.for_org(case.organisation_id)
        .filter(uid=key, debtor_id=case.debtor_id)
        .first()
        if key is not None
        else None
    )
    if point is None:
        raise NotFound(_("联系方式不存在。"))
    return point


def debtor_address(case: Case) -> ContactPoint | None:
    """The debtor's first known address (a letter's default destination)."""
    return (
        ContactPoint.objects.for_org(case.organisation_id)
        .filter(
            debtor_id=case.debtor_id, kind=ContactPoint.Kind.ADDRESS, role=ContactPoint.Role.DEBTOR
        )
        .exclude(validity=ContactPoint.Validity.INVALID)
        .order_by("id")
        .first()
    )


def messages_for_case(case: Case) -> QuerySet[Message]:
    """The SMS and letters of a case, newest first (the case page's list)."""
    return (
        Message.objects.for_org(case.organisation_id)
        .filter(case_id=case.pk)
        .select_related("template", "created_by")
        .order_by("-created_at", "-id")
    )


def message_get_for_case(case: Case, uid: uuid.UUID | str) -> Message:
    key = _uuid(uid)
    message = messages_for_case(case).filter(uid=key).first() if key is not None else None
    if message is None:
        raise NotFound(_("记录不存在。"))
    return message


def message_by_reference(reference: str) -> Message | None:
    """The message a gateway report names: our id (sent to the gateway) or its own id."""
    ours = _uuid(reference)
    found = Message.objects.filter(uid=ours).first() if ours is not None else None
    if found is None and reference:
        found = Message.objects.filter(provider_id=reference).order_by("-id").first()
    return found

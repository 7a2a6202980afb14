"""Writes on clients and contracts (system administrators; SPEC §1, §2)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from recoup.accounts.models import Role
from recoup.audit.services import audit_record
from recoup.clients.commission import parse_table
from recoup.clients.models import Client, ClientUser, Contract
from recoup.core.exceptions import PermissionDenied, RecoupError

if TYPE_CHECKING:
    from recoup.accounts.models import User

CONTRACT_ADMINS = (Role.Code.SYSTEM_ADMIN,)


def _require_admin(actor: User) -> int:
    if not actor.has_role(*CONTRACT_ADMINS) or actor.organisation_id is None:
        raise PermissionDenied(_("只有系统管理员可以维护委托方和合作协议。"))
    return actor.organisation_id


def _raise_validation(exc: ValidationError) -> None:
    messages = [f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()]
    raise RecoupError("; ".join(messages)) from exc


@transaction.atomic
def client_create(
    *, name: str, code: str, liaison_phone: str = "", emergency_phone: str = "", actor: User
) -> Client:
    org_id = _require_admin(actor)
    if Client.objects.for_org(org_id).filter(code=code).exists():
        raise RecoupError(_("委托方代码 %(code)s 已存在。") % {"code": code})
    client = Client(
        organisation_id=org_id,
        name=name.strip(),
        code=code.strip(),
        liaison_phone=liaison_phone,
        emergency_phone=emergency_phone,
    )
    try:
        client.full_clean()
    except ValidationError as exc:
        _raise_validation(exc)
    client.save()
    audit_record(
        action="clients.client.created",
        actor=actor,
        organisation=org_id,
        object_type="client",
        object_id=client.pk,
        data={"name": client.name, "code": client.code},
    )
    return client


@dataclass(frozen=True)
class ContractInput:
    number: str
    name: str
    starts_on: date
    ends_on: date | None = None
    case_period_days: int = 30
    review_every_days: int = 7
    sla_profile: str = "cn-default"
    compliance_profile: str = "cn-default"
    retention_years: int = 5
    recording_retention_years: int = 2
    reconciliation_day: int = 5
    import_error_policy: str = "quarantine"
    commission_table: dict[str, Any] = field(default_factory=dict)


def _check_contract(data: ContractInput) -> None:
    if data.ends_on and data.ends_on < data.starts_on:
        raise RecoupError(_("到期日期不能早于生效日期。"))
    if data.retention_years < 5:
        # SPEC §7: case material is kept until 5 years after the contract ends.
        raise RecoupError(_("保存年限不能少于 5 年。"))
    if data.recording_retention_years < 2:
        raise RecoupError(_("录音保存年限不能少于 2 年。"))
    parse_table(data.commission_table)  # the shape the money app reads (clients.commission)


@transaction.atomic
def contract_create(*, client: Client, data: ContractInput, actor: User) -> Contract:
    """File a contract (合作协议) before any case arrives (SPEC §2)."""
    org_id = _require_admin(actor)
    if client.organisation_id != org_id:
        raise PermissionDenied(_("委托方不存在。"))
    _check_contract(data)
    if Contract.objects.for_org(org_id).filter(number=data.number.strip()).exists():
        raise RecoupError(_("协议编号 %(number)s 已存在。") % {"number": data.number})
    contract = Contract(
        organisation_id=org_id, client=client, **{**asdict(data), "number": data.number.strip()}
    )
    try:
        contract.full_clean()
    except ValidationError as exc:
        _raise_validation(exc)
    contract.save()
    audit_record(
        action="clients.contract.created",
        actor=actor,
        organisation=org_id,
        object_type="contract",
        object_id=contract.pk,
        data={"client": client.code, **asdict(data)},
    )
    return contract


@transaction.atomic
def contract_update(*, contract: Contract, data: ContractInput, actor: User) -> Contract:
    """Change a contract's parameters; the audit event keeps each old and new value."""
    org_id = _require_admin(actor)
    if contract.organisation_id != org_id:
        raise PermissionDenied(_("合作协议不存在。"))
    _check_contract(data)
    changes: dict[str, list[Any]] = {}
    for name, value in asdict(data).items():
        if name == "number":
            continue  # the number identifies the contract with the client: never changed
        old = getattr(contract, name)
        if old != value:
            changes[name] = [old, value]
            setattr(contract, name, value)
    if not changes:
        return contract
    try:
        contract.full_clean()
    except ValidationError as exc:
        _raise_validation(exc)
    contract.save(update_fields=list(changes))
    audit_record(
        action="clients.contract.updated",
        actor=actor,
        organisation=org_id,
        object_type="contract",
        object_id=contract.pk,
        data={"changed": changes},
    )
    return contract


@transaction.atomic
def client_user_link(*, person: User, client: Client, actor: User) -> ClientUser:
    """Give a client-user login read access to one client's contracts (the bank portal)."""
    org_id = _require_admin(actor)
    if person.organisation_id != org_id or client.organisation_id != org_id:
        raise PermissionDenied(_("人员或委托方不存在。"))
    if not person.has_role(Role.Code.CLIENT_USER):
        raise RecoupError(_("只有“委托方”角色的账号可以关联委托方。"))
    existing = ClientUser.objects.filter(user=person).first()
    if existing is not None and existing.client_id != client.pk:
        raise RecoupError(_("该账号已关联其他委托方。"))
    link, created = ClientUser.objects.get_or_create(
        user=person, defaults={"organisation_id": org_id, "client": client}
    )
    if created:
        audit_record(
            action="clients.portal_user.linked",
            actor=actor,
            organisation=org_id,
            object_type="user",
            object_id=person.pk,
            data={"client": client.code, "username": person.username},
        )
    return link

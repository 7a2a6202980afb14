"""Writes on the case core. Each checks the policy, runs in one transaction and audits."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from recoup.accounts.roles import HOLD, TRANSITION, UNMASK, VIEW
from recoup.audit.services import audit_record
from recoup.cases import pii
from recoup.cases.models import CASE_TRANSITIONS, Case, ContactPoint, Debtor, Hold
from recoup.cases.permissions import user_can
from recoup.core import crypto
from recoup.core.clock import now
from recoup.core.exceptions import InvalidTransition, PermissionDenied, RecoupError
from recoup.core.identity import IdentifierError, normalise_id_number, normalise_name
from recoup.core.money import to_money
from recoup.workdays.calendar import local_date

if TYPE_CHECKING:
    from recoup.accounts.models import Organisation, OrgUnit, User
    from recoup.clients.models import Batch, Contract

logger = logging.getLogger(__name__)


def _clean(obj: Debtor | ContactPoint | Case | Hold) -> None:
    """``full_clean`` before the first save, with model errors turned into one domain error."""
    try:
        obj.full_clean()
    except ValidationError as exc:
        messages = [f"{field}: {' '.join(errs)}" for field, errs in exc.message_dict.items()]
        raise RecoupError("; ".join(messages)) from exc


def _require(user: User, action: str, case: Case) -> None:
    if not user_can(user, action, case):
        raise PermissionDenied(_("你没有权限执行此操作。"))


def _gender_and_birth_year(id_number: str) -> tuple[str, int | None]:
    gender = "M" if int(id_number[16]) % 2 == 1 else "F"
    return gender, int(id_number[6:10])


@dataclass(frozen=True)
class DebtorInput:
    name: str
    id_number: str
    employer: str = ""
    employer_address: str = ""
    province: str = ""
    city: str = ""


def debtor_build(*, organisation_id: int, data: DebtorInput) -> Debtor:
    """An unsaved, sealed Debtor (shared by single creation and bulk loaders)."""
    try:
        id_number = normalise_id_number(data.id_number)
    except IdentifierError as exc:
        raise RecoupError(_("证件号码无效：%(reason)s") % {"reason": exc}) from exc
    name = normalise_name(data.name)
    if not name:
        raise RecoupError(_("债务人姓名不能为空。"))
    debtor = Debtor(organisation_id=organisation_id, province=data.province, city=data.city)
    gender, birth_year = _gender_and_birth_year(id_number)
    debtor.gender, debtor.birth_year = gender, birth_year
    record = {
        "name": name,
        "id_number": id_number,
        "employer": data.employer,
        "employer_address": data.employer_address,
    }
    debtor.pii = crypto.seal_json(record, aad=debtor.aad())
    debtor.pii_key_id = crypto.keyring().active_id
    debtor.id_number_bidx = crypto.blind_index(pii.BIDX_ID, id_number)
    debtor.name_bidx = crypto.blind_index(pii.BIDX_NAME, name)
    return debtor


def contact_point_build(
    *,
    debtor: Debtor,
    kind: str,
    value: str,
    role: str = ContactPoint.Role.DEBTOR,
    name: str = "",
    label: str = "",
    source: str = ContactPoint.Source.CLIENT,
) -> ContactPoint:
    """An unsaved, sealed contact point; phones are normalised (+86, spaces, dashes)."""
    if kind == ContactPoint.Kind.PHONE:
        try:
            value = pii.normalise_phone(value)
        except IdentifierError as exc:
            raise RecoupError(_("电话号码无效：%(reason)s") % {"reason": exc}) from exc
    value = value.strip()
    if not value:
        raise RecoupError(_("联系方式不能为空。"))
    cp = ContactPoint(
        organisation_id=debtor.organisation_id,
        debtor=debtor,
        kind=kind,
        role=role,
        label=label,
        source=source,
    )
    cp.sealed = crypto.seal_json({"value": value, "name": name}, aad=cp.aad())
    cp.pii_key_id = crypto.keyring().active_id
    # value is already normalised: index it directly rather than normalising twice.
    if kind == ContactPoint.Kind.PHONE:
        cp.value_bidx = crypto.blind_index(pii.BIDX_PHONE, value)
    else:
        cp.value_bidx = pii.contact_bidx(kind, value)
    return cp


@transaction.atomic
def debtor_get_or_create(
    *, organisation: Organisation, data: DebtorInput, actor: User | None
) -> tuple[Debtor, bool]:
    """The one debtor of this person in the agency (blind index on the ID number)."""
    built = debtor_build(organisation_id=organisation.pk, data=data)
    existing = Debtor.objects.for_org(organisation).filter(id_number_bidx=built.id_number_bidx)
    found = existing.first()
    if found is not None:
        return found, False
    _clean(built)
    built.save()
    audit_record(
        action="cases.debtor.created", actor=actor, organisation=organisation, debtor_id=built.pk
    )
    return built, True


@transaction.atomic
def contact_point_add(
    *,
    debtor: Debtor,
    kind: str,
    value: str,
    role: str = ContactPoint.Role.DEBTOR,
    name: str = "",
    label: str = "",
    source: str = ContactPoint.Source.CLIENT,
    actor: User | None,
) -> ContactPoint:
    cp = contact_point_build(
        debtor=debtor, kind=kind, value=value, role=role, name=name, label=label, source=source
    )
    _clean(cp)
    cp.save()
    audit_record(
        action="cases.contact.added",
        actor=actor,
        organisation=debtor.organisation_id,
        debtor_id=debtor.pk,
        object_type="contact_point",
        object_id=cp.pk,
        data={"kind": kind, "role": role, "source": source},
    )
    return cp


@dataclass(frozen=True)
class CaseInput:
    client_case_number: str
    product: str
    account_number: str
    principal: Decimal
    interest: Decimal
    fees: Decimal
    overdue_days: int
    region: str = ""
    currency: str = "CNY"


def case_build(
    *,
    contract: Contract,
    debtor: Debtor,
    branch: OrgUnit,
    data: CaseInput,
    batch: Batch | None = None,
    placed_at: datetime | None = None,
) -> Case:
    """An unsaved Case: amounts checked, total derived, account number sealed."""
    for label, amount in (
        (_("本金"), data.principal),
        (_("利息"), data.interest),
        (_("费用"), data.fees),
    ):
        if amount < 0:
            raise RecoupError(_("金额不能为负数：%(field)s") % {"field": label})
    if data.overdue_days < 0:
        raise RecoupError(_("逾期天数不能为负数。"))
    total = to_money(data.principal + data.interest + data.fees)
    case = Case(
        organisation_id=contract.organisation_id,
        client_id=contract.client_id,
        contract=contract,
        batch=batch,
        debtor=debtor,
        client_case_number=data.client_case_number.strip(),
        product=data.product,
        currency=data.currency,
        principal=data.principal,
        interest=data.interest,
        fees=data.fees,
        total_owed=total,
        entrusted_amount=total,
        overdue_days=data.overdue_days,
        stage=Case.stage_for(data.overdue_days),
        branch=branch,
        region=data.region,
        placed_at=placed_at or now(),
    )
    # The case period (委案周期) runs from the placement day (China time).
    case.period_ends_on = local_date(case.placed_at) + timedelta(days=contract.case_period_days)
    case.account_bidx = pii.account_bidx(data.account_number)
    case.account_sealed = crypto.seal(data.account_number.strip().encode(), aad=case.account_aad())
    case.account_key_id = crypto.keyring().active_id
    return case


@transaction.atomic
def case_open(
    *,
    contract: Contract,
    debtor: Debtor,
    branch: OrgUnit,
    data: CaseInput,
    batch: Batch | None = None,
    actor: User | None,
) -> Case:
    """Create one case under a contract; the client case number is unique per contract."""
    if contract.status != "active":
        raise RecoupError(_("合作协议未生效，不能接收案件。"))
    if Case.objects.filter(
        contract=contract, client_case_number=data.client_case_number.strip()
    ).exists():
        raise RecoupError(
            _("该协议下已存在委托方案件号 %(number)s。") % {"number": data.client_case_number}
        )
    case = case_build(contract=contract, debtor=debtor, branch=branch, data=data, batch=batch)
    _clean(case)
    case.save()
    audit_record(
        action="cases.case.opened",
        actor=actor,
        organisation=case.organisation_id,
        case_id=case.pk,
        debtor_id=debtor.pk,
        data={"contract": contract.number, "total_owed": case.total_owed},
    )
    return case


@transaction.atomic
def case_transition(*, case: Case, to_status: str, actor: User, reason: str = "") -> Case:
    """Move a case along the allowed-transition table (CASE_TRANSITIONS)."""
    _require(actor, TRANSITION, case)
    # Re-read under lock: another request may have moved the case since it was loaded.
    locked = Case.objects.select_for_update().get(pk=case.pk)
    if to_status not in CASE_TRANSITIONS.get(locked.status, frozenset()):
        raise InvalidTransition(
            _("案件状态不能从“%(old)s”变为“%(new)s”。")
            % {
                "old": locked.get_status_display(),
                "new": dict(Case.Status.choices).get(to_status, to_status),
            }
        )
    old = locked.status
    locked.status, locked.status_changed_at = to_status, now()
    fields = ["status", "status_changed_at"]
    if to_status in Case.TERMINAL:
        locked.closed_at = locked.status_changed_at
        fields.append("closed_at")
    locked.save(update_fields=fields)
    audit_record(
        action="cases.case.status_changed",
        actor=actor,
        organisation=locked.organisation_id,
        case_id=locked.pk,
        data={"from": old, "to": to_status, "reason": reason},
    )
    return locked


@transaction.atomic
def case_put_on_hold(
    *, case: Case, reason: str, note: str = "", expires_at: datetime | None = None, actor: User
) -> Hold:
    """Stop all collection on a case (停催) until released or expired."""
    _require(actor, HOLD, case)
    if case.is_terminal:
        raise RecoupError(_("已结束的案件不能停催。"))
    if reason not in Hold.Reason.values:
        raise RecoupError(_("停催原因无效。"))
    if expires_at is not None and expires_at <= now():
        raise RecoupError(_("停催到期时间必须晚于现在。"))
    hold = Hold(
        organisation_id=case.organisation_id,
        case=case,
        reason=reason,
        note=note[:500],
        set_by=actor,
        expires_at=expires_at,
    )
    _clean(hold)
    hold.save()
    audit_record(
        action="cases.hold.placed",
        actor=actor,
        organisation=case.organisation_id,
        case_id=case.pk,
        object_type="hold",
        object_id=hold.pk,
        data={"reason": reason, "expires_at": expires_at, "note": note[:500]},
    )
    return hold


@transaction.atomic
def case_release_hold(*, hold: Hold, actor: User, note: str = "") -> Hold:
    _require(actor, HOLD, hold.case)
    released = Hold.objects.filter(pk=hold.pk, released_at__isnull=True).update(
        released_at=now(), released_by=actor, updated_at=now()
    )
    if not released:
        raise RecoupError(_("该停催已解除。"))
    hold.refresh_from_db()
    audit_record(
        action="cases.hold.released",
        actor=actor,
        organisation=hold.organisation_id,
        case_id=hold.case_id,
        object_type="hold",
        object_id=hold.pk,
        data={"reason": hold.reason, "note": note[:500]},
    )
    return hold


@transaction.atomic
def case_record_view(*, case: Case, actor: User, fields: list[str]) -> None:
    """Record that a person saw a case's (masked) personal data (SPEC §7: every view)."""
    _require(actor, VIEW, case)
    audit_record(
        action="cases.case.viewed",
        actor=actor,
        organisation=case.organisation_id,
        case_id=case.pk,
        debtor_id=case.debtor_id,
        data={"fields": fields},
    )


@transaction.atomic
def contact_unmask(*, case: Case, contact: ContactPoint, actor: User) -> str:
    """Reveal one contact point in full; needs the unmask permission and is audited."""
    _require(actor, UNMASK, case)
    if contact.debtor_id != case.debtor_id:
        raise PermissionDenied(_("该联系方式不属于此案件。"))
    value = str(contact.personal_data()["value"])
    audit_record(
        action="cases.contact.unmasked",
        actor=actor,
        organisation=case.organisation_id,
        case_id=case.pk,
        debtor_id=case.debtor_id,
        object_type="contact_point",
        object_id=contact.pk,
        data={"kind": contact.kind, "role": contact.role},
    )
    return value


@transaction.atomic
def debtor_unmask(*, case: Case, actor: User) -> dict[str, str]:
    """Reveal the debtor's name, ID number and employer in full; audited."""
    _require(actor, UNMASK, case)
    data = case.debtor.personal_data()
    audit_record(
        action="cases.debtor.unmasked",
        actor=actor,
        organisation=case.organisation_id,
        case_id=case.pk,
        debtor_id=case.debtor_id,
        data={"fields": ["name", "id_number", "employer"]},
    )
    return {k: str(data.get(k, "")) for k in ("name", "id_number", "employer", "employer_address")}


@transaction.atomic
def case_custom_reveal(*, case: Case, actor: User) -> dict[str, str] | None:
    """The bank's extra columns of the case (客户等级, 信用额度, 备注 …), which may hold
    anything, shown to those who may see personal data in full; audited. ``None`` when the
    record cannot be read (imported before 24 Nov 2026 for a person already known)."""
    _require(actor, UNMASK, case)
    try:
        fields = case.custom_fields()
    except crypto.DecryptionError:
        fields = None
    audit_record(
        action="cases.custom_fields.viewed",
        actor=actor,
        organisation=case.organisation_id,
        case_id=case.pk,
        debtor_id=case.debtor_id,
        data={"fields": sorted(fields or {}), "readable": fields is not None},
    )
    return fields


@transaction.atomic
def case_list_record_view(*, actor: User, case_ids: list[int], filters: object) -> None:
    """Record a case-list page view: which cases' (masked) names were shown, and the search."""
    if not case_ids:
        return
    audit_record(
        action="cases.case_list.viewed",
        actor=actor,
        organisation=actor.organisation_id,
        # The search text itself may be a phone or ID number: never copy it into the log.
        data={
            "case_ids": case_ids,
            "filters": {k: v for k, v in vars(filters).items() if k != "q" and v not in ("", None)},
            "searched": bool(getattr(filters, "q", "")),
        },
    )


@dataclass(frozen=True)
class ResealReport:
    debtors: int
    contacts: int
    cases: int
    # Every other model that declares ``SEALED_FIELDS`` or ``SEALED_FILES`` (contact notes,
    # message bodies and letter PDFs, payers' names, quarantined rows): "app.model" → rows.
    others: dict[str, int] = field(default_factory=dict)


def _reseal_custom_fields(case: Case) -> None:
    """The bank's extra columns go with the case's account: the import seals both with the
    same key, so a case moves to the active key whole (and onto the case's own binding,
    ``Case.custom_aad``, when it was imported before it)."""
    if case.custom_sealed is None:
        return
    try:
        fields = case.custom_fields()
    except crypto.DecryptionError:
        # Bound to a debtor the row never created (imports before 24 Nov 2026): it could
        # not be read before either; left as it is rather than lost.
        logger.warning("case %s: custom fields unreadable, not re-sealed", case.pk)
        return
    case.custom_sealed = crypto.seal_json(fields, aad=case.custom_aad())


def personal_data_reseal(*, batch_size: int = 1000) -> ResealReport:
    """Re-encrypt every sealed value not yet under the active key (key rotation, ADR 0005).

    Runs in batches, each its own transaction, so it can be interrupted and resumed: rows
    already re-sealed carry the active key id and are skipped next time. Old keys must stay
    in RECOUP_DATA_KEYS until this reports nothing left.
    """
    active = crypto.keyring().active_id
    counts = {"debtors": 0, "contacts": 0, "cases": 0}
    # Any: the three models share the shape (blob, key id, organisation) but no base class.
    jobs: list[tuple[str, Any, str, str]] = [
        ("debtors", Debtor, "pii", "pii_key_id"),
        ("contacts", ContactPoint, "sealed", "pii_key_id"),
        ("cases", Case, "account_sealed", "account_key_id"),
    ]
    for label, model, blob_field, key_field in jobs:
        while True:
            with transaction.atomic():
                rows = list(
                    model.objects.exclude(**{key_field: active}).order_by("pk")[:batch_size]
                )
                if not rows:
                    break
                per_org: dict[int, int] = {}
                for row in rows:
                    aad = row.account_aad() if isinstance(row, Case) else row.aad()
                    plain = crypto.unseal(bytes(getattr(row, blob_field)), aad=aad)
                    setattr(row, blob_field, crypto.seal(plain, aad=aad))
                    setattr(row, key_field, active)
                    if isinstance(row, Case):
                        _reseal_custom_fields(row)
                    per_org[row.organisation_id] = per_org.get(row.organisation_id, 0) + 1
                fields = [blob_field, key_field]
                if model is Case:
                    fields.append("custom_sealed")
                model.objects.bulk_update(rows, fields)
                for org_id, n in per_org.items():
                    audit_record(
                        action="cases.personal_data.resealed",
                        actor=None,
                        organisation=org_id,
                        data={"table": label, "rows": n, "key_id": active},
                    )
                counts[label] += len(rows)
    others = {
        model._meta.label_lower: n
        for model in apps.get_models()
        if (n := _reseal_declared(model, active, batch_size))
    }
    return ResealReport(**counts, others=others)


def _reseal_declared(model: Any, active: str, batch_size: int) -> int:
    """Re-seal a model's declared sealed fields and files not yet under ``active``.

    Read in primary-key order, a batch per transaction (resumable like the tables above: a
    value under the active key is skipped). The apps declare their fields on the model, so
    this module needs no import of theirs (``SEALED_FIELDS``: field → AAD method;
    ``SEALED_FILES``: a field naming a sealed file under MEDIA_ROOT → AAD method). A file is
    replaced whole (written beside it, then renamed over it)."""
    sealed_fields: dict[str, str] = getattr(model, "SEALED_FIELDS", {})
    sealed_files: dict[str, str] = getattr(model, "SEALED_FILES", {})
    if not sealed_fields and not sealed_files:
        return 0
    done, after = 0, 0
    media = Path(settings.MEDIA_ROOT)
    while True:
        with transaction.atomic():
            rows = list(model.objects.filter(pk__gt=after).order_by("pk")[:batch_size])
            if not rows:
                return done
            after = rows[-1].pk
            changed: list[Any] = []
            touched: set[str] = set()
            per_org: dict[int | None, int] = {}
            for row in rows:
                moved = False
                for name, aad_method in sealed_fields.items():
                    blob = getattr(row, name)
                    if blob and crypto.key_id_of(bytes(blob)) != active:
                        aad = getattr(row, aad_method)()
                        setattr(
                            row, name, crypto.seal(crypto.unseal(bytes(blob), aad=aad), aad=aad)
                        )
                        touched.add(name)
                        moved = True
                for name, aad_method in sealed_files.items():
                    relative = getattr(row, name)
                    path = media / relative if relative else None
                    if path is None or not path.exists():
                        continue
                    blob = path.read_bytes()
                    if crypto.key_id_of(blob) == active:
                        continue
                    aad = getattr(row, aad_method)()
                    fresh = path.with_name(path.name + ".reseal")
                    fresh.write_bytes(crypto.seal(crypto.unseal(blob, aad=aad), aad=aad))
                    fresh.replace(path)
                    moved = True
                if moved:
                    changed.append(row)
                    org = getattr(row, "organisation_id", None)
                    per_org[org] = per_org.get(org, 0) + 1
            if touched:
                model.objects.bulk_update(changed, sorted(touched))
            for org_id, n in per_org.items():
                audit_record(
                    action="cases.personal_data.resealed",
                    actor=None,
                    organisation=org_id,
                    data={"table": model._meta.label_lower, "rows": n, "key_id": active},
                )
            done += len(changed)

"""Writing compliance data: profiles and their versions, consent records, the lexicon.

Only the compliance officer edits profiles and the lexicon (``can_edit``); every change is a
new, audited version — a gate decision names the versions it used, so a past decision can
always be explained by the rules in force at that moment.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils.translation import gettext as _

from recoup.accounts.models import Organisation, Role
from recoup.audit.services import audit_record
from recoup.compliance.models import (
    ComplianceProfile,
    ConsentRecord,
    LexiconCategory,
    LexiconTerm,
    ProfileVersion,
)
from recoup.compliance.params import CHANNELS, ParamError, clean_params
from recoup.core.clock import now
from recoup.core.exceptions import NotFound, PermissionDenied, ValidationError

if TYPE_CHECKING:
    from recoup.accounts.models import User
    from recoup.cases.models import Debtor
    from recoup.clients.models import Contract

DEFAULTS_FILE = Path(__file__).parent / "data" / "defaults.json"
EDITORS = frozenset({Role.Code.COMPLIANCE_OFFICER})
READERS = frozenset(
    {
        Role.Code.COMPLIANCE_OFFICER,
        Role.Code.HQ,
        Role.Code.RISK_OFFICER,
        Role.Code.SUPERVISOR,
        Role.Code.BRANCH_MANAGER,
        Role.Code.SYSTEM_ADMIN,
        Role.Code.QUALITY_INSPECTOR,
    }
)


def can_edit(user: User) -> bool:
    return user.is_authenticated and user.status == "active" and bool(user.role_codes & EDITORS)


def can_read(user: User) -> bool:
    return user.is_authenticated and user.status == "active" and bool(user.role_codes & READERS)


def _require_editor(user: User) -> None:
    if not can_edit(user):
        raise PermissionDenied(_("只有合规专员可以修改合规配置和禁语词库。"))


def defaults() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DEFAULTS_FILE.read_text(encoding="utf-8"))
    return data


def install_defaults(organisation: Organisation | int) -> None:
    """Give an organisation the default profiles and lexicon it lacks (idempotent)."""
    org_id = organisation if isinstance(organisation, int) else organisation.pk
    data = defaults()
    with transaction.atomic():
        for spec in data["profiles"]:
            profile, created = ComplianceProfile.objects.get_or_create(
                organisation_id=org_id,
                code=spec["code"],
                defaults={
                    "name": spec["name"],
                    "jurisdiction": spec["jurisdiction"],
                    "description": spec.get("description", ""),
                },
            )
            if created:
                ProfileVersion.objects.create(
                    organisation_id=org_id,
                    profile=profile,
                    number=1,
                    params=clean_params(spec["params"]),
                    note="default (COMPLIANCE.md)",
                )
        for spec in data["lexicon"]:
            category, created = LexiconCategory.objects.get_or_create(
                organisation_id=org_id,
                code=spec["code"],
                defaults={
                    "name": spec["name"],
                    "tier": spec["tier"],
                    "grounding": spec.get("grounding", ""),
                    "third_party_only": spec.get("third_party_only", False),
                },
            )
            if created:
                LexiconTerm.objects.bulk_create(
                    [
                        LexiconTerm(organisation_id=org_id, category=category, term=term)
                        for term in spec.get("terms", [])
                    ]
                    + [
                        LexiconTerm(
                            organisation_id=org_id, category=category, term=p, is_pattern=True
                        )
                        for p in spec.get("patterns", [])
                    ]
                )


def install_defaults_for_new_organisation(
    sender: type[Organisation], instance: Organisation, created: bool, raw: bool = False, **_: Any
) -> None:
    if created and not raw:
        install_defaults(instance)


def profile_save(
    *,
    actor: User,
    organisation: Organisation | int,
    code: str,
    params: dict[str, Any],
    note: str,
    name: str = "",
    jurisdiction: str = ComplianceProfile.Jurisdiction.CONTRACT,
    contract: Contract | None = None,
) -> ProfileVersion:
    """Write a new version of a profile (creating the profile on first save).

    Bad parameters raise ``ValidationError`` naming them and change nothing.
    """
    _require_editor(actor)
    org_id = organisation if isinstance(organisation, int) else organisation.pk
    if actor.organisation_id != org_id or (
        contract is not None and contract.organisation_id != org_id
    ):
        raise PermissionDenied(_("只能修改本机构的合规配置。"))
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,49}", code):
        raise ValidationError(_("配置代码只能使用小写字母、数字和连字符。"), field="code")
    if not note.strip():
        raise ValidationError(_("请写明修改原因。"), field="note")
    try:
        cleaned = clean_params(params)
    except ParamError as exc:
        raise ValidationError(str(exc), field="params") from exc
    with transaction.atomic():
        profile, created = ComplianceProfile.objects.get_or_create(
            organisation_id=org_id,
            code=code,
            defaults={"name": name or code, "jurisdiction": jurisdiction, "contract": contract},
        )
        if not created and contract is not None and profile.contract_id != contract.pk:
            raise ValidationError(
                _("配置代码 %(code)s 已被使用，不能作为该合同的专属配置。") % {"code": code},
                field="code",
            )
        latest = (
            ProfileVersion.objects.select_for_update().filter(profile=profile).order_by("-number")
        ).first()
        version = ProfileVersion.objects.create(
            organisation_id=org_id,
            profile=profile,
            number=(latest.number + 1) if latest else 1,
            params=cleaned,
            note=note.strip(),
            created_by=actor,
        )
        audit_record(
            action="compliance.profile.versioned",
            actor=actor,
            organisation=org_id,
            object_type="compliance_profile",
            object_id=profile.pk,
            data={
                "code": code,
                "version": version.number,
                "created": created,
                "before": latest.params if latest else None,
                "after": cleaned,
                "note": note.strip(),
            },
        )
    return version


def consent_record(
    *,
    actor: User,
    debtor: Debtor,
    channel: str,
    starts_at: datetime,
    ends_at: datetime,
    evidence: str,
) -> ConsentRecord:
    """Record the debtor's agreement to be contacted outside the window (CN-1)."""
    if channel and channel not in CHANNELS:
        raise ValidationError(_("未知渠道：%(channel)s") % {"channel": channel}, field="channel")
    if ends_at <= starts_at:
        raise ValidationError(_("同意时段结束须晚于开始。"), field="ends_at")
    if not evidence.strip():
        raise ValidationError(_("请填写同意的证据（如录音的通话编号）。"), field="evidence")
    with transaction.atomic():
        consent = ConsentRecord.objects.create(
            organisation_id=debtor.organisation_id,
            debtor=debtor,
            channel=channel,
            starts_at=starts_at,
            ends_at=ends_at,
            evidence=evidence.strip(),
            recorded_by=actor,
        )
        audit_record(
            action="compliance.consent.recorded",
            actor=actor,
            organisation=debtor.organisation_id,
            debtor_id=debtor.pk,
            object_type="consent",
            object_id=consent.pk,
            data={
                "channel": channel or "*",
                "starts_at": starts_at.isoformat(),
                "ends_at": ends_at.isoformat(),
            },
        )
    return consent


def consent_revoke(*, actor: User, consent: ConsentRecord) -> None:
    with transaction.atomic():
        updated = ConsentRecord.objects.filter(pk=consent.pk, revoked_at__isnull=True).update(
            revoked_at=now()
        )
        if updated:
            audit_record(
                action="compliance.consent.revoked",
                actor=actor,
                organisation=consent.organisation_id,
                debtor_id=consent.debtor_id,
                object_type="consent",
                object_id=consent.pk,
            )


def lexicon_term_add(
    *, actor: User, category: LexiconCategory, term: str, is_pattern: bool = False
) -> LexiconTerm:
    _require_editor(actor)
    _require_same_org(actor, category.organisation_id)
    term = term.strip()
    if not term:
        raise ValidationError(_("请输入词语。"), field="term")
    if is_pattern:
        try:
            re.compile(term)
        except re.error as exc:
            raise ValidationError(
                _("正则表达式无效：%(error)s") % {"error": exc}, field="term"
            ) from exc
    if LexiconTerm.objects.filter(category=category, term=term).exists():
        raise ValidationError(_("该词语已在此类别中。"), field="term")
    with transaction.atomic():
        created = LexiconTerm.objects.create(
            organisation_id=category.organisation_id,
            category=category,
            term=term,
            is_pattern=is_pattern,
        )
        audit_record(
            action="compliance.lexicon_term.added",
            actor=actor,
            organisation=category.organisation_id,
            object_type="lexicon_term",
            object_id=created.pk,
            data={"category": category.code, "term": term, "pattern": is_pattern},
        )
    return created


def lexicon_term_remove(*, actor: User, term: LexiconTerm) -> None:
    _require_editor(actor)
    _require_same_org(actor, term.organisation_id)
    with transaction.atomic():
        audit_record(
            action="compliance.lexicon_term.removed",
            actor=actor,
            organisation=term.organisation_id,
            object_type="lexicon_term",
            object_id=term.pk,
            data={"category": term.category.code, "term": term.term},
        )
        term.delete()


def _require_same_org(actor: User, organisation_id: int) -> None:
    # Another agency's profile or contract is "not found", the same answer as a missing one.
    if actor.organisation_id != organisation_id:
        raise NotFound(_("合规配置不存在。"))


def profile_update(
    *, actor: User, profile: ComplianceProfile, params: dict[str, Any], note: str
) -> ProfileVersion:
    """A new version of an existing profile, as the compliance officer edited it.

    An edit that changes nothing is refused: a version records a decision, not a click.
    """
    _require_editor(actor)
    _require_same_org(actor, profile.organisation_id)
    try:
        cleaned = clean_params(params)
    except ParamError as exc:
        raise ValidationError(str(exc), field="params") from exc
    current = ProfileVersion.objects.filter(profile=profile).order_by("-number").first()
    if current is not None and current.params == cleaned:
        raise ValidationError(_("参数没有变化，未保存新版本。"), field="params")
    return profile_save(
        actor=actor,
        organisation=profile.organisation_id,
        code=profile.code,
        params=params,
        note=note,
    )


def contract_override_code(contract: Contract) -> str:
    """A free profile code for a contract's own profile: ``contract-<number>`` when it can be."""
    slug = re.sub(r"[^a-z0-9]+", "-", contract.number.lower()).strip("-")
    candidates = [f"contract-{slug}"[:50].rstrip("-")] if slug else []
    candidates += [f"contract-{contract.pk}"] + [f"contract-{contract.pk}-{n}" for n in range(2, 9)]
    taken = set(
        ComplianceProfile.objects.for_org(contract.organisation_id)
        .filter(code__in=candidates)
        .values_list("code", flat=True)
    )
    for code in candidates:
        if code not in taken:
            return code
    raise ValidationError(_("无法为该合作协议生成配置代码。"), field="code")


def contract_override_create(
    *, actor: User, contract: Contract, params: dict[str, Any], note: str
) -> ProfileVersion:
    """The contract's own profile (合同约定), stacked on top of the profiles it names.

    It can only tighten: stacked profiles combine most-restrictive-wins (``params.stack``).
    """
    _require_editor(actor)
    _require_same_org(actor, contract.organisation_id)
    if ComplianceProfile.objects.filter(contract=contract).exists():
        raise ValidationError(_("该合作协议已有自己的合规配置，请直接修改。"), field="contract")
    return profile_save(
        actor=actor,
        organisation=contract.organisation_id,
        code=contract_override_code(contract),
        params=params,
        note=note,
        name=(_("合作协议 %(number)s 约定") % {"number": contract.number})[:100],
        jurisdiction=ComplianceProfile.Jurisdiction.CONTRACT,
        contract=contract,
    )

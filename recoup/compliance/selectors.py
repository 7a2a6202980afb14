"""Reading compliance data: the effective (stacked) rules of a contract, consents, profiles."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet

from recoup.compliance.models import ComplianceProfile, ConsentRecord, ProfileVersion
from recoup.compliance.params import stack

if TYPE_CHECKING:
    from recoup.clients.models import Contract


@dataclass(frozen=True)
class EffectiveRules:
    """The stacked parameters in force for a contract, and the versions they came from."""

    params: dict[str, Any]
    versions: dict[str, int]  # profile code → version number
    missing: list[str] = field(default_factory=list)  # named profiles that do not exist

    def get(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)


def profile_codes(contract: Contract) -> list[str]:
    """The profile stack a contract names (``"cn-default"`` or ``"us-federal, us-ma"``)."""
    raw = contract.compliance_profile or ""
    return [code.strip() for code in raw.replace("，", ",").split(",") if code.strip()]


def effective_rules(contract: Contract) -> EffectiveRules:
    """The contract's stack plus its own override profile, most restrictive wins.

    A named profile that does not exist is reported in ``missing``; the gate refuses every
    contact then (fail closed) rather than contacting under unknown rules.
    """
    codes = profile_codes(contract)
    # One portable query: a stack has a handful of profiles with a handful of versions each.
    versions = (
        ProfileVersion.objects.filter(organisation_id=contract.organisation_id)
        .filter(Q(profile__code__in=codes) | Q(profile__contract_id=contract.pk))
        .select_related("profile")
        .only("number", "params", "profile__code")
    )
    seen: dict[str, ProfileVersion] = {}
    for version in versions:
        code = version.profile.code
        if code not in seen or version.number > seen[code].number:
            seen[code] = version
    missing = [code for code in codes if code not in seen]
    return EffectiveRules(
        params=stack(v.params for v in seen.values()),
        versions={code: v.number for code, v in sorted(seen.items())},
        missing=missing,
    )


def consent_covers(*, debtor_id: int, channel: str, at: datetime, until: datetime) -> bool:
    """A live consent record of the debtor covering [at, until] for this channel (or all)."""
    return (
        ConsentRecord.objects.filter(
            debtor_id=debtor_id,
            revoked_at__isnull=True,
            starts_at__lte=at,
            ends_at__gte=until,
        )
        .filter(Q(channel="") | Q(channel=channel))
        .exists()
    )


def profiles_for(organisation_id: int) -> QuerySet[ComplianceProfile]:
    return ComplianceProfile.objects.for_org(organisation_id).prefetch_related("versions")


def latest_version(profile: ComplianceProfile) -> ProfileVersion | None:
    return profile.versions.order_by("-number").first()

"""Reading compliance data: the effective (stacked) rules of a contract, consents, profiles."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import Case, F, IntegerField, Prefetch, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _gettext
from django.utils.translation import gettext_lazy as _lazy

from recoup.clients.models import Contract
from recoup.compliance.models import (
    ComplianceProfile,
    ConsentRecord,
    LexiconCategory,
    LexiconTerm,
    ProfileVersion,
)
from recoup.compliance.params import (
    BY_NAME,
    CHANNEL_LABELS,
    CHANNELS,
    PARAMS,
    WEEKDAYS,
    describe,
    stack,
)
from recoup.core.exceptions import NotFound

if TYPE_CHECKING:
    from recoup.accounts.models import User


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


def latest_versions_sql(vendor: str, organisation: str, contract: str) -> str:
    """A scalar subquery: the newest version of each profile a contract can stack, as JSON.

    ``organisation`` and ``contract`` are SQL expressions (columns of the outer statement).
    The value is a JSON array of ``[code, contract_id, number, params]``, one per profile of
    the organisation that is not another contract's override; ``rules_from_latest`` turns it
    into the contract's rules. The compliance gate reads it in the same statement as the case
    (bench/gate.py), so a decision does not pay a round trip or an ORM query for its rules.
    """
    pv = ProfileVersion._meta.db_table
    cp = ComplianceProfile._meta.db_table
    if vendor == "postgresql":
        row = "CAST(json_agg(json_build_array(p.code, p.contract_id, v.number, v.params)) AS text)"
    else:
        row = "json_group_array(json_array(p.code, p.contract_id, v.number, json(v.params)))"
    return (
        f"(SELECT {row} FROM {pv} v JOIN {cp} p ON p.id = v.profile_id "  # noqa: S608 - table names from the models
        f"WHERE v.organisation_id = {organisation} "
        f"AND (p.contract_id IS NULL OR p.contract_id = {contract}) "
        f"AND v.number = (SELECT MAX(v2.number) FROM {pv} v2 WHERE v2.profile_id = p.id))"
    )


_STACKED: dict[tuple[str, str, int], EffectiveRules] = {}
_STACKED_MAX = 512


def rules_from_latest(contract: Contract, latest: str | None) -> EffectiveRules:
    """``effective_rules(contract)`` from ``latest_versions_sql``'s value.

    Versions are append-only, so the stacked rules are a function of that text and the
    contract's stack: they are memoised per process by exactly those (a second process
    computes the same). A stack naming a profile the text does not hold (missing, or another
    contract's override) is answered by ``effective_rules`` itself.
    """
    key = (latest or "[]", contract.compliance_profile or "", contract.pk)
    found = _STACKED.get(key)
    if found is not None:
        return found
    codes = profile_codes(contract)
    seen: dict[str, tuple[int, dict[str, Any]]] = {}
    for code, contract_id, number, params in json.loads(key[0]):
        if code in codes or contract_id == contract.pk:
            seen[code] = (int(number), params if isinstance(params, dict) else {})
    if any(code not in seen for code in codes):
        return effective_rules(contract)
    rules = EffectiveRules(
        params=stack(params for _, params in seen.values()),
        versions={code: number for code, (number, _) in sorted(seen.items())},
        missing=[],
    )
    _remember(key, rules)
    return rules


def _remember(key: tuple[str, str, int], rules: EffectiveRules) -> None:
    if len(_STACKED) >= _STACKED_MAX:
        _STACKED.clear()
    _STACKED[key] = rules


def versions_stamp_sql(organisation: str) -> str:
    """PostgreSQL: a scalar subquery stamping the organisation's set of profile versions.

    Versions are only ever added (never edited; profiles and versions are protected from
    deletion), and PostgreSQL never hands out a sequence number twice, even when the
    transaction that took it rolls back. So the count, largest id and sum of ids of the
    versions a transaction sees change whenever that set does, and a memo keyed by them
    (``rules_at_stamp``) cannot answer with rules another process would not. Cheaper to read
    than the versions themselves (``latest_versions_sql``: 0.15–0.3 ms a decision on
    PostgreSQL, bench/gate.py). SQLite can reuse the id of a rolled-back insert, so it reads
    the versions. ``organisation`` is an SQL expression of the outer statement.
    """
    pv = ProfileVersion._meta.db_table
    return (
        "(SELECT CAST(COUNT(*) AS text) || ':' || CAST(COALESCE(MAX(v.id), 0) AS text) || ':' "  # noqa: S608 - table name from the model
        f"|| CAST(COALESCE(SUM(v.id), 0) AS text) FROM {pv} v "
        f"WHERE v.organisation_id = {organisation})"
    )


def rules_at_stamp(contract: Contract, stamp: str) -> EffectiveRules:
    """``effective_rules(contract)``, memoised per process by ``versions_stamp_sql``'s value
    and the contract's stack; asks the database only when either is new to this process."""
    key = (
        f"stamp:{contract.organisation_id}:{stamp}",
        contract.compliance_profile or "",
        contract.pk,
    )
    found = _STACKED.get(key)
    if found is not None:
        return found
    rules = effective_rules(contract)
    _remember(key, rules)
    return rules


def rules_version_sql(vendor: str, organisation: str, contract: str) -> str:
    """What a hot read selects to find a contract's rules in the memo: the versions stamp on
    PostgreSQL, the newest versions themselves on SQLite (``rules_in_memo`` reads either)."""
    if vendor == "postgresql":
        return versions_stamp_sql(organisation)
    return latest_versions_sql(vendor, organisation, contract)


def rules_in_memo(vendor: str, contract: Contract, value: str | None) -> EffectiveRules:
    """The contract's rules from ``rules_version_sql``'s value."""
    if vendor == "postgresql":
        return rules_at_stamp(contract, value or "")
    return rules_from_latest(contract, value)


def rules_for_contracts(ids: Iterable[int]) -> dict[int, EffectiveRules]:
    """``effective_rules`` of several contracts, read with what finds them in the memo, in
    one query (a collector's queue spans a few contracts; bench/gate.py)."""
    q = connection.ops.quote_name
    table = q(Contract._meta.db_table)
    vendor = connection.vendor
    version = rules_version_sql(vendor, f"{table}.{q('organisation_id')}", f"{table}.{q('id')}")
    contracts = (
        Contract.objects.filter(pk__in=set(ids))
        .only("id", "organisation_id", "compliance_profile")
        .annotate(rules_version=RawSQL(version, []))  # noqa: S611 - no user input in it
    )
    return {c.pk: rules_in_memo(vendor, c, c.rules_version) for c in contracts}


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


# --- The compliance officer's screens (profiles, contract stacks, the lexicon) ---------------

_WEEKDAY_NAMES: tuple[Any, ...] = (
    _lazy("周一"),
    _lazy("周二"),
    _lazy("周三"),
    _lazy("周四"),
    _lazy("周五"),
    _lazy("周六"),
    _lazy("周日"),
)
NOT_SET = "—"


def weekday_label(day: int) -> str:
    return str(_WEEKDAY_NAMES[day]) if 0 <= day < len(_WEEKDAY_NAMES) else str(day)


def weekday_choices() -> list[tuple[str, Any]]:
    return [(str(day), _WEEKDAY_NAMES[day]) for day in WEEKDAYS]


def channel_choices() -> list[tuple[str, Any]]:
    return [(channel, CHANNEL_LABELS[channel]) for channel in CHANNELS]


def param_display(name: str, value: Any) -> str:
    """A parameter value as the compliance officer reads it (channels and weekdays named)."""
    if value is None:
        return NOT_SET
    param = BY_NAME.get(name)
    kind = param.kind if param else ""
    if kind == "bool":
        return str(_gettext("是") if value else _gettext("否"))
    if kind == "channels":
        return _gettext("、").join(str(CHANNEL_LABELS.get(c, c)) for c in value) or NOT_SET
    if kind == "weekdays":
        return _gettext("、").join(weekday_label(int(d)) for d in value) or NOT_SET
    if kind == "zones":
        return ", ".join(str(z) for z in value) or NOT_SET
    return str(value)


@dataclass(frozen=True)
class ParamValue:
    """One parameter of the catalogue with the value a profile version gives it (or none)."""

    name: str
    label: str
    help: str
    value: Any
    display: str

    @property
    def is_set(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class ParamChange:
    name: str
    label: str
    before: str
    after: str


@dataclass(frozen=True)
class VersionRow:
    """A version of a profile and what it changed against the one before (v1: everything)."""

    version: ProfileVersion
    changes: list[ParamChange]


@dataclass(frozen=True)
class ProfileRow:
    profile: ComplianceProfile
    current: ProfileVersion | None


@dataclass(frozen=True)
class StackEntry:
    code: str
    profile: ComplianceProfile | None  # None: the contract names a profile that does not exist


@dataclass(frozen=True)
class ContractStack:
    """Which profiles a contract stacks: the codes it names, plus its own override profile."""

    contract: Contract
    entries: list[StackEntry]
    override: ComplianceProfile | None

    @property
    def missing(self) -> list[str]:
        return [entry.code for entry in self.entries if entry.profile is None]


@dataclass(frozen=True)
class EffectiveCell:
    display: str
    is_set: bool
    won: bool


@dataclass(frozen=True)
class EffectiveRow:
    """One parameter of a contract's stack: the value in force and the profiles it came from."""

    name: str
    label: str
    display: str
    sources: list[str]  # profile codes whose value is (part of) the effective one
    cells: list[EffectiveCell]  # one per layer, in stack order


@dataclass(frozen=True)
class EffectivePreview:
    stack: ContractStack
    layers: list[tuple[ComplianceProfile, ProfileVersion]]
    rules: EffectiveRules
    rows: list[EffectiveRow]


def param_values(params: dict[str, Any]) -> list[ParamValue]:
    """Every catalogue parameter, in catalogue order, with the value ``params`` gives it."""
    return [
        ParamValue(
            name=p.name,
            label=str(p.label),
            help=str(p.help),
            value=params.get(p.name),
            display=param_display(p.name, params.get(p.name)),
        )
        for p in PARAMS
    ]


def params_diff(before: dict[str, Any], after: dict[str, Any]) -> list[ParamChange]:
    """The parameters whose value differs, in catalogue order (unknown names last)."""
    names = [p.name for p in PARAMS] + sorted((set(before) | set(after)) - set(BY_NAME))
    return [
        ParamChange(
            name=name,
            label=describe(name),
            before=param_display(name, before.get(name)),
            after=param_display(name, after.get(name)),
        )
        for name in names
        if before.get(name) != after.get(name)
    ]


def _org_id(user: User) -> int | None:
    """The user's agency; a login without one reads nothing here."""
    org_id: int | None = user.organisation_id
    return org_id


def _profiles(user: User) -> QuerySet[ComplianceProfile]:
    org_id = _org_id(user)
    if org_id is None:
        return ComplianceProfile.objects.none()
    return ComplianceProfile.objects.for_org(org_id).select_related("contract", "contract__client")


def profile_list_for_user(user: User) -> list[ProfileRow]:
    """The organisation's profiles, jurisdictions first, then contract overrides."""
    profiles = (
        _profiles(user)
        .prefetch_related(
            Prefetch(
                "versions",
                queryset=ProfileVersion.objects.select_related("created_by").order_by("-number"),
            )
        )
        .order_by(F("contract_id").asc(nulls_first=True), "code")
    )
    rows = []
    for profile in profiles:
        versions = list(profile.versions.all())
        rows.append(ProfileRow(profile=profile, current=versions[0] if versions else None))
    return rows


def profile_get_for_user(user: User, profile_id: int) -> ComplianceProfile:
    """A profile of the user's organisation; another agency's is "not found" like a missing one."""
    profile = _profiles(user).filter(pk=profile_id).first()
    if profile is None:
        raise NotFound(_gettext("合规配置不存在。"))
    return profile


def profile_history(profile: ComplianceProfile) -> list[VersionRow]:
    """Every version of a profile, newest first, each with its changes against the previous."""
    versions = list(
        ProfileVersion.objects.for_org(profile.organisation_id)
        .filter(profile=profile)
        .select_related("created_by")
        .order_by("number")
    )
    rows: list[VersionRow] = []
    previous: dict[str, Any] = {}
    for version in versions:
        rows.append(VersionRow(version=version, changes=params_diff(previous, version.params)))
        previous = version.params
    rows.reverse()
    return rows


def _contracts(org_id: int | None) -> QuerySet[Contract]:
    if org_id is None:
        return Contract.objects.none()
    return (
        Contract.objects.for_org(org_id)
        .select_related("client", "compliance_override")
        .order_by("client__name", "number")
    )


def _stack_of(contract: Contract, by_code: dict[str, ComplianceProfile]) -> ContractStack:
    override: ComplianceProfile | None = getattr(contract, "compliance_override", None)
    return ContractStack(
        contract=contract,
        entries=[StackEntry(code, by_code.get(code)) for code in profile_codes(contract)],
        override=override,
    )


def contract_stacks_for_user(user: User) -> list[ContractStack]:
    """Every contract of the organisation with the profiles it stacks (missing ones marked)."""
    org_id = _org_id(user)
    if org_id is None:
        return []
    by_code = {p.code: p for p in ComplianceProfile.objects.for_org(org_id)}
    return [_stack_of(contract, by_code) for contract in _contracts(org_id)]


def contracts_using_profile(profile: ComplianceProfile) -> list[Contract]:
    """The contracts whose rules this profile is part of (named in the stack or own override)."""
    return [
        contract
        for contract in _contracts(profile.organisation_id)
        if profile.contract_id == contract.pk or profile.code in profile_codes(contract)
    ]


def contract_get_for_compliance(user: User, contract_id: int) -> Contract:
    contract = _contracts(_org_id(user)).filter(pk=contract_id).first()
    if contract is None:
        raise NotFound(_gettext("合作协议不存在。"))
    return contract


def _contributes(name: str, value: Any, effective: Any) -> bool:
    """Whether a layer's value is the one in force (for a union: any part of it)."""
    if BY_NAME[name].combine == "union":
        return bool(set(map(str, value)) & set(map(str, effective)))
    return bool(value == effective)


def effective_preview(contract: Contract) -> EffectivePreview:
    """A contract's effective rules with, per parameter, each layer's value and the winner.

    The effective values are the gate's own (``effective_rules``); the layers are the newest
    versions of the profiles in the stack, the contract's override last.
    """
    rules = effective_rules(contract)
    by_code = {p.code: p for p in ComplianceProfile.objects.for_org(contract.organisation_id)}
    stack_ = _stack_of(contract, by_code)
    profiles = [e.profile for e in stack_.entries if e.profile is not None]
    if stack_.override is not None and stack_.override not in profiles:
        profiles.append(stack_.override)
    layers: list[tuple[ComplianceProfile, ProfileVersion]] = []
    for profile in profiles:
        version = latest_version(profile)
        if version is not None:
            layers.append((profile, version))
    rows: list[EffectiveRow] = []
    for param in PARAMS:
        name = param.name
        effective = rules.params.get(name)
        cells: list[EffectiveCell] = []
        sources: list[str] = []
        for profile, version in layers:
            value = version.params.get(name)
            won = (
                value is not None and effective is not None and _contributes(name, value, effective)
            )
            if won:
                sources.append(profile.code)
            cells.append(EffectiveCell(param_display(name, value), value is not None, won))
        rows.append(
            EffectiveRow(
                name=name,
                label=str(param.label),
                display=param_display(name, effective),
                sources=sources,
                cells=cells,
            )
        )
    return EffectivePreview(stack=stack_, layers=layers, rules=rules, rows=rows)


def lexicon_for_user(user: User) -> QuerySet[LexiconCategory]:
    """The organisation's forbidden-word categories with their terms."""
    org_id = _org_id(user)
    if org_id is None:
        return LexiconCategory.objects.none()
    return (
        LexiconCategory.objects.for_org(org_id)
        .prefetch_related(Prefetch("terms", queryset=LexiconTerm.objects.order_by("term")))
        .annotate(
            severity=Case(
                When(tier=LexiconCategory.Tier.RED_LINE, then=Value(0)),
                When(tier=LexiconCategory.Tier.SERIOUS, then=Value(1)),
                default=Value(2),
                output_field=IntegerField(),
            )
        )
        .order_by("severity", "code")
    )


def lexicon_category_get_for_user(user: User, category_id: int) -> LexiconCategory:
    category = lexicon_for_user(user).filter(pk=category_id).first()
    if category is None:
        raise NotFound(_gettext("禁语类别不存在。"))
    return category


def lexicon_term_get_for_user(user: User, term_id: int) -> LexiconTerm:
    org_id = _org_id(user)
    terms = (
        LexiconTerm.objects.for_org(org_id) if org_id is not None else LexiconTerm.objects.none()
    )
    term = terms.select_related("category").filter(pk=term_id).first()
    if term is None:
        raise NotFound(_gettext("禁语不存在。"))
    return term

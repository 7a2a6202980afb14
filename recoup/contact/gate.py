"""The compliance gate: one decision in front of every outbound contact (COMPLIANCE.md §D).

``decide(ContactRequest(...))`` answers allow or refuse for a call (manual, click-to-dial,
dialer, robot), SMS, email, IM, letter or field visit, with every refusing rule's code and
reason, and logs the decision (``ContactDecision``) whatever the answer, with the versions
of the compliance profiles it applied. The rules are the stacked parameters of the case's
contract (``recoup.compliance.selectors.effective_rules``); nothing here is a legal number.

Concurrency: a logged decision runs in one transaction holding the debtor's row lock
(``SELECT … FOR NO KEY UPDATE`` on PostgreSQL; SQLite's IMMEDIATE transactions serialise
writers), and an allowed voice contact is a *grant* that takes one slot of the day's caps
until its attempt is reported or it expires. Two collectors asking for the debtor's last slot
in the same second therefore get one pass between them.

``precheck`` runs the same rules without logging or reserving (the work queue uses it to
show only cases contactable now).
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q

from recoup.accounts.models import Role, RoleAssignment
from recoup.accounts.roles import WORK
from recoup.cases.models import Case, ContactPoint, Debtor, Hold
from recoup.cases.permissions import user_can
from recoup.clients.models import Contract
from recoup.compliance.params import VOICE_CHANNELS, parse_time
from recoup.compliance.selectors import (
    EffectiveRules,
    consent_covers,
    effective_rules,
    rules_in_memo,
    rules_version_sql,
)
from recoup.contact.models import (
    FAILED_TO_REACH,
    UNANSWERED,
    ContactAttempt,
    ContactDecision,
)
from recoup.contact.rules import reason
from recoup.core.clock import now
from recoup.core.db import RowShape, fetch_prepared, insert_one

if TYPE_CHECKING:
    from recoup.accounts.models import User

CHANNEL_KIND = {
    "call": "phone",
    "robot": "phone",
    "sms": "phone",
    "im": "phone",
    "email": "email",
    "letter": "address",
    "visit": "address",
}
DEBT_PARTIES = frozenset({ContactPoint.Role.DEBTOR, ContactPoint.Role.GUARANTOR})
# A case in these states can be contacted (allocated and not finished).
WORKABLE = frozenset({"assigned", "collecting", "promised", "on_plan"})


@dataclass(frozen=True)
class ContactRequest:
    actor: User
    case: Case
    channel: str
    contact_point: ContactPoint | None = None
    at: datetime | None = None  # default: now
    until: datetime | None = None  # end of a visit slot
    mode: str = ""
    participants: Sequence[User] = ()  # field-visit collectors
    via: str = "ui"


@dataclass(frozen=True)
class Refusal:
    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def reason(self, language: str | None = None) -> str:
        return reason(self.code, self.params, language)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "params": self.params}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    refusals: tuple[Refusal, ...]
    notices: tuple[Refusal, ...]
    profile_versions: dict[str, int]
    zone: str = ""
    record: ContactDecision | None = None
    expires_at: datetime | None = None

    @property
    def codes(self) -> list[str]:
        return [r.code for r in self.refusals]


# What the rules read of a case and a contact point (the rows are re-read under the lock).
_CASE = RowShape(
    Case,
    (
        "id",
        "organisation_id",
        "client_id",
        "contract_id",
        "debtor_id",
        "branch_id",
        "team_id",
        "assignee_id",
        "status",
        "lost_contact_since",
    ),
)
_CONTRACT = RowShape(Contract, ("id", "organisation_id", "compliance_profile"))
_DEBTOR = RowShape(Debtor, ("id", "time_zone"))
_POINT = RowShape(
    ContactPoint,
    (
        "id",
        "organisation_id",
        "debtor_id",
        "kind",
        "role",
        "validity",
        "refused_contact",
        "time_zone",
    ),
)


def grant_seconds() -> int:
    """How long after a grant its contact may start."""
    return int(getattr(settings, "RECOUP_GATE_GRANT_SECONDS", 180))


def held_after(at: datetime) -> datetime:
    """Grants that expired after this moment still hold their slot when unreported.

    A call may start just before its grant expires and last long; its outcome is reported when
    it ends. Until then (or until the longest call a dialer would hold,
    ``RECOUP_GATE_CALL_HOLD_MINUTES``) its slot stays taken, so nobody else gets the last
    conversation of the day while it may still be one.
    """
    minutes = int(getattr(settings, "RECOUP_GATE_CALL_HOLD_MINUTES", 60))
    return at - timedelta(minutes=minutes)


def decide(request: ContactRequest) -> Decision:
    """Decide, log the decision and, when allowed, hold the grant's slot (one transaction)."""
    at = request.at or now()
    with transaction.atomic():
        # Lock the debtor and judge the rows as they are now, not as the caller loaded them:
        # one statement (the gate's latency is mostly round trips: bench/gate.py).
        case, point, rules, counted = _read(request, at)
        request = replace(request, case=case, contact_point=point)
        decision, deadline = _evaluate(request, at, rules, counted)
        expires_at = None
        if decision.allowed:
            expires_at = max(request.until or at, at) + timedelta(seconds=grant_seconds())
            # A grant never lets a contact start after the window closes or in the next local
            # day (whose counters did not reserve its slot).
            expires_at = min(expires_at, deadline)
        record = ContactDecision(
            organisation_id=request.case.organisation_id,
            case=request.case,
            debtor_id=request.case.debtor_id,
            contact_point=request.contact_point,
            actor=request.actor,
            channel=request.channel,
            mode=request.mode,
            party_role=request.contact_point.role if request.contact_point else "",
            at=at,
            zone=decision.zone,
            until=request.until,
            allowed=decision.allowed,
            rules=[r.as_dict() for r in decision.refusals],
            notices=[n.as_dict() for n in decision.notices],
            profile_versions=decision.profile_versions,
            via=request.via,
            expires_at=expires_at,
        )
        insert_one(record)  # the ORM's INSERT, compiled once (bench/gate.py)
    return Decision(
        allowed=decision.allowed,
        refusals=decision.refusals,
        notices=decision.notices,
        profile_versions=decision.profile_versions,
        zone=decision.zone,
        record=record,
        expires_at=expires_at,
    )


def precheck(request: ContactRequest) -> Decision:
    """The same rules, neither logged nor reserving a slot (for showing, never for dialling)."""
    return _evaluate(request, request.at or now())[0]


@functools.cache
def _read_sql(vendor: str) -> str:
    """The decision's one read: the case, its contract and debtor (the debtor's row locked),
    whether a hold is active, the contact point, the actor's roles, and what finds the
    contract's stacked rules in the memo (``rules_version_sql``). Written by hand: building
    it with the ORM cost more than running it (bench/gate.py)."""
    q = connection.ops.quote_name
    hold = Hold._meta.db_table
    assignments = RoleAssignment._meta.db_table
    roles = Role._meta.db_table
    codes = "string_agg(r.code, ',')" if vendor == "postgresql" else "group_concat(r.code, ',')"
    return (
        f"SELECT {_CASE.columns('c')}, {_CONTRACT.columns('k')}, {_DEBTOR.columns('d')}, "  # noqa: S608 - names from the models; values are parameters
        f"EXISTS (SELECT 1 FROM {hold} h WHERE h.case_id = c.id AND h.released_at IS NULL "
        f"AND (h.expires_at IS NULL OR h.expires_at > %s)), "
        f"{_POINT.columns('p')}, "
        f"(SELECT {codes} FROM {assignments} ra JOIN {roles} r ON r.id = ra.role_id "
        f"WHERE ra.user_id = %s), "
        f"{rules_version_sql(vendor, 'k.organisation_id', 'k.id')} "
        f"FROM {q(Case._meta.db_table)} c "
        f"JOIN {q(Contract._meta.db_table)} k ON k.id = c.contract_id "
        f"JOIN {q(Debtor._meta.db_table)} d ON d.id = c.debtor_id "
        f"LEFT JOIN {q(ContactPoint._meta.db_table)} p ON p.id = %s "
        f"WHERE c.id = %s"
    )


def _lock_clause(vendor: str) -> str:
    """Lock the debtor's row for the decision (``FOR NO KEY UPDATE OF`` the debtor) on
    PostgreSQL; SQLite's IMMEDIATE transaction already holds the database's write lock."""
    return " FOR NO KEY UPDATE OF d" if vendor == "postgresql" else ""


@dataclass(frozen=True)
class _Counted:
    """The debtor's day counters, read in the same round trip as the case (PostgreSQL) for
    the local day of ``zone``; used only when the rules count in that zone, for that debtor
    and that number (otherwise ``_day_counts`` asks again)."""

    zone: str
    debtor_id: int
    point_id: int
    done: dict[str, int]
    held: dict[str, int]


def _guess_zone(request: ContactRequest) -> str:
    """The zone the day's counters will most likely be counted in, known before the read:
    the contact point's or the debtor's own zone when the caller loaded it, else the zone
    this contract's decisions last counted in, else the default zone."""
    point, case = request.contact_point, request.case
    if point is not None and point.__dict__.get("time_zone"):
        return str(point.__dict__["time_zone"])
    if Case.debtor.is_cached(case) and case.debtor.__dict__.get("time_zone"):
        return str(case.debtor.__dict__["time_zone"])
    return _LAST_ZONE.get(case.__dict__.get("contract_id") or 0, settings.TIME_ZONE)


# contract id → the zone its last decision counted in: a guess, checked on every use.
_LAST_ZONE: dict[int, str] = {}


def _read(
    request: ContactRequest, at: datetime
) -> tuple[Case, ContactPoint | None, EffectiveRules, _Counted | None]:
    """The case (with contract, debtor and ``on_hold``), the contact point and the rules,
    and on PostgreSQL the day's counters for the likely zone, in the same round trip."""
    point_id = request.contact_point.pk if request.contact_point is not None else None
    actor = request.actor
    vendor = connection.vendor
    sql = _read_sql(vendor) + _lock_clause(vendor)
    params = [connection.ops.adapt_datetimefield_value(at), actor.pk, point_id, request.case.pk]
    counted: _Counted | None = None
    debtor_id: int = request.case.__dict__.get("debtor_id") or 0
    speculate = (
        vendor == "postgresql"
        and debtor_id != 0
        and (request.channel in VOICE_CHANNELS or request.channel == "sms")
    )
    if speculate:
        zone = _guess_zone(request)
        try:
            tz = zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            speculate = False
        else:
            start, end = _local_day_bounds(at, tz)
            counts = _day_counts_params(start, end, debtor_id, point_id or 0, at)
    if vendor == "postgresql":
        # Prepared, and the counters (read after the debtor's row is locked, as
        # ``_day_counts`` reads them) in the same round trip.
        statements: list[tuple[str, Sequence[Any]]] = [(sql, params)]
        if speculate:
            statements.append((_day_counts_sql(vendor), counts))
        results = fetch_prepared(statements)
        row = results[0][0] if results[0] else None
        if speculate and row is not None:
            done, held = _counts_from(results[1])
            counted = _Counted(zone, debtor_id, point_id or 0, done, held)
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
    if row is None:
        raise Case.DoesNotExist("Case matching query does not exist.")
    i = len(_CASE)
    case = _CASE.instance(row[:i])
    contract = _CONTRACT.instance(row[i : i + len(_CONTRACT)])
    i += len(_CONTRACT)
    debtor = _DEBTOR.instance(row[i : i + len(_DEBTOR)])
    i += len(_DEBTOR)
    case.on_hold = bool(row[i])
    i += 1
    point = None
    if point_id is not None:
        if row[i] is None:
            raise ContactPoint.DoesNotExist("ContactPoint matching query does not exist.")
        point = _POINT.instance(row[i : i + len(_POINT)])
    i += len(_POINT)
    Case._meta.get_field("contract").set_cached_value(case, contract)
    Case._meta.get_field("debtor").set_cached_value(case, debtor)
    if (
        actor.pk
        and "role_codes" not in actor.__dict__
        and getattr(actor, "token_role_codes", None) is None
    ):
        # The same answer ``User.role_codes`` would query for (it is memoised per request).
        actor.__dict__["role_codes"] = frozenset(filter(None, (row[i] or "").split(",")))
    return case, point, rules_in_memo(vendor, contract, row[i + 1]), counted


# --- evaluation -------------------------------------------------------------------------


@dataclass
class _Context:
    request: ContactRequest
    at: datetime
    rules: EffectiveRules
    zone: zoneinfo.ZoneInfo
    local_day: date
    refusals: list[Refusal] = field(default_factory=list)
    notices: list[Refusal] = field(default_factory=list)
    deadlines: list[datetime] = field(default_factory=list)  # a grant ends by the earliest
    counted: _Counted | None = None  # the counters read with the case, if any

    def refuse(self, code: str, **params: Any) -> None:
        self.refusals.append(Refusal(code, params))

    def note(self, code: str, **params: Any) -> None:
        self.notices.append(Refusal(code, params))


def _evaluate(
    request: ContactRequest,
    at: datetime,
    rules: EffectiveRules | None = None,
    counted: _Counted | None = None,
) -> tuple[Decision, datetime]:
    """The decision, and the latest moment a contact it allows may start."""
    case = request.case
    if rules is None:
        rules = effective_rules(case.contract)
    zones = _candidate_zones(request, rules)
    ctx = _Context(
        request=request,
        at=at,
        rules=rules,
        zone=zones[0],
        local_day=at.astimezone(zones[0]).date(),
        counted=counted,
    )
    if rules.missing or not rules.versions:
        ctx.refuse(
            "profile_missing", codes=", ".join(rules.missing) or case.contract.compliance_profile
        )
    if not user_can(request.actor, WORK, case):
        ctx.refuse("not_permitted")
    if case.status not in WORKABLE:
        ctx.refuse("case_not_workable", status=case.status)
    for hold_reason in _active_holds(case, at):
        ctx.refuse("hold", reason=hold_reason)
    _check_contact_point(ctx)
    if not any(r.code in _STOPPERS for r in ctx.refusals):
        # Timing and counters are only worked out (and shown) for a contact to this case's
        # debtor by someone who works the case.
        _check_window(ctx, zones)
        _check_counters(ctx)
        _check_third_party(ctx)
        _check_visit(ctx)
    decision = Decision(
        allowed=not ctx.refusals,
        refusals=tuple(ctx.refusals),
        notices=tuple(ctx.notices),
        profile_versions=rules.versions,
        zone=str(ctx.zone),
    )
    return decision, min([*ctx.deadlines, _day_bounds(ctx)[1]])


_STOPPERS = frozenset(
    {"not_permitted", "contact_point_mismatch", "contact_point_kind", "contact_point_required"}
)


def _candidate_zones(request: ContactRequest, rules: EffectiveRules) -> list[zoneinfo.ZoneInfo]:
    """The debtor's local time zone(s): the contact point's, the debtor's, the profile's.

    With ``all_candidate_zones`` (US) every plausible zone must pass the window; otherwise
    the most specific known zone decides.
    """
    known = [
        z
        for z in (
            request.contact_point.time_zone if request.contact_point else "",
            getattr(request.case.debtor, "time_zone", ""),
        )
        if z
    ]
    profile_zones = list(rules.get("time_zones") or []) or [settings.TIME_ZONE]
    names = (
        [*known, *profile_zones]
        if rules.get("all_candidate_zones")
        else known[:1] or profile_zones[:1]
    )
    seen: list[zoneinfo.ZoneInfo] = []
    for name in dict.fromkeys(names):
        try:
            seen.append(zoneinfo.ZoneInfo(name))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue
    return seen or [zoneinfo.ZoneInfo(settings.TIME_ZONE)]


def _active_holds(case: Case, at: datetime) -> list[str]:
    if getattr(case, "on_hold", True) is False:  # known from the case's own read
        return []
    return sorted(
        set(
            Hold.objects.filter(case_id=case.pk, released_at__isnull=True)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=at))
            .order_by()
            .values_list("reason", flat=True)
        )
    )


def _check_contact_point(ctx: _Context) -> None:
    request = ctx.request
    point = request.contact_point
    kind = CHANNEL_KIND.get(request.channel, "")
    if point is None:
        if request.channel != "visit":  # a visit may go to the debtor's known address
            ctx.refuse("contact_point_required", channel=request.channel)
        return
    if point.debtor_id != request.case.debtor_id:
        ctx.refuse("contact_point_mismatch")
        return
    if point.kind != kind:
        ctx.refuse("contact_point_kind", channel=request.channel, kind=kind)
        return
    if point.validity == ContactPoint.Validity.INVALID and request.channel in VOICE_CHANNELS | {
        "sms",
        "im",
    }:
        ctx.refuse("number_invalid")


def _local_window(rules: EffectiveRules) -> tuple[time, time] | None:
    start, end = rules.get("window_start"), rules.get("window_end")
    if start is None and end is None:
        return None
    return parse_time(start or "00:00"), parse_time(end or "24:00")


def _inside(moment: datetime, zone: zoneinfo.ZoneInfo, start: time, end: time) -> bool:
    local = moment.astimezone(zone).time()
    return start <= local and (end == time.max or local < end)


def _check_window(ctx: _Context, zones: list[zoneinfo.ZoneInfo]) -> None:
    request, rules = ctx.request, ctx.rules
    if request.channel not in (rules.get("window_channels") or []):
        return
    blocked_days = rules.get("blocked_weekdays") or []
    for zone in zones:
        weekday = ctx.at.astimezone(zone).weekday()
        if weekday in blocked_days:
            ctx.refuse("blocked_weekday", weekday=weekday, zone=str(zone))
            return
    window = _local_window(rules)
    if window is None:
        return
    start, end = window
    until = request.until or ctx.at
    for zone in zones:
        ok = _inside(ctx.at, zone, start, end) and (
            until == ctx.at
            or (
                _inside(until, zone, start, end)
                and until.astimezone(zone).date() == ctx.at.astimezone(zone).date()
            )
        )
        if ok:
            ctx.deadlines.append(_window_closes(ctx.at, zone, end))
            continue
        if rules.get("consent_overrides_window") and consent_covers(
            debtor_id=request.case.debtor_id, channel=request.channel, at=ctx.at, until=until
        ):
            ctx.note("consent_window")
            ctx.deadlines.clear()
            return
        ctx.refuse(
            "outside_window",
            local_time=ctx.at.astimezone(zone).strftime("%H:%M:%S"),
            zone=str(zone),
            start=rules.get("window_start") or "00:00",
            end=rules.get("window_end") or "24:00",
        )
        return


def _window_closes(moment: datetime, zone: zoneinfo.ZoneInfo, end: time) -> datetime:
    day = moment.astimezone(zone).date()
    if end == time.max:
        return datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return datetime.combine(day, end, tzinfo=zone)


def _day_bounds(ctx: _Context) -> tuple[datetime, datetime]:
    start = datetime.combine(ctx.local_day, time.min, tzinfo=ctx.zone)
    return start, start + timedelta(days=1)


def _local_day_bounds(at: datetime, zone: zoneinfo.ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(at.astimezone(zone).date(), time.min, tzinfo=zone)
    return start, start + timedelta(days=1)


def _open_grants(ctx: _Context) -> Any:
    """Grants given but not yet reported or expired: each holds a slot of the caps."""
    day_start, day_end = _day_bounds(ctx)
    return ContactDecision.objects.filter(
        debtor_id=ctx.request.case.debtor_id,
        allowed=True,
        consumed_at__isnull=True,
        expires_at__gt=held_after(ctx.at),
        at__gte=day_start,
        at__lt=day_end,
    )


_VOICE = tuple(sorted(VOICE_CHANNELS))
_UNANSWERED = tuple(sorted(UNANSWERED))


@functools.cache
def _day_counts_sql(vendor: str) -> str:
    """``_day_counts``' statement, built once per process (its parameters in that order)."""
    voice, unanswered = _VOICE, _UNANSWERED
    v_in = ", ".join(["%s"] * len(voice))
    u_in = ", ".join(["%s"] * len(unanswered))
    attempts = ContactAttempt._meta.db_table
    decisions = ContactDecision._meta.db_table
    return (
        f"SELECT 'a', "  # noqa: S608 - table names from the models; values are parameters
        f"COALESCE(SUM(CASE WHEN debtor_conversation = %s AND channel IN ({v_in}) "
        f"THEN 1 ELSE 0 END), 0), "
        f"COALESCE(SUM(CASE WHEN contact_point_id = %s AND result IN ({u_in}) "
        f"THEN 1 ELSE 0 END), 0), "
        f"COALESCE(SUM(CASE WHEN channel = 'sms' THEN 1 ELSE 0 END), 0) "
        f"FROM {attempts} WHERE debtor_id = %s AND started_at >= %s AND started_at < %s "
        f"UNION ALL SELECT 'g', "
        f"COALESCE(SUM(CASE WHEN channel IN ({v_in}) THEN 1 ELSE 0 END), 0), "
        f"COALESCE(SUM(CASE WHEN contact_point_id = %s THEN 1 ELSE 0 END), 0), "
        f"COALESCE(SUM(CASE WHEN channel = 'sms' THEN 1 ELSE 0 END), 0) "
        f"FROM {decisions} WHERE debtor_id = %s AND allowed = %s "
        f"AND consumed_at IS NULL AND expires_at > %s AND at >= %s AND at < %s"
    )


def _day_counts_params(
    day_start: datetime, day_end: datetime, debtor_id: int, point_id: int, at: datetime
) -> list[Any]:
    adapt = connection.ops.adapt_datetimefield_value
    start, end = adapt(day_start), adapt(day_end)
    return [
        True,
        *_VOICE,
        point_id,
        *_UNANSWERED,
        debtor_id,
        start,
        end,
        *_VOICE,
        point_id,
        debtor_id,
        True,
        adapt(held_after(at)),
        start,
        end,
    ]


def _counts_from(rows: Sequence[Sequence[Any]]) -> tuple[dict[str, int], dict[str, int]]:
    by_kind = {row[0]: row[1:] for row in rows}
    a, g = by_kind["a"], by_kind["g"]
    return (
        {"talked": int(a[0]), "unanswered": int(a[1]), "sms": int(a[2])},
        {"voice": int(g[0]), "number": int(g[1]), "sms": int(g[2])},
    )


def _day_counts(ctx: _Context, point_id: int) -> tuple[dict[str, int], dict[str, int]]:
    """Today's attempts and open grants of the debtor, counted per cap, in one statement.

    The hottest query of the gate (every decision runs it): written in portable SQL so it
    costs one round trip and no ORM compilation, and on PostgreSQL usually read with the
    case (``_read``) when the zone guessed there is the one the rules count in.
    """
    debtor_id = ctx.request.case.debtor_id
    counted = ctx.counted
    _LAST_ZONE[ctx.request.case.contract_id] = str(ctx.zone)
    if (
        counted is not None
        and counted.zone == str(ctx.zone)
        and counted.debtor_id == debtor_id
        and counted.point_id == point_id
    ):
        return counted.done, counted.held
    day_start, day_end = _day_bounds(ctx)
    sql = _day_counts_sql(connection.vendor)
    params = _day_counts_params(day_start, day_end, debtor_id, point_id, ctx.at)
    if connection.vendor == "postgresql":
        return _counts_from(fetch_prepared([(sql, params)])[0])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return _counts_from(cursor.fetchall())


def _check_counters(ctx: _Context) -> None:
    """The daily caps, from one aggregate over today's attempts and one over open grants."""
    request, rules = ctx.request, ctx.rules
    point = request.contact_point
    party = point.role if point else ContactPoint.Role.DEBTOR
    voice = request.channel in VOICE_CHANNELS
    conversations_cap = rules.get("max_conversations_per_debtor_per_day") if voice else None
    unanswered_cap = (
        rules.get("max_unanswered_per_number_per_day") if voice and point is not None else None
    )
    sms_cap = rules.get("sms_per_debtor_per_day") if request.channel == "sms" else None
    if conversations_cap is not None or unanswered_cap is not None or sms_cap is not None:
        point_id = point.pk if point is not None else 0
        done, held = _day_counts(ctx, point_id)
        # Every voice contact counts, a third party's too: the debtor may answer a relative's
        # phone (a debtor conversation), so a 4th such call could be the 4th conversation.
        if conversations_cap is not None and done["talked"] + held["voice"] >= conversations_cap:
            ctx.refuse("debtor_daily_cap", cap=conversations_cap, open=held["voice"])
        if unanswered_cap is not None and done["unanswered"] + held["number"] >= unanswered_cap:
            ctx.refuse("number_unanswered_cap", cap=unanswered_cap)
        if sms_cap is not None and done["sms"] + held["sms"] >= sms_cap:
            ctx.refuse("sms_daily_cap", cap=sms_cap)
    if voice:
        _check_debt_calls(ctx, debt_party=party in DEBT_PARTIES)


def _check_debt_calls(ctx: _Context, *, debt_party: bool) -> None:
    """US Regulation F 1006.14(b)(2): 7 calls in 7 days per debt; 7-day cool-down.

    Both are the debtor's (or guarantor's) limits; a third-party call only waits for an open
    call on the debt, since the debtor may answer either and make it a conversation.
    """
    rules, case = ctx.rules, ctx.request.case
    cap = rules.get("max_calls_per_debt_7d")
    cooldown = rules.get("conversation_cooldown_days")
    if cap is None and cooldown is None:
        return
    calls = ContactAttempt.objects.filter(case_id=case.pk, channel__in=VOICE_CHANNELS)
    pending = ContactDecision.objects.filter(
        case_id=case.pk,
        allowed=True,
        consumed_at__isnull=True,
        expires_at__gt=held_after(ctx.at),
        channel__in=VOICE_CHANNELS,
    ).count()
    if cap is not None and debt_party:
        first_day = ctx.local_day - timedelta(days=6)
        placed = calls.filter(local_day__gte=first_day, local_day__lte=ctx.local_day).count()
        if placed + pending >= cap:
            ctx.refuse("calls_7d_cap", cap=cap)
    if cooldown and pending:
        # A call granted and not yet reported may be a conversation under way; a second call
        # now could fall inside its cool-down. Wait for its result (or its grant to expire).
        ctx.refuse("call_open")
    if cooldown and debt_party:
        last = (
            calls.filter(debtor_conversation=True, local_day__lte=ctx.local_day)
            .order_by("-local_day")
            .values_list("local_day", flat=True)
            .first()
        )
        if last is not None and ctx.local_day < last + timedelta(days=cooldown):
            ctx.refuse("conversation_cooldown", until=(last + timedelta(days=cooldown)).isoformat())


def debtor_unreachable(debtor_id: int, failures: int, case: Case | None = None) -> bool:
    """失联: every own number invalid, or the last ``failures`` attempts all failed, or a
    supervisor marked the case lost-contact."""
    if case is not None and case.lost_contact_since is not None:
        return True
    own_phones = list(
        ContactPoint.objects.filter(
            debtor_id=debtor_id, role=ContactPoint.Role.DEBTOR, kind=ContactPoint.Kind.PHONE
        ).values_list("validity", flat=True)
    )
    if own_phones and all(v == ContactPoint.Validity.INVALID for v in own_phones):
        return True
    if failures <= 0:
        return True
    recent = list(
        ContactAttempt.objects.filter(
            debtor_id=debtor_id,
            party_role=ContactPoint.Role.DEBTOR,
            channel__in=VOICE_CHANNELS,
        )
        .order_by("-started_at", "-id")
        .values_list("result", flat=True)[:failures]
    )
    return len(recent) == failures and all(r in FAILED_TO_REACH for r in recent)


def _check_third_party(ctx: _Context) -> None:
    point, rules = ctx.request.contact_point, ctx.rules
    if point is None or point.role in DEBT_PARTIES:
        return
    if rules.get("third_party_contact_allowed") is False:
        ctx.refuse("third_party_not_allowed")
        return
    if point.refused_contact:
        ctx.refuse("third_party_refused")
        return
    failures = rules.get("third_party_unlock_failures")
    if failures is not None and not debtor_unreachable(
        ctx.request.case.debtor_id, failures, ctx.request.case
    ):
        ctx.refuse("third_party_locked", failures=failures)
    cap = rules.get("max_conversations_per_third_party")
    if cap is not None:
        talked = ContactAttempt.objects.filter(contact_point_id=point.pk, conversation=True).count()
        # A grant not yet reported may be that conversation: it holds the slot.
        pending = ContactDecision.objects.filter(
            contact_point_id=point.pk,
            allowed=True,
            consumed_at__isnull=True,
            expires_at__gt=held_after(ctx.at),
            channel__in=[*VOICE_CHANNELS, "visit"],
        ).count()
        if talked + pending >= cap:
            ctx.refuse("third_party_cap", cap=cap)
    ctx.note("third_party_script")


def _check_visit(ctx: _Context) -> None:
    request, rules = ctx.request, ctx.rules
    if request.channel != "visit":
        return
    if request.until is None or request.until <= ctx.at:
        ctx.refuse("visit_slot")
    minimum = rules.get("visit_min_collectors")
    if minimum:
        day = ctx.local_day
        eligible = {
            p.pk
            for p in request.participants
            if p.status == "active"
            and p.is_active
            and p.organisation_id == request.case.organisation_id
            and p.training_current(day)
        }
        if len(eligible) < minimum:
            ctx.refuse("visit_collectors", min=minimum, count=len(eligible))

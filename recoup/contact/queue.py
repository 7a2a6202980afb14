"""The collector's work queue (我的队列): open cases contactable now, in a transparent order.

Each case gets a priority score from named parts, and the queue shows the parts as its
reasons, so a collector (and their supervisor) can see why a case is where it is:

- a promise due today (承诺今日到期) and promises broken (intensive follow-up, SPEC §3.7);
- an agreed follow-up time that has come (约定回访);
- SLA deadlines: the first action within 2 hours of allocation, the first full round;
- information repair due on lost-contact cases (every 5 days, SPEC §3.6);
- overdue days and amount (SPEC §3.5 "按照欠款时间的先后、金额大小");
- time since the last contact;
- best contact hours: the hours at which the debtor has answered before.

"Contactable now" is the gate's pre-check for the whole queue at once (no hold, window
open, the debtor's daily conversation cap not reached); cases that are not contactable are
counted and listed apart with the reason, never silently dropped.
"""

from __future__ import annotations

import math
import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.db.models import Case as CaseWhen
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce, ExtractHour
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from recoup.accounts.roles import WORK
from recoup.cases.models import Case, Hold
from recoup.cases.permissions import cases_user_can
from recoup.compliance.params import VOICE_CHANNELS, parse_time
from recoup.compliance.selectors import EffectiveRules, rules_for_contracts
from recoup.contact.gate import WORKABLE, held_after
from recoup.contact.models import ContactAttempt, ContactDecision, Promise
from recoup.contact.rules import reason
from recoup.core.clock import now

if TYPE_CHECKING:
    from recoup.accounts.models import User

REPAIR_EVERY_DAYS = 5
INTENSIVE_CONTACTS_PER_WEEK = 3
BEST_HOURS_LOOKBACK_DAYS = 60


@dataclass
class QueueFilters:
    stage: str = ""
    status: str = ""
    only: str = ""  # promise_today, broken, intensive, follow_up, sla, lost_contact, fresh
    q: str = ""
    show_blocked: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v}


@dataclass
class QueueCase:
    """The fields of a case the queue orders and shows."""

    FIELDS: ClassVar[tuple[str, ...]] = (
        "id",
        "client_case_number",
        "status",
        "stage",
        "overdue_days",
        "total_owed",
        "currency",
        "debtor_id",
        "contract_id",
        "client_name",
        "first_action_at",
        "first_action_due_at",
        "first_round_due_at",
        "last_attempt_at",
        "last_conversation_at",
        "next_follow_up_at",
        "broken_promises",
        "intensive_follow_up",
        "lost_contact_since",
        "last_repair_at",
    )
    STATUS_LABELS: ClassVar[dict[str, Any]] = dict(Case.Status.choices)

    id: int
    client_case_number: str
    status: str
    stage: str
    overdue_days: int
    total_owed: Decimal
    currency: str
    debtor_id: int
    contract_id: int
    client_name: str
    first_action_at: datetime | None
    first_action_due_at: datetime | None
    first_round_due_at: datetime | None
    last_attempt_at: datetime | None
    last_conversation_at: datetime | None
    next_follow_up_at: datetime | None
    broken_promises: int
    intensive_follow_up: bool
    lost_contact_since: datetime | None
    last_repair_at: datetime | None

    @property
    def pk(self) -> int:
        return self.id

    def get_status_display(self) -> str:
        return str(self.STATUS_LABELS.get(self.status, self.status))


URGENT_POINTS = 500


@dataclass
class Reason:
    """One part of a case's score. Its label is translated and formatted only when shown:
    the queue scores every case a collector holds but shows one page of them."""

    code: str
    text: str  # the message id (marked with gettext_noop), formatted with ``params``
    points: int
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return _(self.text) % self.params

    @property
    def urgent(self) -> bool:
        """Shown highlighted: worth as much as a broken promise or more."""
        return self.points >= URGENT_POINTS


@dataclass
class QueueRow:
    case: QueueCase
    score: int
    reasons: list[Reason] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)  # why it cannot be contacted now

    @property
    def contactable(self) -> bool:
        return not self.blocked

    def has(self, code: str) -> bool:
        return any(r.code == code for r in self.reasons)


@dataclass
class Queue:
    rows: list[QueueRow]
    blocked: list[QueueRow]
    total_open: int
    at: datetime


def _local(at: datetime) -> datetime:
    return at.astimezone(zoneinfo.ZoneInfo(settings.TIME_ZONE))


def _window_open(rules: EffectiveRules, at: datetime) -> str:
    """ "" when calls are allowed now under these rules, else the refusal reason."""
    if rules.missing or not rules.versions:
        return reason("profile_missing", {"codes": ", ".join(rules.missing)})
    if "call" not in (rules.get("window_channels") or []):
        return ""
    zones = rules.get("time_zones") or [settings.TIME_ZONE]
    start = parse_time(rules.get("window_start") or "00:00")
    end = parse_time(rules.get("window_end") or "24:00")
    for name in zones if rules.get("all_candidate_zones") else zones[:1]:
        moment = at.astimezone(zoneinfo.ZoneInfo(name))
        if moment.weekday() in (rules.get("blocked_weekdays") or []):
            return reason("blocked_weekday", {"weekday": moment.weekday()})
        local = moment.time()
        if not (start <= local and (end == time.max or local < end)):
            return reason(
                "outside_window",
                {
                    "local_time": local.strftime("%H:%M:%S"),
                    "zone": name,
                    "start": rules.get("window_start") or "00:00",
                    "end": rules.get("window_end") or "24:00",
                },
            )
    return ""


def my_queue(user: User, filters: QueueFilters | None = None, at: datetime | None = None) -> Queue:
    """The user's open, workable cases (their own for a collector), scored and pre-checked."""
    filters = filters or QueueFilters()
    at = at or now()
    local_now = _local(at)
    today = local_now.date()
    day_start = datetime.combine(today, time.min, tzinfo=local_now.tzinfo)
    cases = cases_user_can(user, WORK).filter(assignee_id=user.pk, status__in=WORKABLE)
    # One statement: the cases as plain rows (a collector holds hundreds, and the queue is
    # the page they open most: bench/gate.py measures it), each with what scoring and the
    # pre-check need, as correlated subqueries on the indexed keys.
    week_start = day_start - timedelta(days=local_now.weekday())
    columns = [f for f in QueueCase.FIELDS if f != "client_name"]
    rows_data = cases.order_by().values(
        *columns,
        client_name=F("client__name"),
        held=Exists(
            Hold.objects.filter(case_id=OuterRef("pk"), released_at__isnull=True).filter(
                Q(expires_at__isnull=True) | Q(expires_at__gt=at)
            )
        ),
        promise_today=Subquery(
            Promise.objects.filter(case_id=OuterRef("pk"), status=Promise.Status.OPEN, due_on=today)
            .order_by()
            .values("case_id")
            .annotate(total=Sum("amount"))
            .values("total")
        ),
        # The debtor's conversations today and open voice grants (the gate's daily cap).
        talked=Coalesce(
            _count(
                ContactAttempt.objects.filter(
                    debtor_id=OuterRef("debtor_id"),
                    started_at__gte=day_start,
                    debtor_conversation=True,
                    channel__in=VOICE_CHANNELS,
                ),
                "debtor_id",
            ),
            0,
        )
        + Coalesce(
            _count(
                ContactDecision.objects.filter(
                    debtor_id=OuterRef("debtor_id"),
                    allowed=True,
                    consumed_at__isnull=True,
                    expires_at__gt=held_after(at),
                    channel__in=VOICE_CHANNELS,
                ),
                "debtor_id",
            ),
            0,
        ),
        week_contacts=CaseWhen(
            When(
                intensive_follow_up=True,
                then=Coalesce(
                    _count(
                        ContactAttempt.objects.filter(
                            case_id=OuterRef("pk"), started_at__gte=week_start
                        ),
                        "case_id",
                    ),
                    0,
                ),
            ),
            default=Value(0),
        ),
        # The debtor answered at this local hour before (best contact hours).
        best_hour=Exists(
            ContactAttempt.objects.filter(
                case_id=OuterRef("pk"),
                debtor_conversation=True,
                started_at__gte=at - timedelta(days=BEST_HOURS_LOOKBACK_DAYS),
            )
            .annotate(hour=ExtractHour("started_at", tzinfo=local_now.tzinfo))
            .filter(hour=local_now.hour)
        ),
    )
    extra: dict[int, dict[str, Any]] = {}
    case_list: list[QueueCase] = []
    for row in rows_data:
        extra[row["id"]] = {k: row.pop(k) for k in _EXTRA}
        case_list.append(QueueCase(**row))
    rules_by_contract = rules_for_contracts({c.contract_id for c in case_list})
    window_by_contract: dict[int, str] = {}

    rows: list[QueueRow] = []
    blocked: list[QueueRow] = []
    for case in case_list:
        rules = rules_by_contract[case.contract_id]
        if case.contract_id not in window_by_contract:
            window_by_contract[case.contract_id] = _window_open(rules, at)
        facts = extra[case.pk]
        row = _score(
            case,
            at=at,
            today=today,
            promise_today=facts["promise_today"],
            week_contacts=facts["week_contacts"],
            best_hour=bool(facts["best_hour"]),
        )
        if facts["held"]:
            row.blocked.append(_("停催中"))
        if window_by_contract[case.contract_id]:
            row.blocked.append(window_by_contract[case.contract_id])
        cap = rules.get("max_conversations_per_debtor_per_day")
        if cap is not None and facts["talked"] >= cap:
            row.blocked.append(reason("debtor_daily_cap", {"cap": cap, "open": 0}))
        if not _matches(row, filters):
            continue
        (rows if row.contactable else blocked).append(row)
    rows.sort(key=lambda r: (-r.score, r.case.pk))
    blocked.sort(key=lambda r: (-r.score, r.case.pk))
    return Queue(rows=rows, blocked=blocked, total_open=len(case_list), at=at)


def _matches(row: QueueRow, filters: QueueFilters) -> bool:
    only = filters.only
    if not only:
        return True
    wanted = {
        "promise_today": "promise_today",
        "broken": "broken",
        "intensive": "intensive",
        "follow_up": "follow_up",
        "sla": "first_action",
        "lost_contact": "repair_due",
        "fresh": "never_contacted",
    }.get(only)
    if only == "sla":
        return row.has("first_action") or row.has("first_round")
    if only == "lost_contact":
        return row.case.lost_contact_since is not None
    return wanted is not None and row.has(wanted)


_EXTRA = ("held", "promise_today", "talked", "week_contacts", "best_hour")


def _count(rows: QuerySet[Any], key: str) -> Subquery:
    """A correlated COUNT of ``rows`` (already filtered on the outer row's ``key``)."""
    return Subquery(rows.order_by().values(key).annotate(n=Count("id")).values("n"))


def _score(
    case: QueueCase,
    *,
    at: datetime,
    today: date,
    promise_today: Any,
    week_contacts: int,
    best_hour: bool,
) -> QueueRow:
    reasons: list[Reason] = []

    def add(code: str, text: str, points: int, **params: Any) -> None:
        reasons.append(Reason(code, text, points, params))

    if promise_today is not None:
        add("promise_today", gettext_noop("承诺今日到期（%(amount)s）"), 1000, amount=promise_today)
    if case.intensive_follow_up:
        short = max(0, INTENSIVE_CONTACTS_PER_WEEK - week_contacts)
        add(
            "intensive",
            gettext_noop("密集跟进：违约 %(broken)s 次，本周已联系 %(done)s/%(target)s"),
            500 + 150 * short,
            broken=case.broken_promises,
            done=week_contacts,
            target=INTENSIVE_CONTACTS_PER_WEEK,
        )
    elif case.broken_promises:
        add("broken", gettext_noop("违约承诺 %(n)s 次"), 400, n=case.broken_promises)
    if case.next_follow_up_at is not None and case.next_follow_up_at <= at:
        add(
            "follow_up",
            gettext_noop("约定回访时间已到（%(at)s）"),
            600,
            at=_hm(case.next_follow_up_at),
        )
    if case.first_action_at is None:
        if case.first_action_due_at is not None:
            late = case.first_action_due_at <= at
            add(
                "first_action",
                gettext_noop("首催已超时（期限 %(due)s）")
                if late
                else gettext_noop("首催期限 %(due)s"),
                900 if late else 700,
                due=_hm(case.first_action_due_at),
            )
        else:
            add("never_contacted", gettext_noop("尚未联系"), 300)
    elif case.first_round_due_at is not None and case.last_attempt_at is None:
        add("first_round", gettext_noop("首轮期限 %(due)s"), 350, due=_hm(case.first_round_due_at))
    if case.lost_contact_since is not None:
        last = case.last_repair_at or case.lost_contact_since
        if at - last >= timedelta(days=REPAIR_EVERY_DAYS):
            add(
                "repair_due", gettext_noop("失联：信息修复已逾期（上次 %(at)s）"), 450, at=_hm(last)
            )
    overdue_points = min(200, case.overdue_days * 200 // 360)
    if overdue_points:
        add("overdue", gettext_noop("逾期 %(days)s 天"), overdue_points, days=case.overdue_days)
    amount = float(case.total_owed or 0)
    amount_points = int(min(200, 40 * math.log10(1 + amount / 100))) if amount > 0 else 0
    if amount_points:
        add("amount", gettext_noop("欠款 %(amount)s"), amount_points, amount=case.total_owed)
    if case.last_attempt_at is not None:
        days = (at - case.last_attempt_at).days
        if days >= 1:
            add(
                "since_contact",
                gettext_noop("距上次联系 %(days)s 天"),
                min(200, 20 * days),
                days=days,
            )
    if best_hour:
        add("best_hour", gettext_noop("该时段曾接通"), 100)
    return QueueRow(case=case, score=sum(r.points for r in reasons), reasons=reasons)


def _hm(moment: datetime) -> str:
    local = _local(moment)
    return local.strftime("%m-%d %H:%M")


# --- daily figures ----------------------------------------------------------------------


@dataclass
class DailyFigures:
    attempts: int
    effective: int
    attempts_target: int
    effective_target: int

    @property
    def attempts_pct(self) -> int:
        return min(100, self.attempts * 100 // self.attempts_target) if self.attempts_target else 0

    @property
    def effective_pct(self) -> int:
        return (
            min(100, self.effective * 100 // self.effective_target) if self.effective_target else 0
        )


DEFAULT_ATTEMPTS_TARGET = 200  # SPEC §6: 200+ attempts a day
DEFAULT_EFFECTIVE_TARGET = 50  # and 50+ effective calls


def daily_figures(users: list[User], day: date) -> dict[int, DailyFigures]:
    """Attempts and effective calls (conversations with the debtor) of each user on ``day``."""
    ids = [u.pk for u in users]
    counts: dict[int, dict[str, Any]] = {
        row["actor_id"]: dict(row)
        for row in ContactAttempt.objects.filter(
            organisation_id__in={u.organisation_id for u in users},
            actor_id__in=ids,
            local_day=day,
        )
        .values("actor_id")
        .annotate(n=Count("id"), effective=Count("id", filter=Q(debtor_conversation=True)))
    }
    out: dict[int, DailyFigures] = {}
    for user in users:
        profile = getattr(user, "collector_profile", None)
        row: dict[str, Any] = counts.get(user.pk, {})
        out[user.pk] = DailyFigures(
            attempts=row.get("n", 0),
            effective=row.get("effective", 0),
            attempts_target=getattr(profile, "daily_attempts_target", None)
            or DEFAULT_ATTEMPTS_TARGET,
            effective_target=getattr(profile, "daily_effective_target", None)
            or DEFAULT_EFFECTIVE_TARGET,
        )
    return out

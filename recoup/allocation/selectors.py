"""Allocation reads for the screens: rule sets, runs and their lines, the pool, SLA breaches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.utils.translation import gettext as _

from recoup.accounts.models import Role, Team, User
from recoup.accounts.roles import ALLOCATE
from recoup.allocation.models import (
    AllocationLine,
    AllocationRun,
    CollectorProfile,
    PeriodExtension,
    RuleSet,
)
from recoup.allocation.services import COLLECTOR_ROLES, can_allocate, ineligible_reason
from recoup.cases.models import Case
from recoup.cases.permissions import cases_user_can
from recoup.clients.models import Contract
from recoup.core.clock import now
from recoup.core.clock import today as local_today
from recoup.core.exceptions import NotFound


def _org(user: User) -> int:
    assert user.organisation_id is not None  # can_allocate() checked it
    return user.organisation_id


def contracts_for_allocator(user: User) -> QuerySet[Contract]:
    if not can_allocate(user):
        return Contract.objects.none()
    return (
        Contract.objects.filter(organisation_id=_org(user))
        .select_related("client")
        .order_by("client__name", "number")
    )


def rule_sets_for_user(user: User) -> QuerySet[RuleSet]:
    if not can_allocate(user):
        return RuleSet.objects.none()
    return (
        RuleSet.objects.for_org(_org(user))
        .select_related("contract", "contract__client", "updated_by")
        .order_by("contract__client__name", "contract__number", "name")
    )


def rule_set_get_for_user(user: User, rule_set_id: int) -> RuleSet:
    rule_set = rule_sets_for_user(user).filter(pk=rule_set_id).first()
    if rule_set is None:
        raise NotFound(_("找不到该记录。"))
    return rule_set


def runs_for_user(user: User) -> QuerySet[AllocationRun]:
    if not can_allocate(user):
        return AllocationRun.objects.none()
    return (
        AllocationRun.objects.for_org(_org(user))
        .select_related(
            "author",
            "committed_by",
            "contract",
            "contract__client",
            "rule_set",
            "subject_user",
            "signed_off_by",
        )
        .order_by("-created_at", "-id")
    )


def run_get_for_user(user: User, run_id: int) -> AllocationRun:
    """Allocators see their organisation's runs; a team leader sees the hand-overs of their
    own team's people (to sign them off). Anyone else: not found."""
    runs = runs_for_user(user)
    if not can_allocate(user) and user.has_role(Role.Code.TEAM_LEADER) and user.team_id:
        runs = (
            AllocationRun.objects.for_org(_org(user))
            .filter(kind=AllocationRun.Kind.HANDOVER, subject_user__team_id=user.team_id)
            .select_related("author", "committed_by", "subject_user", "signed_off_by")
        )
    run = runs.filter(pk=run_id).first()
    if run is None:
        raise NotFound(_("找不到该记录。"))
    return run


def handovers_to_sign(user: User) -> QuerySet[AllocationRun]:
    """Hand-overs of the user's team waiting for a team leader's sign-off."""
    if not user.has_role(Role.Code.TEAM_LEADER) or not user.team_id:
        return AllocationRun.objects.none()
    return (
        AllocationRun.objects.for_org(_org(user))
        .filter(
            kind=AllocationRun.Kind.HANDOVER,
            status=AllocationRun.Status.PREVIEW,
            signed_off_by__isnull=True,
            subject_user__team_id=user.team_id,
        )
        .select_related("author", "subject_user")
        .order_by("-created_at")
    )


def run_lines(run: AllocationRun) -> QuerySet[AllocationLine]:
    return (
        AllocationLine.objects.filter(run=run)
        .select_related("case", "collector", "team", "previous_assignee")
        .order_by("collector_id", "id")
    )


@dataclass
class PoolRow:
    contract: Contract
    waiting: int
    balance: Decimal
    overdue: int  # waiting past the one-working-day allocation deadline


def pool_for_user(user: User) -> list[PoolRow]:
    """Per contract: unassigned cases waiting in the user's scope, and how many are late."""
    if not can_allocate(user):
        return []
    at = now()
    rows = (
        cases_user_can(user, ALLOCATE)
        .filter(status=Case.Status.PENDING_ALLOCATION, assignee__isnull=True)
        .values("contract_id")
        .annotate(
            n=Count("id"),
            total=Sum("total_owed"),
            late=Count("id", filter=Q(allocation_due_at__lt=at)),
        )
    )
    contracts = {c.pk: c for c in contracts_for_allocator(user)}
    out = [
        PoolRow(contracts[r["contract_id"]], r["n"], r["total"] or Decimal(0), r["late"])
        for r in rows
        if r["contract_id"] in contracts
    ]
    return sorted(out, key=lambda r: (r.contract.client.name, r.contract.number))


def collectors_for_allocator(user: User) -> list[tuple[User, str]]:
    """Collectors the user may allocate to (their branch; everyone for HQ), with eligibility."""
    if not can_allocate(user):
        return []
    people = (
        User.objects.filter(organisation_id=_org(user), roles__code__in=list(COLLECTOR_ROLES))
        .select_related("team", "unit")
        .prefetch_related("roles")
        .distinct()
        .order_by("team__name", "display_name", "username")
    )
    if not user.has_role(Role.Code.HQ) and user.unit_id is not None:
        people = people.filter(unit_id=user.unit_id)
    today = local_today()
    return [(p, ineligible_reason(p, today)) for p in people]


def collector_settings(user: User) -> list[tuple[User, str, CollectorProfile | None]]:
    """The collectors the user allocates to, why any may not receive cases, and their
    settings (capacity, skills, weight, daily targets; None: never set)."""
    people = collectors_for_allocator(user)
    profiles = {
        p.user_id: p
        for p in CollectorProfile.objects.filter(user_id__in=[u.pk for u, _why in people])
    }
    return [(u, why, profiles.get(u.pk)) for u, why in people]


def collector_for_settings(user: User, person_id: int) -> tuple[User, CollectorProfile | None]:
    """One collector in the user's scope and their settings; NotFound otherwise."""
    for person, _why, profile in collector_settings(user):
        if person.pk == person_id:
            return person, profile
    raise NotFound(_("找不到该催收员。"))


def teams_for_allocator(user: User) -> QuerySet[Team]:
    if not can_allocate(user):
        return Team.objects.none()
    teams = Team.objects.filter(organisation_id=_org(user)).select_related("branch")
    if not user.has_role(Role.Code.HQ) and user.unit_id is not None:
        teams = teams.filter(branch_id=user.unit_id)
    return teams.order_by("branch__name", "name")


@dataclass
class Breaches:
    allocation: QuerySet[Case]  # still unassigned after the allocation deadline
    first_action: QuerySet[Case]  # assigned, no first action by its deadline
    at: datetime


def sla_breaches(user: User) -> Breaches:
    at = now()
    scope = cases_user_can(user, ALLOCATE).select_related("contract", "assignee", "team")
    return Breaches(
        allocation=scope.filter(
            status=Case.Status.PENDING_ALLOCATION, allocation_due_at__lt=at
        ).order_by("allocation_due_at", "id"),
        first_action=scope.filter(
            status=Case.Status.ASSIGNED,
            first_action_at__isnull=True,
            first_action_due_at__lt=at,
        ).order_by("first_action_due_at", "id"),
        at=at,
    )


def cases_by_numbers(user: User, contract_id: int, numbers: list[str]) -> dict[str, int]:
    """Case ids by client case number within one contract, limited to the user's scope."""
    found = cases_user_can(user, ALLOCATE).filter(
        contract_id=contract_id, client_case_number__in=numbers
    )
    return dict(found.values_list("client_case_number", "pk"))


def run_people(run: AllocationRun) -> list[User]:
    """The collectors named in a run (receivers and, for a hand-over, the departing person)."""
    ids = {r["collector_id"] for r in run.result.get("collectors", [])}
    if run.subject_user_id:
        ids.add(run.subject_user_id)
    return list(User.objects.filter(pk__in=ids).select_related("team"))


def people_for_handover(user: User) -> list[User]:
    """Collectors in the user's scope who hold open cases, departed ones included."""
    if not can_allocate(user):
        return []
    scope = cases_user_can(user, ALLOCATE).filter(
        assignee__isnull=False,
        status__in=["pending", "assigned", "collecting", "promised", "on_plan"],
    )
    ids = scope.values_list("assignee_id", flat=True).distinct()
    return list(
        User.objects.filter(pk__in=ids).select_related("team").order_by("team__name", "username")
    )


def case_for_extension(user: User, case_id: int) -> Case:
    """A case the user may ask to extend: the collector holding it, or an allocator."""
    from recoup.accounts.roles import WORK

    case = (cases_user_can(user, WORK) | cases_user_can(user, ALLOCATE)).filter(pk=case_id).first()
    if case is None:
        raise NotFound(_("找不到该案件。"))
    return case


def extension_get_for_user(user: User, extension_id: int) -> PeriodExtension:
    scope = cases_user_can(user, ALLOCATE).values("pk")
    found = PeriodExtension.objects.filter(pk=extension_id, case__in=scope).first()
    if found is None:
        raise NotFound(_("找不到该申请。"))
    return found


MANUAL_LIMIT = 5000


def cases_by_filter(
    user: User,
    contract_id: int,
    *,
    batch: str = "",
    stages: list[str] | None = None,
    holder_id: int | None = None,
    min_balance: Decimal | None = None,
    max_balance: Decimal | None = None,
) -> list[int]:
    """Open cases of a contract in the user's scope matching the filters: those held by
    ``holder_id``, or (without it) the ones waiting for allocation. At most 5,000, by id."""
    qs = cases_user_can(user, ALLOCATE).filter(contract_id=contract_id)
    if holder_id is not None:
        qs = qs.filter(
            assignee_id=holder_id,
            status__in=["assigned", "collecting", "promised", "on_plan"],
        )
    else:
        qs = qs.filter(status=Case.Status.PENDING_ALLOCATION, assignee__isnull=True)
    if batch:
        qs = qs.filter(batch__reference=batch)
    if stages:
        qs = qs.filter(stage__in=stages)
    if min_balance is not None:
        qs = qs.filter(total_owed__gte=min_balance)
    if max_balance is not None:
        qs = qs.filter(total_owed__lte=max_balance)
    return list(qs.order_by("id").values_list("pk", flat=True)[:MANUAL_LIMIT])

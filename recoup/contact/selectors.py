"""Reading contact work for the screens: decisions, promises, saved views, team figures."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import TYPE_CHECKING

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from recoup.accounts.models import User
from recoup.accounts.roles import WORK
from recoup.cases.models import Case, ContactPoint
from recoup.cases.permissions import user_can
from recoup.contact.models import (
    ClientResultCode,
    ContactAttempt,
    ContactDecision,
    InfoRepair,
    Promise,
    SavedQueueView,
)
from recoup.core.exceptions import NotFound

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo


def _org(user: User) -> int:
    assert user.organisation_id is not None
    return user.organisation_id


def decision_get_for_user(user: User, uid: str | uuid.UUID, action: str = WORK) -> ContactDecision:
    """A decision the user asked for, or one on a case the user may ``action``; otherwise
    not found (the workbench asks WORK, the dialer API VIEW)."""
    decision = (
        ContactDecision.objects.filter(organisation_id=_org(user), uid=uid)
        .select_related("case", "contact_point")
        .first()
    )
    if decision is None or (
        decision.actor_id != user.pk and not user_can(user, action, decision.case)
    ):
        raise NotFound(_("合规放行记录“%(id)s”不存在。") % {"id": uid})
    return decision


def contact_point_for_case(case: Case, point_id: int) -> ContactPoint:
    point = ContactPoint.objects.filter(
        organisation_id=case.organisation_id, debtor_id=case.debtor_id, pk=point_id
    ).first()
    if point is None:
        raise NotFound("contact point")
    return point


def promises_for_case(case: Case) -> QuerySet[Promise]:
    return Promise.objects.filter(case_id=case.pk).select_related("created_by")


def attempts_for_case(case: Case, limit: int = 50) -> list[ContactAttempt]:
    return list(
        ContactAttempt.objects.filter(case_id=case.pk)
        .select_related("actor", "contact_point", "recording")
        .prefetch_related("promises")
        .order_by("-started_at", "-id")[:limit]
    )


def repairs_for_case(case: Case, limit: int = 20) -> list[InfoRepair]:
    return list(InfoRepair.objects.filter(case_id=case.pk).select_related("actor")[:limit])


def saved_views_for(user: User) -> QuerySet[SavedQueueView]:
    return SavedQueueView.objects.filter(user_id=user.pk)


def saved_view_get(user: User, view_id: int) -> SavedQueueView:
    view = SavedQueueView.objects.filter(user_id=user.pk, pk=view_id).first()
    if view is None:
        raise NotFound("view")
    return view


def team_members(user: User) -> list[User]:
    """The collectors whose daily figures this person oversees (their team; a supervisor's
    branch), themself included when they collect."""
    people = User.objects.filter(organisation_id=_org(user), status="active").filter(
        role_assignments__role__code__in=["collector", "field_collector"]
    )
    if user.has_role("supervisor", "branch_manager") and user.unit_id:
        people = people.filter(unit_id=user.unit_id)
    elif user.has_role("hq"):
        pass
    elif user.team_id:
        people = people.filter(team_id=user.team_id)
    else:
        people = people.filter(pk=user.pk)
    return list(
        people.distinct()
        .select_related("collector_profile", "team")
        .order_by("team_id", "username")
    )


def unrecorded_grants(actors: list[User], before: datetime) -> QuerySet[ContactDecision]:
    """Allowed calls and visits never followed by a record by the end of their day (SPEC §3.5:
    every call's result is logged the same working day)."""
    return (
        ContactDecision.objects.filter(
            actor_id__in=[a.pk for a in actors],
            allowed=True,
            consumed_at__isnull=True,
            at__lt=before,
            channel__in=["call", "robot", "visit"],
        )
        .select_related("case", "actor")
        .order_by("-at")
    )


def day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def client_result_codes(organisation_id: int, client_id: int) -> dict[str, ClientResultCode]:
    """A client's own codes for Recoup's results, by result."""
    return {
        c.result: c
        for c in ClientResultCode.objects.filter(
            organisation_id=organisation_id, client_id=client_id
        )
    }


def client_code_for(attempt: ContactAttempt) -> str:
    """The client's own code for an attempt's result ("" when the client has none)."""
    return (
        ClientResultCode.objects.filter(
            organisation_id=attempt.organisation_id,
            client_id=attempt.case.client_id,
            result=attempt.result,
        )
        .values_list("code", flat=True)
        .first()
        or ""
    )

"""CasePolicy: who may do what with which case (SPEC §1, STYLE §4.5).

``cases_user_can(user, action)`` is the queryset form every selector starts from;
``user_can(user, action, case)`` answers for one case without a query. Both read the
role table in ``recoup.accounts.roles``. Nobody ever reaches another organisation's case.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet

from recoup.accounts.models import OrgUnit
from recoup.accounts.roles import VIEW, scopes_for
from recoup.cases.models import Case

if TYPE_CHECKING:
    from recoup.accounts.models import User


def _client_id(user: User) -> int | None:
    # ClientUser lives in the clients app: reach it through the reverse one-to-one.
    cached: int | bool | None = getattr(user, "_client_id_cache", False)
    if cached is False:
        link = getattr(user, "client_link", None)
        cached = link.client_id if link is not None else None
        user._client_id_cache = cached  # type: ignore[attr-defined]  # per-request memo
    return cached if isinstance(cached, int) else None


def _at_hq(user: User) -> bool:
    unit = user.unit
    return unit is not None and unit.kind == OrgUnit.Kind.HQ


def _scope_q(user: User, scope: str) -> Q | None:
    """The filter for one scope, or None when the scope reaches nothing for this person."""
    if scope == "org" or (scope == "branch" and _at_hq(user)):
        return Q()
    if scope == "branch":
        return Q(branch_id=user.unit_id) if user.unit_id else None
    if scope == "team":
        return Q(team_id=user.team_id) if user.team_id else None
    if scope == "own":
        return Q(assignee_id=user.pk)
    if scope == "client":
        client_id = _client_id(user)
        return Q(client_id=client_id) if client_id else None
    return None


def _active(user: User) -> bool:
    return bool(
        user.is_authenticated
        and user.is_active
        and user.status == "active"
        and user.organisation_id is not None
    )


def cases_user_can(user: User, action: str = VIEW) -> QuerySet[Case]:
    """Every case of the user's organisation on which ``action`` is allowed."""
    if not _active(user):
        return Case.objects.none()
    assert user.organisation_id is not None
    condition: Q | None = None
    for scope in scopes_for(user.role_codes, action):
        q = _scope_q(user, scope)
        if q is None:
            continue
        if not q:  # Q() = the whole organisation
            return Case.objects.for_org(user.organisation_id)
        condition = q if condition is None else condition | q
    if condition is None:
        return Case.objects.none()
    return Case.objects.for_org(user.organisation_id).filter(condition)


def _in_scope(user: User, scope: str, case: Case) -> bool:
    if scope == "org" or (scope == "branch" and _at_hq(user)):
        return True
    if scope == "branch":
        return user.unit_id is not None and case.branch_id == user.unit_id
    if scope == "team":
        return user.team_id is not None and case.team_id == user.team_id
    if scope == "own":
        return case.assignee_id == user.pk
    if scope == "client":
        client_id = _client_id(user)
        return client_id is not None and case.client_id == client_id
    return False


def user_can(user: User, action: str, case: Case) -> bool:
    if not _active(user) or case.organisation_id != user.organisation_id:
        return False
    return any(_in_scope(user, scope, case) for scope in scopes_for(user.role_codes, action))

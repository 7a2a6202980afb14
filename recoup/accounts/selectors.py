"""Reads of people for administration screens."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from recoup.accounts.models import OrgUnit, Role, Team, User
from recoup.core.exceptions import NotFound, PermissionDenied

PEOPLE_VIEWERS = (
    Role.Code.SYSTEM_ADMIN,
    Role.Code.HQ,
    Role.Code.BRANCH_MANAGER,
    Role.Code.SUPERVISOR,
)


def people_list_for_user(user: User) -> QuerySet[User]:
    """People of the user's organisation (administrators and managers only; no case content)."""
    if not user.has_role(*PEOPLE_VIEWERS) or user.organisation_id is None:
        raise PermissionDenied(_("你没有权限查看人员列表。"))
    people = User.objects.filter(organisation_id=user.organisation_id)
    at_hq = user.unit is not None and user.unit.kind == OrgUnit.Kind.HQ
    if not (user.has_role(Role.Code.SYSTEM_ADMIN, Role.Code.HQ) or at_hq):
        # Branch managers and supervisors see their own branch's people only.
        people = people.filter(unit_id=user.unit_id) if user.unit_id else people.none()
    return (
        people.select_related("unit", "team")
        .prefetch_related("roles")
        .order_by("unit__name", "team__name", "username")
    )


def person_get_for_admin(user: User, person_id: int) -> User:
    """A person of the admin's own organisation, or NotFound (same answer as nonexistent)."""
    if not user.has_role(Role.Code.SYSTEM_ADMIN) or user.organisation_id is None:
        raise PermissionDenied(_("只有系统管理员可以管理人员和角色。"))
    person = (
        User.objects.filter(organisation_id=user.organisation_id, pk=person_id)
        .select_related("unit", "team", "organisation")
        .first()
    )
    if person is None:
        raise NotFound(_("人员不存在。"))
    return person


def org_structure(user: User) -> tuple[QuerySet[OrgUnit], QuerySet[Team]]:
    """Units and teams of the user's organisation, for forms."""
    org = user.organisation_id or 0
    return (
        OrgUnit.objects.filter(organisation_id=org).order_by("kind", "name"),
        Team.objects.filter(organisation_id=org)
        .select_related("branch")
        .order_by("branch__name", "name"),
    )

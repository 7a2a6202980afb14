"""Reads of people for administration screens."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from recoup.accounts.models import Role, User
from recoup.core.exceptions import PermissionDenied

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
    return (
        User.objects.filter(organisation_id=user.organisation_id)
        .select_related("unit", "team")
        .prefetch_related("roles")
        .order_by("unit__name", "team__name", "username")
    )

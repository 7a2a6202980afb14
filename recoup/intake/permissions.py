"""Who may import files for which contracts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from recoup.accounts.models import Role

if TYPE_CHECKING:
    from recoup.accounts.models import User
    from recoup.clients.models import Contract

# The admin assistant is the bank liaison who imports batches (SPEC §1); supervisors,
# branch managers and HQ may too. A bank's system pushes files for its own contracts.
STAFF_IMPORTERS = (
    Role.Code.ADMIN_ASSISTANT,
    Role.Code.SUPERVISOR,
    Role.Code.BRANCH_MANAGER,
    Role.Code.HQ,
)
# Risk officers keep the stop list.
STOP_LIST_KEEPERS = (Role.Code.RISK_OFFICER, Role.Code.HQ)


def client_id_of(user: User) -> int | None:
    link = getattr(user, "client_link", None)
    return link.client_id if link is not None else None


def can_import(user: User, contract: Contract) -> bool:
    if not user.is_active or user.organisation_id != contract.organisation_id:
        return False
    if user.has_role(*STAFF_IMPORTERS):
        return True
    return user.has_role(Role.Code.CLIENT_USER) and client_id_of(user) == contract.client_id


def can_see_jobs(user: User) -> bool:
    return user.has_role(*STAFF_IMPORTERS, Role.Code.CLIENT_USER)

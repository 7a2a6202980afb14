"""Who may read, write and approve message templates and a client's messaging settings.

Templates are the agency's record of texts the client approved, so the people who deal with
the client write them (supervisors, branch managers, HQ, the admin assistant who liaises
with the bank), and a manager approves them (another person than the author: four eyes).
Sending is not decided here: it is case work (``WORK`` on the case) behind the gate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from recoup.accounts.models import Role

if TYPE_CHECKING:
    from recoup.accounts.models import User

C = Role.Code
APPROVERS = frozenset({C.SUPERVISOR, C.BRANCH_MANAGER, C.HQ})
EDITORS = APPROVERS | {C.ADMIN_ASSISTANT}
READERS = EDITORS | {C.COMPLIANCE_OFFICER, C.RISK_OFFICER, C.QUALITY_INSPECTOR}


def _active(user: User) -> bool:
    return bool(
        user.is_authenticated
        and user.is_active
        and user.status == "active"
        and user.organisation_id is not None
    )


def can_read_templates(user: User) -> bool:
    return _active(user) and bool(user.role_codes & READERS)


def can_edit_templates(user: User) -> bool:
    return _active(user) and bool(user.role_codes & EDITORS)


def can_approve_templates(user: User) -> bool:
    return _active(user) and bool(user.role_codes & APPROVERS)


def can_edit_settings(user: User) -> bool:
    # The official repayment channel decides where debtors send money (CN-10): managers only.
    return can_approve_templates(user)

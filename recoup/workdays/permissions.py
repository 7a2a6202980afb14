"""Who may see and who may change the working-day calendar.

Everybody at an agency works to SLAs counted in working days, so every staff member may
look at the calendar. Changing it moves every deadline in the installation, so only system
administrators and headquarters may edit a day or import a year. Client (bank) users are
not agency staff and do not see the screen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from recoup.accounts.models import Role

if TYPE_CHECKING:
    from recoup.accounts.models import User

CALENDAR_EDITORS = (Role.Code.SYSTEM_ADMIN, Role.Code.HQ)


def can_view_calendar(user: User) -> bool:
    return user.is_active and bool(user.role_codes - {Role.Code.CLIENT_USER})


def can_edit_calendar(user: User) -> bool:
    return user.is_active and user.has_role(*CALENDAR_EDITORS)

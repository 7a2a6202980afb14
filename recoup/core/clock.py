"""The one place Recoup asks for the time (tests move it with time_machine)."""

from __future__ import annotations

from datetime import date, datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()


def today() -> date:
    """Today's date where the installation is (settings.TIME_ZONE), not in UTC: from
    midnight to 08:00 in China the UTC date is still yesterday's."""
    return timezone.localtime(now(), timezone.get_default_timezone()).date()

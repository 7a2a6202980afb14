"""Daily contact housekeeping, run once a day after midnight (cron or a scheduler):

- open promises whose date has passed unpaid become broken; two broken promises put the case
  in intensive follow-up (SPEC §3 step 7);
- recordings past their retention are purged, each with an audited purge record (never one
  inside its retention: COMPLIANCE.md CN-5, US-12);
- contact points are checked to name a debtor that exists, and cases to name an assignee,
  team and previous assignee that exist (these foreign keys have no database check, for
  import and allocation speed: ADR 0008): any finding is printed and the command exits
  non-zero, for the operator to look at.

The queue itself shows promises due today, follow-ups that have come, lost-contact cases
whose information repair is late and calls not recorded the same day, from the data, so
nothing else needs a batch job.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recoup.contact.recordings import recording_purge_expired
from recoup.contact.services import promises_mark_broken
from recoup.core.clock import today as local_today
from recoup.core.db import dangling_keys

# The case's keys without a database check (the allocation commit's: ADR 0008).
CASE_KEYS = (
    ("assignee_id", "accounts_user", "collector"),
    ("previous_assignee_id", "accounts_user", "previous collector"),
    ("team_id", "accounts_team", "team"),
)


class Command(BaseCommand):
    help = "Mark unpaid promises past their date as broken; purge expired recordings (daily)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--today", type=date.fromisoformat, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        today = options["today"] or local_today()
        broken = promises_mark_broken(today=today)
        purged = recording_purge_expired(today=today)
        self.stdout.write(
            f"{today}: {broken} promise(s) marked broken, {purged} recording(s) purged"
        )
        problems: list[str] = []
        orphans = dangling_keys("cases_contactpoint", "debtor_id", "cases_debtor", limit=20)
        for point_id in orphans:
            self.stderr.write(f"contact point {point_id} names a debtor that does not exist")
        if orphans:
            problems.append(f"{len(orphans)} contact point(s) name no existing debtor")
        for column, target, what in CASE_KEYS:
            cases = dangling_keys("cases_case", column, target, limit=20)
            for case_id in cases:
                self.stderr.write(f"case {case_id} names a {what} that does not exist")
            if cases:
                problems.append(f"{len(cases)} case(s) name no existing {what}")
        if problems:
            raise CommandError("; ".join(problems))

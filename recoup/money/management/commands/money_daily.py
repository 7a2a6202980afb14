"""Daily money housekeeping, run once a day after midnight (cron or a scheduler), after the
day's repayment files have posted:

- an instalment of a running repayment plan still short ``plan_grace_days`` after its date
  breaks the plan; the case returns to active collection with the reason (SPEC §3 step 9);
- the case ledgers are checked against the stored balances (``cases.ledger.mismatches``),
  and ledger entries, payments and statement lines are checked to name a case or payment
  that exists (their foreign keys have no database check, for bulk speed): any finding is
  printed and the command exits non-zero, for the operator to look at.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from recoup.cases.ledger import mismatches, orphans
from recoup.money.plans import plans_mark_missed
from recoup.money.selectors import payments_naming_no_case, statement_lines_naming_no_payment


class Command(BaseCommand):
    help = "Break plans with a missed instalment; check every case ledger (daily)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--today", type=date.fromisoformat, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        today = options["today"] or timezone.localdate()
        broken = plans_mark_missed(today=today)
        self.stdout.write(f"{today}: {broken} plan(s) broken by a missed instalment")
        problems = []
        wrong = mismatches(limit=20)
        for case_id, stored, expected in wrong:
            self.stderr.write(f"case {case_id}: balance {stored}, ledger says {expected}")
        if wrong:
            problems.append(f"{len(wrong)} case balance(s) differ from their ledger")
        checks = [
            (orphans, "ledger entry", "a case", "ledger entr(ies) name no existing case"),
            (payments_naming_no_case, "payment", "a case", "payment(s) name no existing case"),
            (
                statement_lines_naming_no_payment,
                "statement line",
                "a payment",
                "statement line(s) name no existing payment",
            ),
        ]
        for find, what, target, summary in checks:
            found = find(limit=20)
            for row_id in found:
                self.stderr.write(f"{what} {row_id} names {target} that does not exist")
            if found:
                problems.append(f"{len(found)} {summary}")
        if problems:
            raise CommandError("; ".join(problems))
        self.stdout.write("ledger check: every balance matches its ledger")

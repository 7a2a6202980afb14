"""(Re)seed years of the working-day calendar from the chinese-calendar package.

Run it after upgrading chinese-calendar to pick up a newly published year. It is idempotent
and never overwrites days an administrator imported or edited. A year the package does not
know is skipped with a message (import that year's file on the calendar screen instead).
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recoup.core.clock import now
from recoup.core.exceptions import RecoupError
from recoup.workdays.services import year_seed

FIRST_SEEDED_YEAR = 2020


class Command(BaseCommand):
    help = (
        "Seed the working-day calendar from chinese-calendar (default: 2020 to next year). "
        "Imported or edited days are kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--years", nargs="+", type=int, metavar="YEAR", help="the years to (re)seed"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        years: list[int] = options["years"] or list(range(FIRST_SEEDED_YEAR, now().year + 2))
        seeded = 0
        for year in sorted(set(years)):
            try:
                result = year_seed(year=year, actor=None)
            except RecoupError as exc:
                if exc.code != "year_not_in_package":
                    raise CommandError(f"{year}: {exc.message}") from exc
                self.stdout.write(
                    self.style.WARNING(
                        f"{year}: skipped, chinese-calendar has no data for this year "
                        "(import the year's file on /workdays/)."
                    )
                )
                continue
            seeded += 1
            self.stdout.write(
                f"{year}: {result.created} days added, {result.updated} updated, "
                f"{result.kept} imported/edited days kept."
            )
        if options["years"] and not seeded:
            raise CommandError("no year could be seeded")

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from recoup.cases.services import personal_data_reseal
from recoup.core import crypto


class Command(BaseCommand):
    help = (
        "Re-encrypt personal data still sealed under an old key (after RECOUP_DATA_KEY_ID changed)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args: Any, **options: Any) -> None:
        report = personal_data_reseal(batch_size=options["batch_size"])
        others = "".join(f", {n} {label}" for label, n in sorted(report.others.items()))
        self.stdout.write(
            f"Re-sealed under key {crypto.keyring().active_id!r}: {report.debtors} debtors, "
            f"{report.contacts} contact points, {report.cases} cases{others}."
        )

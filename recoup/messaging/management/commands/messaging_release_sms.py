"""Send the SMS queued outside the contact window once it opens (CN-1); run every minute."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from recoup.messaging.sms import sms_release_due


class Command(BaseCommand):
    help = "Send queued SMS whose release time has come, asking the compliance gate again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=500, help="at most this many per run")

    def handle(self, *args: Any, **options: Any) -> None:
        report = sms_release_due(limit=options["limit"])
        self.stdout.write(
            f"sent={report.sent} failed={report.failed} refused={report.refused} "
            f"requeued={report.requeued}"
        )

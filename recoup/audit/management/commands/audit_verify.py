from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recoup.audit.verify import audit_verify


class Command(BaseCommand):
    help = "Verify the tamper-evident audit hash chains; exits non-zero on any break."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--chain", type=int, help="only this chain (organisation id; 0 = none)")

    def handle(self, *args: Any, **options: Any) -> None:
        reports = audit_verify(chain_key=options.get("chain"))
        broken = 0
        for report in reports:
            status = "ok" if report.ok else "BROKEN"
            self.stdout.write(f"chain {report.chain_key}: {report.events} events, {status}")
            for problem in report.problems:
                self.stdout.write(f"  - {problem}")
            broken += 0 if report.ok else 1
        if broken:
            raise CommandError(f"{broken} audit chain(s) failed verification")
        self.stdout.write(self.style.SUCCESS(f"{len(reports)} chain(s) verified"))

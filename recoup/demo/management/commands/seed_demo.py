from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from recoup.demo.sample_files import write_sample_bank_file
from recoup.demo.services import DEMO_PASSWORD, demo_seed


class Command(BaseCommand):
    help = "Create the synthetic demo agency (idempotent) and print its logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cases", type=int, default=5000)
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args: Any, **options: Any) -> None:
        result = demo_seed(cases=options["cases"], seed=options["seed"])
        verb = "created" if result.created else "already present"
        self.stdout.write(f"Demo agency {verb}: {result.cases} synthetic cases.")
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for login in result.logins:
            self.stdout.write(
                f"  {login.username:<14} {'、'.join(login.roles):<22} {login.name}  [{login.where}]"
            )
        sample = settings.BASE_DIR / "var" / "demo" / "甲银行-样例委案文件.csv"
        if not sample.exists():
            write_sample_bank_file(sample)
        self.stdout.write(
            f"A synthetic bank file to try the import (案件导入, as bj_assistant): {sample}"
        )

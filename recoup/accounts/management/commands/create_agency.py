import getpass
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recoup.accounts.services import organisation_create
from recoup.core.exceptions import RecoupError


class Command(BaseCommand):
    help = (
        "Set up a new agency with its headquarters and first system administrator. "
        "The password is asked for (or read from standard input when it is not a terminal)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="agency name, e.g. 某某催收服务有限公司")
        parser.add_argument("--code", required=True, help="short unique code, e.g. acme")
        parser.add_argument("--hq-name", default="总公司")
        parser.add_argument("--admin", required=True, help="username of the first system admin")

    def handle(self, *args: Any, **options: Any) -> None:
        if sys.stdin.isatty():
            password = getpass.getpass("Password for the system admin: ")
        else:
            password = sys.stdin.readline().rstrip("\n")
        try:
            org, admin = organisation_create(
                name=options["name"],
                code=options["code"],
                hq_name=options["hq_name"],
                admin_username=options["admin"],
                admin_password=password,
            )
        except RecoupError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Created {org.name} ({org.code}); system admin: {admin.username}")

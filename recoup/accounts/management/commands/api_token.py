from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recoup.accounts.models import ApiToken, User
from recoup.accounts.services import api_token_create, api_token_revoke
from recoup.core.clock import now
from recoup.core.exceptions import RecoupError


class Command(BaseCommand):
    help = "Issue, list or revoke API tokens for system clients (dialer, bank)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="issue a token; it is printed once")
        create.add_argument("--user", required=True, help="username of the service account")
        create.add_argument("--role", required=True, help="role code the token acts with")
        create.add_argument("--name", required=True, help="what the token is for, e.g. dialer-1")
        create.add_argument("--expires-days", type=int, default=365)
        listing = sub.add_parser("list", help="list an organisation's tokens (never the secret)")
        listing.add_argument("--org", required=True, help="organisation code")
        revoke = sub.add_parser("revoke", help="revoke a token by its prefix")
        revoke.add_argument("prefix")
        revoke.add_argument("--by", required=True, help="username of the person revoking it")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "create":
            user = User.objects.filter(username=options["user"]).first()
            if user is None or user.organisation is None:
                raise CommandError(f"no user {options['user']!r} in an organisation")
            expires = now() + timedelta(days=options["expires_days"])
            try:
                token, raw = api_token_create(
                    organisation=user.organisation,
                    user=user,
                    role=options["role"],
                    name=options["name"],
                    expires_at=expires,
                    actor=None,
                )
            except RecoupError as exc:
                raise CommandError(exc.message) from exc
            self.stdout.write(f"Token {token.name} ({token.role}, expires {expires:%Y-%m-%d}):")
            self.stdout.write(raw)
            self.stdout.write("Store it now: only its hash is kept.")
        elif action == "list":
            tokens = ApiToken.objects.filter(organisation__code=options["org"])
            for t in tokens.select_related("user").order_by("name"):
                state = (
                    "revoked"
                    if t.revoked_at
                    else ("expired" if t.expires_at and t.expires_at <= now() else "active")
                )
                self.stdout.write(
                    f"{t.prefix}…  {t.name:<20} {t.user.username:<16} {t.role:<16} {state}"
                )
        else:
            found = ApiToken.objects.filter(prefix=options["prefix"]).first()
            actor = User.objects.filter(username=options["by"]).first()
            if found is None or actor is None:
                raise CommandError("unknown token prefix or user")
            try:
                api_token_revoke(token=found, actor=actor)
            except RecoupError as exc:
                raise CommandError(exc.message) from exc
            self.stdout.write(f"Revoked {found.prefix}…")

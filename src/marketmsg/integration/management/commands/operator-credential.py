from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from marketmsg.integration.models import SCOPES, OperatorCredential


class Command(BaseCommand):
    help = "Issue, list or revoke operator credentials for /api/operator/v1/."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="issue a credential; its secret is printed once")
        create.add_argument("--name", required=True, help="which marketplace system uses it")
        create.add_argument(
            "--scope",
            action="append",
            choices=sorted(SCOPES),
            help="repeat for several; default: catalog, messages, webhooks and read",
        )
        actions.add_parser("list", help="every credential, revoked ones too")
        revoke = actions.add_parser("revoke", help="stop a credential from working, at once")
        revoke.add_argument("id", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "create":
            scopes = options["scope"] or list(SCOPES)
            credential, secret = OperatorCredential.issue(options["name"], scopes)
            self.stdout.write(
                f"operator credential {credential.pk} ({credential.name}), scopes: {credential.scopes}\n"
                f"{secret}\n"
                "Keep it secret: it is shown only now. / この値は今だけ表示されます。安全に保管してください。"
            )
        elif action == "list":
            for c in OperatorCredential.objects.order_by("id"):
                state = f"revoked {c.revoked_at:%Y-%m-%d}" if c.revoked_at else "active"
                used = f"{c.last_used_at:%Y-%m-%d %H:%M}" if c.last_used_at else "never"
                self.stdout.write(
                    f"{c.pk:>4}  {c.shown_prefix}…  {c.name:<30} {c.scopes:<36} {state}, used {used}"
                )
        else:
            updated = OperatorCredential.objects.filter(pk=options["id"], revoked_at__isnull=True).update(
                revoked_at=timezone.now()
            )
            if not updated:
                raise CommandError(
                    f"No active operator credential {options['id']} (marketmsg operator-credential list)."
                )
            self.stdout.write(f"operator credential {options['id']} revoked")

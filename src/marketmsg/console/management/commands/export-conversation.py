"""`marketmsg export-conversation ORDER_ID [--out FILE]`: the tamper-evident archive of every
conversation about an order (messages, raw MIME, attachments, record hashes, signed manifest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketmsg.accounts.models import User
from marketmsg.console import audit
from marketmsg.console.export import export
from marketmsg.orders.models import Claim


class Command(BaseCommand):
    help = "Export every conversation about an order into a zip archive that verify-export can check."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("order_id")
        parser.add_argument("--out", help="archive to write (default: conversation-ORDER_ID.zip)")
        parser.add_argument("--by", help="e-mail of the staff member exporting (recorded in the audit log)")
        parser.add_argument("--claim", type=int, help="the claim the export is for")

    def handle(self, *args: Any, **options: Any) -> None:
        order_id = options["order_id"]
        out = Path(options["out"] or f"conversation-{order_id}.zip")
        staff = None
        if options["by"]:
            staff = User.objects.filter(email=options["by"].lower(), role=User.Role.STAFF).first()
            if staff is None:
                raise CommandError(
                    f"No staff member {options['by']}. / スタッフ {options['by']} はいません。"
                )
        try:
            counts = export(order_id, out)
        except LookupError:
            raise CommandError(
                f"No conversation about order {order_id}. Check the order ID. / "
                f"注文 {order_id} についての会話はありません。注文番号を確認してください。"
            ) from None
        if staff is not None:
            claim = Claim.objects.filter(pk=options["claim"]).first() if options["claim"] else None
            audit.record(staff, audit.Action.EXPORT, claim=claim, detail=f"{order_id} → {out.name}")
        self.stdout.write(
            f"Exported {counts['conversations']} conversation(s), {counts['messages']} message(s) and "
            f"{counts['files']} file(s) about order {order_id} to {out}. "
            f"Check it with: marketmsg verify-export {out}"
        )

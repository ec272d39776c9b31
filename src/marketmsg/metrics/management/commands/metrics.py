"""`marketmsg metrics --seller ID --days 30 [--json]`: a seller's response-time figures (SPEC F6).

`marketmsg metrics --rebuild [--seller ID]` recounts the response-time tally from the stored
messages: after writing messages in bulk past the pipeline, or to check the kept tally.
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from marketmsg.accounts.models import SellerAccount
from marketmsg.metrics import response_times, tally


class Command(BaseCommand):
    help = "Print a seller's response-time figures: share answered within 24 hours, late, averages."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seller", type=int, help="seller account ID")
        parser.add_argument("--days", type=int, default=30, choices=response_times.PERIODS)
        parser.add_argument("--json", action="store_true", help="print JSON for tools")
        parser.add_argument(
            "--rebuild",
            action="store_true",
            help="recount the response-time tally from the stored messages (all sellers, or --seller)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["rebuild"]:
            self._rebuild(options["seller"])
            return
        if options["seller"] is None:
            raise CommandError(
                "Say which seller: --seller ID (or --rebuild to recount the tally). "
                "/ 出品者を --seller ID で指定してください（集計のやり直しは --rebuild）。"
            )
        seller = SellerAccount.objects.filter(pk=options["seller"]).first()
        if seller is None:
            raise CommandError(
                f"No seller account {options['seller']}. "
                f"/ 出品者アカウント {options['seller']} はありません。"
            )
        figures = response_times.figures(seller.pk, options["days"])
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {"seller": seller.pk, "name": seller.name, **figures.as_dict()}, ensure_ascii=False
                )
            )
            return
        share = "—" if figures.share_on_time is None else f"{figures.share_on_time:.1%}"
        average = "—" if figures.average_seconds is None else f"{figures.average_seconds / 3600:.1f} h"
        median = "—" if figures.median_seconds is None else f"{figures.median_seconds / 3600:.1f} h"
        self.stdout.write(
            f"{seller.name} — last {figures.days} days\n"
            f"  answered within 24 h: {share} ({figures.on_time} of {figures.due})\n"
            f"  late: {figures.late} "
            f"({figures.answered_late} answered late, {figures.overdue} still waiting)\n"
            f"  average response: {average}, median {median}\n"
            f"  still unanswered: {figures.unanswered}\n"
        )

    def _rebuild(self, seller_id: int | None) -> None:
        started = time.monotonic()
        who = "every seller" if seller_id is None else f"seller {seller_id}"
        self.stderr.write(f"Recounting the response-time tally of {who} from the stored messages…")
        with transaction.atomic():
            slots = tally.rebuild(seller_id)
        seconds = time.monotonic() - started
        self.stdout.write(f"Response-time tally rebuilt: {slots:,} slot rows for {who} in {seconds:.1f} s.")

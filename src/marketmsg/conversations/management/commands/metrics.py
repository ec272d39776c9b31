"""`marketmsg metrics --seller ID --days 30 [--json]`: a seller's response-time figures (SPEC F6)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketmsg.accounts.models import SellerAccount
from marketmsg.conversations import metrics


class Command(BaseCommand):
    help = "Print a seller's response-time figures: share answered within 24 hours, late, averages."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seller", type=int, required=True, help="seller account ID")
        parser.add_argument("--days", type=int, default=30, choices=metrics.PERIODS)
        parser.add_argument("--json", action="store_true", help="print JSON for tools")

    def handle(self, *args: Any, **options: Any) -> None:
        seller = SellerAccount.objects.filter(pk=options["seller"]).first()
        if seller is None:
            raise CommandError(
                f"No seller account {options['seller']}. "
                f"/ 出品者アカウント {options['seller']} はありません。"
            )
        figures = metrics.figures(seller.pk, options["days"])
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

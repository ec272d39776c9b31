"""`marketmsg purge`: the daily retention run (see retention.purge); run it from cron or a timer."""

from __future__ import annotations

import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from marketmsg.retention import purge


def _period(seconds: int | None) -> str:
    return "forever / 無期限" if seconds is None else f"{seconds / 86400:,.0f} days / 日"


class Command(BaseCommand):
    help = "Remove raw MIME, files and message texts kept longer than the retention settings."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--quiet", action="store_true", help="only the summary")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(
            f"Keeping raw MIME {_period(settings.KEEP_RAW_MIME)}, "
            f"files {_period(settings.KEEP_ATTACHMENTS)}, "
            f"message texts {_period(settings.KEEP_MESSAGE_TEXT)}; open claims keep everything."
        )

        def progress(kind: str, done: int) -> None:
            if not options["quiet"]:
                sys.stderr.write(f"\r{kind}: {done:,} removed / 削除済み")
                sys.stderr.flush()

        run = purge.purge(progress=progress)
        if not options["quiet"]:
            sys.stderr.write("\n")
        self.stdout.write(
            f"Removed / 削除: raw MIME {run.raw_mime:,}, files {run.attachments:,}, "
            f"message texts {run.message_texts:,}; kept for open claims / 申し立て中のため保持 "
            f"{run.kept_for_claims:,}; blobs deleted / ストアから削除 {run.blobs_deleted:,} "
            f"(+{run.orphans_deleted:,} orphan(s) / 孤立). Recorded as purge run {run.pk}."
        )

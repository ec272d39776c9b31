"""`marketmsg verify-export FILE`: recompute every hash of an export archive and name each change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketmsg.console.export import verify


class Command(BaseCommand):
    help = "Check an archive written by export-conversation: any changed byte is found and named."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")

    def handle(self, *args: Any, **options: Any) -> None:
        report = verify(Path(options["file"]))
        for note in report.notes:
            self.stdout.write(f"redacted: {note}" if " was redacted " in note else f"note: {note}")
        if not report.ok:
            for problem in report.problems:
                self.stderr.write(f"CHANGED: {problem}")
            raise CommandError(
                f"The archive does not match what was exported: {len(report.problems)} problem(s) above. "
                "/ アーカイブはエクスポート時の内容と一致しません。"
            )
        redacted = (
            f" {report.redacted} of them redacted (text erased or purged; their digests hold their place)."
            f" / うち {report.redacted} 件は削除済み（本文は消去、ダイジェストで記録は検証済み）。"
            if report.redacted
            else ""
        )
        self.stdout.write(
            f"OK: {report.messages} message(s) and {report.files} file(s); every hash matches. "
            "/ すべてのハッシュが一致しました。" + redacted
        )

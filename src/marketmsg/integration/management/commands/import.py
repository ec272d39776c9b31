from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketmsg.integration import importer
from marketmsg.integration.records import KINDS

SHOWN_REFUSALS = 50  # on the screen; --refused FILE gets them all


class Command(BaseCommand):
    help = (
        "Import sellers, buyers, products and orders from a JSON Lines file (one record a line, with "
        '"type") or orders from a CSV file. Resumable: run it again after an interruption.'
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--again", action="store_true", help="import a file that was imported whole before"
        )
        parser.add_argument("--refused", type=Path, help="write every refused record's line and reasons here")
        parser.add_argument("--batch", type=int, default=importer.BATCH, help="records a transaction")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"No file {path}. / ファイル {path} がありません。")
        size = max(path.stat().st_size, 1)
        started = time.monotonic()
        refused_out = options["refused"].open("w", encoding="utf-8") if options["refused"] else None
        shown = 0

        def on_refusal(refusal: importer.Refusal) -> None:
            nonlocal shown
            if refused_out is not None:
                refused_out.write(f"{refusal}\n")
            if shown < SHOWN_REFUSALS:
                self._clear_bar(options)
                self.stderr.write(f"refused / 拒否: {refusal}")
                shown += 1

        last_line = [0.0]

        def progress(done: int, summary: importer.Summary) -> None:
            """A bar on a terminal; elsewhere (a log, CI) a line every few seconds."""
            now = time.monotonic()
            if options["quiet"] or (not sys.stderr.isatty() and now - last_line[0] < 5):
                return
            last_line[0] = now
            seconds = max(now - started, 1e-6)
            rate = summary.records() / seconds
            left = (size - done) / (done / seconds) if done else 0
            filled = int(30 * done / size)
            text = (
                f"[{'█' * filled}{'·' * (30 - filled)}] {100 * done / size:5.1f}%  "
                f"{summary.records():,} records  {rate:,.0f}/s  ETA {left:,.0f} s "
            )
            sys.stderr.write(f"\r{text}" if sys.stderr.isatty() else f"{text}\n")
            sys.stderr.flush()

        try:
            summary = importer.run(
                path, on_refusal, progress, again=options["again"], batch_size=max(1, options["batch"])
            )
        finally:
            if refused_out is not None:
                refused_out.close()
        self._clear_bar(options)
        seconds = time.monotonic() - started
        if summary.already_done:
            self.stdout.write(
                f"{path} was imported whole before ({summary.lines:,} lines); nothing to do. "
                "Use --again to import it again.\n"
                f"{path} は取り込み済みです。もう一度取り込むには --again を付けてください。"
            )
            return
        self.stdout.write(self._summary(path, summary, seconds, shown))

    def _clear_bar(self, options: dict[str, Any]) -> None:
        if not options["quiet"] and sys.stderr.isatty():
            sys.stderr.write("\r" + " " * 90 + "\r")

    def _summary(self, path: Path, summary: importer.Summary, seconds: float, shown: int) -> str:
        lines = [f"Imported {path} in {seconds:,.1f} s / 取り込み完了"]
        if summary.skipped_lines:
            lines.append(f"  resumed after line {summary.skipped_lines:,} (written by an earlier run)")
        lines.append(f"  {'':10} {'created':>10} {'updated':>10} {'unchanged':>10} {'refused':>10}")
        for kind in (*KINDS, "record"):
            counts = summary.of(kind)
            if any(counts.values()):
                lines.append(
                    f"  {kind + 's' if kind != 'record' else 'unreadable':10} "
                    + " ".join(f"{counts[r]:>10,}" for r in ("created", "updated", "unchanged", "refused"))
                )
        total = summary.records()
        lines.append(f"  {total:,} records, {total / max(seconds, 1e-6):,.0f} a second")
        if summary.refusals:
            more = summary.refusals - shown
            lines.append(
                f"  {summary.refusals:,} refused: fix those lines and import the file again (the rest is "
                f"unchanged then){f'; {more:,} more than shown, see --refused FILE' if more > 0 else ''}"
            )
        return "\n".join(lines)

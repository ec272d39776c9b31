"""`marketmsg migrate-blobs`: move raw MIME from the database and files from MEDIA_ROOT into the
blob store, verifying every hash. Resumable: run it again after an interruption."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketmsg.retention import migrate
from marketmsg.retention.progress import Bar


class Command(BaseCommand):
    help = "Move raw MIME and attachment files kept by earlier versions into the blob store."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        raws, files = migrate.to_move()
        self.stdout.write(
            f"Blob store: {settings.BLOB_STORE}. To move: {raws:,} raw MIME, {files:,} file(s). "
            f"/ 移行対象: 元メール {raws:,} 件、添付ファイル {files:,} 件。"
        )
        bar = Bar("moving / 移行中", raws + files, quiet=options["quiet"])
        moved = migrate.migrate(bar.show)
        bar.done()
        self.stdout.write(
            f"Moved {moved.raw_mime:,} raw MIME and {moved.files:,} file(s), "
            f"{moved.bytes / 1e6:,.1f} MB, each read back and its SHA-256 checked. "
            f"/ 元メール {moved.raw_mime:,} 件と添付 {moved.files:,} 件を移行し、"
            "すべてのハッシュを確認しました。"
        )
        for name in moved.missing:
            self.stderr.write(f"missing / 見つかりません: {name}")
        for name in moved.mismatched:
            self.stderr.write(f"hash differs, not moved / ハッシュ不一致のため移行せず: {name}")
        if moved.missing or moved.mismatched:
            raise CommandError(
                f"{len(moved.missing)} missing and {len(moved.mismatched)} damaged item(s) were left where "
                "they are (listed above); restore them from a backup and run this again. "
                "/ 上記の項目は移行されていません。バックアップから復元して再実行してください。"
            )

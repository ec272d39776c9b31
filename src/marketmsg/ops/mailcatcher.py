"""A development mail catcher: an SMTP sink that keeps every message as a file for the web to show.

It stands in for the real mailboxes in ``make demo``: the worker's smarthost points here.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session


class CatcherHandler:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        name = f"{time.time_ns()}"
        meta = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos, "received_at": time.time()}
        for suffix, data in (
            (".json", json.dumps(meta).encode()),
            (".eml", envelope.original_content or b""),
        ):
            tmp = self.directory / f".{name}{suffix}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, self.directory / f"{name}{suffix}")
        return "250 2.0.0 Caught"


@dataclass(frozen=True)
class CaughtMail:
    key: str
    mail_from: str
    rcpt_tos: list[str]
    received_at: float
    path: Path


def caught(directory: Path, limit: int = 200) -> list[CaughtMail]:
    """The newest caught messages first."""
    if not directory.is_dir():
        return []
    found = []
    for meta_file in sorted(directory.glob("*.json"), reverse=True)[:limit]:
        key = meta_file.stem
        meta: dict[str, Any] = json.loads(meta_file.read_text())
        found.append(
            CaughtMail(
                key, meta["mail_from"], meta["rcpt_tos"], meta["received_at"], directory / f"{key}.eml"
            )
        )
    return found

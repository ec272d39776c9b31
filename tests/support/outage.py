"""An SQLite database that cannot be opened, for the outage tests."""

from __future__ import annotations

import os
from pathlib import Path

from django.db import connection


class Outage:
    """Moves the database file (and its WAL files) aside and puts a directory in its place."""

    def __init__(self) -> None:
        self.path = Path(connection.settings_dict["NAME"])

    def __enter__(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{self.path}{suffix}")
            if source.exists():
                os.rename(source, f"{source}.away")
        self.path.mkdir()

    def __exit__(self, *exc: object) -> None:
        self.path.rmdir()
        for suffix in ("", "-wal", "-shm"):
            away = Path(f"{self.path}{suffix}.away")
            if away.exists():
                os.rename(away, f"{self.path}{suffix}")

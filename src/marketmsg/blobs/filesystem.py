"""The embedded blob store: a folder on this machine (MEDIA_ROOT), for one machine only.

Django's FileSystemStorage overwrites a file in place, so a write that fails half-way (a full
disk) would leave a truncated blob, and would damage a blob with the same name that a stored
message already names. Here a blob is written to a temporary file beside it and renamed over the
name only when complete: a reader sees the old bytes or the new ones, never half of either.

Durability: a blob must be on disk before the row naming it commits. Most writers sync each blob
(the file, then its folder). The gateway writes one per mail, and two syncs per mail halved its
rate (1,130 → about 600 mails/s on this machine's SSD: the disk's syncs ran out), so the gateway
defers them (``defer_syncs``) and its group commit calls ``sync_written`` once per batch, before
the batch commits: one sync of the file system covers every blob written until then (ADR 21).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage

_state = threading.Lock()
_deferred = False
_unsynced = 0  # blobs written since the last sync_written began


def defer_syncs() -> None:
    """From now on this process's blob writes wait for ``sync_written`` (the gateway)."""
    global _deferred
    _deferred = True


def has_unsynced() -> bool:
    return _unsynced > 0


def sync_written() -> None:
    """Every blob this process wrote before the call is on disk when it returns (OSError if not)."""
    global _unsynced
    with _state:
        count = _unsynced
    if not count:
        return
    _syncfs(Path(settings.MEDIA_ROOT))
    with _state:
        _unsynced -= count  # those written during the sync wait for the next one


def _syncfs(folder: Path) -> None:
    """One sync of the file system holding ``folder`` (syncfs(2)): data and names of every file."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        if _libc_syncfs(fd) != 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error), str(folder))
    finally:
        os.close(fd)


_libc = ctypes.CDLL(None, use_errno=True)
_libc_syncfs = _libc.syncfs


class BlobFileStorage(FileSystemStorage):
    def __init__(self, **options: Any) -> None:
        options.setdefault("allow_overwrite", True)
        super().__init__(**options)

    def _save(self, name: str, content: Any) -> str:
        global _unsynced
        target = Path(self.path(name))
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(handle, "wb") as out:
                for piece in content.chunks():
                    out.write(piece)
                out.flush()
                if not _deferred:
                    os.fsync(out.fileno())  # durable before the row naming it can commit
            if self.file_permissions_mode is not None:
                os.chmod(temporary, self.file_permissions_mode)
            os.replace(temporary, target)
            if _deferred:
                with _state:
                    _unsynced += 1
            else:
                _sync_folder(target.parent)  # and the name itself, so a power cut cannot lose it
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        return name


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

"""The embedded blob store: a folder on this machine (MEDIA_ROOT), for one machine only.

Django's FileSystemStorage overwrites a file in place, so a write that fails half-way (a full
disk) would leave a truncated blob, and would damage a blob with the same name that a stored
message already names. Here a blob is written to a temporary file beside it and renamed over the
name only when complete: a reader sees the old bytes or the new ones, never half of either.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

from django.core.files.storage import FileSystemStorage


class BlobFileStorage(FileSystemStorage):
    def __init__(self, **options: Any) -> None:
        options.setdefault("allow_overwrite", True)
        super().__init__(**options)

    def _save(self, name: str, content: Any) -> str:
        target = Path(self.path(name))
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(handle, "wb") as out:
                for piece in content.chunks():
                    out.write(piece)
                out.flush()
                os.fsync(out.fileno())  # durable before the row naming it can commit
            if self.file_permissions_mode is not None:
                os.chmod(temporary, self.file_permissions_mode)
            os.replace(temporary, target)
            folder = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(folder)  # and the name itself, so a power cut cannot lose the rename
            finally:
                os.close(folder)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        return name

"""Content-addressed blobs: a blob's name is the day it was written and its SHA-256, so writing the
same bytes twice on a day makes one blob, a retry writes nothing new, and a reader can check what
it got. The day in the name bounds the orphan sweep to a few days' folders instead of the whole store.

Blobs are written *before* the database row that names them commits (ADR 7, ADR 21). A crash in
between leaves a blob no row names; the orphan sweep (conversations.stored) removes those after a
grace period. Writing always overwrites, which refreshes the blob's modification time: a blob
that is named again by a new row is therefore never old enough to be swept while that row's
transaction is open.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO

from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage, storages

ALIAS = "blobs"
# blobs/2026/12/06/<sha256>
_NAME = re.compile(r"^blobs/(\d{4})/(\d{2})/(\d{2})/([0-9a-f]{64})$")
CHUNK = 1024 * 1024


class BlobMissing(Exception):
    """A row names a blob the store does not have (removed by staff, purged, or lost)."""


def storage() -> Storage:
    return storages[ALIAS]


def name_of(sha256: str, day: date) -> str:
    return f"blobs/{day:%Y/%m/%d}/{sha256}"


def day_folder(day: date) -> str:
    return f"blobs/{day:%Y/%m/%d}"


def sha256_of_name(name: str) -> str | None:
    """The digest a content-addressed name carries; None for a name from before the store."""
    found = _NAME.match(name)
    return found.group(4) if found else None


def put(data: bytes, day: date | None = None) -> tuple[str, str]:
    """Store ``data``; returns (name, sha256). The bytes are handed to the storage as they are,
    without a second copy."""
    digest = hashlib.sha256(data).hexdigest()
    name = name_of(digest, day or datetime.now(UTC).date())
    return _saved(name, ContentFile(data)), digest


def put_file(source: IO[bytes], sha256: str, day: date) -> str:
    """Store a stream whose digest the caller already knows (migrate-blobs); returns the name."""
    return _saved(name_of(sha256, day), File(source))


def _saved(name: str, content: File) -> str:  # type: ignore[type-arg]
    saved = storage().save(name, content)
    if saved != name:  # a storage that renames instead of overwriting would break addressing
        storage().delete(saved)
        raise RuntimeError(f"the blob storage renamed {name} to {saved}: it must allow overwriting")
    return name


@contextlib.contextmanager
def opened(name: str) -> Iterator[IO[bytes]]:
    """A blob as a stream; BlobMissing when the store does not have it."""
    try:
        handle = storage().open(name, "rb")
    except FileNotFoundError as error:  # both storages say so (S3 turns its 404 into this)
        raise BlobMissing(name) from error
    try:
        yield handle
    finally:
        handle.close()


def read(name: str) -> bytes:
    """The whole blob (the worker parses a mail whole); S3 fetches it by one GET."""
    backend = storage()
    whole = getattr(backend, "read_bytes", None)
    if whole is None:
        with opened(name) as handle:
            return handle.read()
    try:
        return bytes(whole(name))
    except FileNotFoundError as error:
        raise BlobMissing(name) from error


def chunks(name: str) -> Iterator[bytes]:
    """The blob in pieces of at most 1 MiB, for streaming responses and archives."""
    with opened(name) as handle:
        while piece := handle.read(CHUNK):
            yield piece


def digest_of(name: str) -> str:
    """SHA-256 of what the store holds under ``name``, read as a stream."""
    hasher = hashlib.sha256()
    for piece in chunks(name):
        hasher.update(piece)
    return hasher.hexdigest()


def exists(name: str) -> bool:
    return bool(storage().exists(name))


def delete(name: str) -> None:
    storage().delete(name)


def listing(folder: str) -> Iterator[tuple[str, datetime]]:
    """Every blob in one day's folder with when it was last written, without a request per blob."""
    backend = storage()
    bucket = getattr(backend, "bucket", None)
    if bucket is not None:  # S3: one listing request per thousand keys
        root = str(getattr(backend, "location", "")).strip("/")
        prefix = f"{root}/{folder}/" if root else f"{folder}/"
        for found in bucket.objects.filter(Prefix=prefix):
            yield folder + "/" + found.key[len(prefix) :], found.last_modified
        return
    top = Path(backend.path(folder))
    if not top.is_dir():
        return
    for path in top.iterdir():
        name = f"{folder}/{path.name}"
        if sha256_of_name(name):
            yield name, datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)


def modified(name: str) -> datetime:
    return storage().get_modified_time(name)

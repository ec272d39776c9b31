"""Attachment rules (SPEC F7): which files may travel between buyers and sellers.

Allowed: text (.txt), PDF, Word (.doc, .docx) and images (.jpg/.jpeg, .gif, .bmp, .png), at most
10 MB in all per message. The type comes from the content (libmagic), checked further for Word
files, and the file name's extension must agree with it. Pure: bytes in, a verdict out.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from enum import Enum
from pathlib import PurePosixPath

import magic

MAX_TOTAL_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Kind:
    name: str
    extensions: tuple[str, ...]  # the first is the one a nameless file gets
    content_type: str  # what we deliver it as
    detected: tuple[str, ...]  # what libmagic may call it


KINDS = (
    Kind("text", (".txt",), "text/plain", ("text/plain",)),
    Kind("pdf", (".pdf",), "application/pdf", ("application/pdf",)),
    Kind(
        "doc",
        (".doc",),
        "application/msword",
        ("application/msword", "application/x-ole-storage", "application/CDFV2"),
    ),
    Kind(
        "docx",
        (".docx",),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/zip"),
    ),
    Kind("jpeg", (".jpg", ".jpeg"), "image/jpeg", ("image/jpeg",)),
    Kind("gif", (".gif",), "image/gif", ("image/gif",)),
    Kind("bmp", (".bmp",), "image/bmp", ("image/bmp", "image/x-ms-bmp")),
    Kind("png", (".png",), "image/png", ("image/png",)),
)
ALLOWED_EXTENSIONS = tuple(ext for kind in KINDS for ext in kind.extensions)


class Rule(Enum):
    TOO_LARGE = "too_large"
    TYPE_NOT_ALLOWED = "type_not_allowed"
    NAME_DISAGREES = "name_disagrees"
    UNREADABLE_IMAGE = "unreadable_image"


@dataclass(frozen=True)
class Refusal:
    rule: Rule
    filename: str
    detected: str  # what the content really is, for the sentence people read


@dataclass(frozen=True)
class Checked:
    filename: str
    kind: Kind
    size: int


class AttachmentRefused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(f"{refusal.rule.value}: {refusal.filename}")
        self.refusal = refusal


def detect(data: bytes) -> tuple[Kind | None, str]:
    """The allowed kind the content is, if any, and libmagic's own name for it."""
    detected = magic.from_buffer(data[:262_144], mime=True)
    if detected in (
        "application/zip",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ):
        return (_kind("docx") if _is_word_document(data) else None), detected
    if detected in ("application/msword", "application/x-ole-storage", "application/CDFV2"):
        return (_kind("doc") if _is_ole_word_file(data) else None), detected
    for kind in KINDS:
        if detected in kind.detected:
            return kind, detected
    return None, detected


def check(filename: str, data: bytes) -> Checked:
    """One file against the type rules; raises AttachmentRefused naming the file and the rule."""
    extension = PurePosixPath(filename.lower()).suffix
    if not data and extension in ALLOWED_EXTENSIONS:  # an empty file has no content to disagree with
        return Checked(filename, next(k for k in KINDS if extension in k.extensions), 0)
    kind, detected = detect(data)
    if kind is None:
        raise AttachmentRefused(Refusal(Rule.TYPE_NOT_ALLOWED, filename, detected))
    if not extension:  # a nameless or extension-less part (an inline image, say) is named by its type
        return Checked(f"{filename or 'attachment'}{kind.extensions[0]}", kind, len(data))
    if extension not in kind.extensions:
        refusal = Rule.NAME_DISAGREES if extension in ALLOWED_EXTENSIONS else Rule.TYPE_NOT_ALLOWED
        raise AttachmentRefused(Refusal(refusal, filename, detected))
    return Checked(filename, kind, len(data))


def check_total(files: list[tuple[str, int]]) -> None:
    """At most MAX_TOTAL_BYTES of attachments in one message; names the file that crosses it."""
    total = 0
    for filename, size in files:
        total += size
        if total > MAX_TOTAL_BYTES:
            raise AttachmentRefused(Refusal(Rule.TOO_LARGE, filename, f"{total} bytes"))


def _kind(name: str) -> Kind:
    return next(kind for kind in KINDS if kind.name == name)


def _is_word_document(data: bytes) -> bool:
    """An Office Open XML word-processing document, not just any zip (or another Office file)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "[Content_Types].xml" not in names or "word/document.xml" not in names:
                return False
            types = archive.read("[Content_Types].xml")
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        return False
    return b"wordprocessingml.document.main+xml" in types


# "WordDocument" as an OLE directory entry name (UTF-16LE): the stream every Word 97–2003 file has.
_WORD_STREAM = "WordDocument".encode("utf-16-le")
_OLE_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")


def _is_ole_word_file(data: bytes) -> bool:
    return data.startswith(_OLE_MAGIC) and _WORD_STREAM in data

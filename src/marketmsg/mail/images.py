"""Images leave without their metadata (SPEC F7): no EXIF, GPS position, comments or XMP.

JPEG and PNG are rewritten segment by segment, so the picture itself is not re-encoded and loses
nothing; GIF is re-saved without its comment and application blocks; BMP carries no metadata.
The original stays in the raw MIME kept for disputes.
"""

from __future__ import annotations

import io
import struct

from PIL import Image

_JPEG_SOI = b"\xff\xd8"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG chunks that can carry text, EXIF or time stamps; everything else describes the picture.
_PNG_METADATA = {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"}


class UnreadableImage(Exception):
    """The image's structure is broken, so its metadata cannot be removed: it must not travel."""


def without_metadata(data: bytes, content_type: str) -> bytes:
    """The image without metadata, judged by its content whatever type it was declared as; other
    content unchanged. Raises UnreadableImage for a broken JPEG, PNG or GIF."""
    if not data:
        return data
    try:
        if data.startswith(_JPEG_SOI):
            return _jpeg(data)
        if data.startswith(_PNG_SIGNATURE):
            return _png(data)
        if data[:6] in (b"GIF87a", b"GIF89a"):
            return _gif(data)
        if data.startswith(b"BM"):
            return data  # BMP holds pixels and, at most, a colour profile
    except (ValueError, OSError, struct.error, SyntaxError, IndexError) as error:
        raise UnreadableImage(f"{content_type}: {type(error).__name__}") from error
    return data  # not an image by its content (the attachment rules decided what it may be)


def _jpeg(data: bytes) -> bytes:
    """Drop APP1–APP15 (EXIF, XMP, Photoshop/IPTC, …) and COM segments; keep APP0 (JFIF) and the rest."""
    if not data.startswith(_JPEG_SOI):
        raise ValueError("no JPEG start marker")
    out = bytearray(_JPEG_SOI)
    at = 2
    while at < len(data):
        if data[at] != 0xFF:
            raise ValueError("not at a JPEG marker")
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            out += data[at : at + 2]
            at += 2
            continue
        if marker == 0xDA:  # start of scan: the picture data runs to the end-of-image marker
            end = data.find(b"\xff\xd9", at)  # cannot occur inside the data, where FF is stuffed
            if end < 0:
                raise ValueError("JPEG without an end-of-image marker")
            out += data[at : end + 2]  # anything a camera appended after the picture is dropped
            return bytes(out)
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        segment = data[at : at + 2 + length]
        if len(segment) < 2 + length:
            raise ValueError("truncated JPEG segment")
        if not (0xE1 <= marker <= 0xEF or marker == 0xFE):
            out += segment
        at += 2 + length
    return bytes(out)


def _png(data: bytes) -> bytes:
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("no PNG signature")
    out = bytearray(_PNG_SIGNATURE)
    at = len(_PNG_SIGNATURE)
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind = data[at + 4 : at + 8]
        chunk = data[at : at + 12 + length]
        if len(chunk) < 12 + length:
            raise ValueError("truncated PNG chunk")
        if kind not in _PNG_METADATA:
            out += chunk
        at += 12 + length
        if kind == b"IEND":
            break
    return bytes(out)


def _gif(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        image.info.pop("comment", None)
        image.info.pop("xmp", None)
        out = io.BytesIO()
        image.save(out, "GIF", save_all=True)
        return out.getvalue()

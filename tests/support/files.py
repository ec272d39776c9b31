"""Small real files of every type the attachment rules know, made in memory for tests."""

from __future__ import annotations

import io
import zipfile

from PIL import Image


def image(fmt: str, gps: bool = False, comment: bytes = b"") -> bytes:
    picture = Image.new("RGB", (32, 24), (200, 30, 30))
    out = io.BytesIO()
    options: dict[str, object] = {}
    if gps:
        exif = Image.Exif()
        exif[0x010F] = "SecretCam"  # Make
        exif[0x0131] = "camera firmware taro.yamada@example.jp"  # Software: an address hidden in EXIF
        gps_ifd = {1: "N", 2: (35.0, 39.0, 29.0), 3: "E", 4: (139.0, 44.0, 28.0)}  # Tokyo
        exif[0x8825] = gps_ifd
        options["exif"] = exif.tobytes()
    if comment and fmt == "JPEG":
        options["comment"] = comment
    picture.save(out, fmt, **options)
    return out.getvalue()


def pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        archive.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def plain_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("invoice.exe", b"MZ" + b"\x00" * 64)
    return out.getvalue()


def doc() -> bytes:
    """A minimal OLE compound file with a WordDocument stream entry, as Word 97–2003 writes."""
    return (
        bytes.fromhex("d0cf11e0a1b11ae1")
        + b"\x00" * 504
        + "WordDocument".encode("utf-16-le")
        + b"\x00" * 2000
    )


def exe() -> bytes:
    return b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200


ALLOWED = {
    "メモ.txt": "注文のメモです。\n".encode(),
    "invoice.pdf": pdf(),
    "manual.doc": doc(),
    "manual.docx": docx(),
    "photo.jpg": image("JPEG"),
    "photo.jpeg": image("JPEG"),
    "anim.gif": image("GIF"),
    "scan.bmp": image("BMP"),
    "diagram.png": image("PNG"),
}

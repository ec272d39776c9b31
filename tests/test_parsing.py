"""The gateway's lean parsing and decoding give exactly what the standard library gives.

``parsing.parse`` feeds the parser in pieces and ``parsing.payload_bytes`` decodes base64 in one
step; both exist to keep a large mail's memory down, and neither may change a single byte of what
the relay reads: proved on every message of the corpus and on generated base64, well-formed and
broken.
"""

from __future__ import annotations

import base64
import email
from email.message import Message

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketmsg.relay import parsing
from tests.conftest import CORPUS
from tests.test_corpus import corpus_paths


def _shape(message: Message) -> list[tuple[object, ...]]:
    """Everything the relay reads from a parsed mail: each part's raw headers, and its payload as
    the standard library decodes it. (Decoding records defects on the part: once per message.)"""
    shape = []
    for part in parsing.walk(message):
        payload = None if part.is_multipart() else part.get_payload(decode=True)
        shape.append((tuple(part.raw_items()), part.get_content_type(), payload, len(part.defects)))
    return shape


def test_parsing_in_pieces_gives_the_standard_librarys_message_for_every_corpus_mail():
    if not (CORPUS / "INDEX.tsv").exists():
        pytest.skip("the shared corpus is not next to this checkout")
    paths = corpus_paths()
    for path in paths:
        raw = (CORPUS / path).read_bytes()
        expected = _shape(email.message_from_bytes(raw, policy=parsing.MAIL_POLICY))
        assert _shape(parsing.parse(raw)) == expected, path
        # Small pieces too, so that the mails are cut inside headers, lines and part boundaries.
        assert _shape(_parsed_in(raw, 97)) == expected, path
    assert len(paths) > 1000


def _parsed_in(raw: bytes, piece: int) -> Message:
    original = parsing.PARSE_CHUNK
    parsing.PARSE_CHUNK = piece
    try:
        return parsing.parse(raw)
    finally:
        parsing.PARSE_CHUNK = original


def test_every_corpus_part_decodes_to_the_standard_librarys_bytes():
    if not (CORPUS / "INDEX.tsv").exists():
        pytest.skip("the shared corpus is not next to this checkout")
    base64_parts = 0
    for path in corpus_paths():
        for part in parsing.walk(parsing.parse((CORPUS / path).read_bytes())):
            expected = part.get_payload(decode=True)
            assert parsing.payload_bytes(part) == (expected if isinstance(expected, bytes) else None), path
            base64_parts += str(part.get("content-transfer-encoding", "")).lower() == "base64"
    assert base64_parts > 100  # the corpus has plenty of them: the fast path was exercised


def _with_line_breaks(text: bytes, width: int) -> bytes:
    return b"\r\n".join(text[i : i + width] for i in range(0, len(text), width)) or b""


@settings(max_examples=400, deadline=None)
@given(
    data=st.binary(max_size=600),
    width=st.integers(min_value=1, max_value=120),
    damage=st.sampled_from(["none", "drop padding", "junk inside", "space inside", "cut short", "8-bit"]),
    encoding=st.sampled_from(["base64", "BASE64", "Base64", "base64 ", "quoted-printable", "7bit"]),
)
def test_payload_bytes_equals_the_standard_library_for_any_base64(data, width, damage, encoding):
    text = base64.b64encode(data)
    if damage == "drop padding":
        text = text.rstrip(b"=")
    elif damage == "junk inside":
        text = text[: len(text) // 2] + b"!*" + text[len(text) // 2 :]
    elif damage == "space inside":
        text = text[: len(text) // 3] + b" " + text[len(text) // 3 :]
    elif damage == "cut short":
        text = text[: max(0, len(text) - 1)]
    elif damage == "8-bit":
        text = text[: len(text) // 2] + "é".encode() + text[len(text) // 2 :]
    headers = b"From: a@example.com\r\nContent-Type: application/pdf\r\n"
    headers += b"Content-Transfer-Encoding: " + encoding.encode() + b"\r\n\r\n"
    raw = headers + _with_line_breaks(text, width) + b"\r\n"
    part = parsing.parse(raw)
    expected = part.get_payload(decode=True)
    assert parsing.payload_bytes(part) == expected

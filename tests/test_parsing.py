"""The gateway's lean parsing and decoding give exactly what the standard library gives.

``parsing.parse`` feeds the parser in pieces and ``parsing.payload_bytes`` decodes base64 in one
step; both exist to keep a large mail's memory down, and neither may change a single byte of what
the relay reads: proved on every message of the corpus and on generated base64, well-formed and
broken. Two shortcuts for speed are proved the same way: header look-ups through a mail's header
index, and the sender check reading the pipeline's parse instead of parsing the headers again.
"""

from __future__ import annotations

import base64
import email
import email.utils
from email.message import Message
from email.parser import BytesHeaderParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketmsg.mail import parsing
from marketmsg.mailauth import inbound as mailauth
from tests.conftest import CORPUS, corpus_paths


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


def _scanned(message: Message, name: str) -> list[str]:
    """A header's values found the plain way: a scan of every header, unfolded and decoded."""
    values = [str(v) for k, v in message.raw_items() if k.lower() == name.lower()]
    return [parsing._FOLD.sub(" ", parsing._undo_surrogates(v)) for v in values]


def test_header_lookups_through_the_index_equal_a_scan_of_every_header_for_every_corpus_mail():
    if not (CORPUS / "INDEX.tsv").exists():
        pytest.skip("the shared corpus is not next to this checkout")
    asked = ["Subject", "From", "Message-ID", "In-Reply-To", "References", "Auto-Submitted", "X-Absent"]
    eight_bit = 0
    for path in corpus_paths():
        mail = parsing.parse((CORPUS / path).read_bytes())
        names = {key for key, _ in mail.raw_items()} | set(asked)
        for name in sorted(names) + [n.upper() for n in asked]:
            assert parsing.header_texts(mail, name) == _scanned(mail, name), (path, name)
        eight_bit += any(parsing._SURROGATE.search(str(v)) for _, v in mail.raw_items())
    assert eight_bit > 10  # raw 8-bit headers (carrier mail) were among them


def test_the_sender_check_reads_the_same_headers_from_the_pipelines_parse_for_every_corpus_mail():
    if not (CORPUS / "INDEX.tsv").exists():
        pytest.skip("the shared corpus is not next to this checkout")
    for path in corpus_paths():
        raw = (CORPUS / path).read_bytes()
        own = BytesHeaderParser(policy=parsing.MAIL_POLICY).parsebytes(mailauth._header_block(raw))
        shared = parsing.parse(raw)
        for name in ("From", "DKIM-Signature", "Authentication-Results"):
            assert shared.get_all(name) == own.get_all(name), (path, name)
        assert mailauth._from_domain(shared) == mailauth._from_domain(own), path


def _address_the_general_way(value: str) -> str:
    """What from_address read before its shortcut: the standard library's address parser, then
    the first thing shaped like an address."""
    _, addr = email.utils.parseaddr(value)
    if "@" not in addr:
        found = parsing.ADDRESS_RE.search(value)
        addr = found.group(0) if found else ""
    return addr.strip().lower()


# Addresses and names near the shortcut's edges: well-formed ones, and ones with a special
# character or two where the standard parser reads something else.
_SPECIALS = '@.,;:()<>[]"\\ \t'
_LOCAL = st.one_of(
    st.from_regex(r"[a-z0-9]{1,5}(\.[a-z0-9+_'-]{1,4}){0,2}", fullmatch=True),
    st.text("abcXYZ019._%+-!#$&'*/=?^`{|}~" + _SPECIALS, min_size=1, max_size=12),
)
_DOMAIN = st.one_of(
    st.from_regex(r"[a-z0-9]{1,5}(\.[a-z0-9-]{1,4}){1,2}", fullmatch=True),
    st.text("abcxyz019-." + _SPECIALS, min_size=1, max_size=12),
)
_NAME = st.one_of(
    st.from_regex(r"[a-zA-Z森花子 ]{0,5}[@.,;:()<>\[\]\"\\]?[a-zA-Z. ]{0,4}", fullmatch=True),
    st.text("森花子 abcXYZ" + _SPECIALS, max_size=14),
)


@settings(max_examples=2000, deadline=None)
@given(
    name=_NAME,
    local=_LOCAL,
    domain=_DOMAIN,
    shape=st.sampled_from(["{a}", "{n} <{a}>", '"{n}" <{a}>', "{n}<{a}>", "<{a}>", " {a} ", "{n} < {a} >"]),
)
def test_the_from_shortcut_reads_every_address_as_the_standard_parser_does(name, local, domain, shape):
    value = shape.format(n=name, a=f"{local}@{domain}")
    assert parsing.address_in(value) == _address_the_general_way(value), value


def test_the_from_shortcut_agrees_on_every_corpus_mail_and_takes_most_of_them():
    if not (CORPUS / "INDEX.tsv").exists():
        pytest.skip("the shared corpus is not next to this checkout")
    paths = corpus_paths()
    simple = 0
    for path in paths:
        value = parsing.header_text(parsing.parse((CORPUS / path).read_bytes()), "From")
        assert parsing.address_in(value) == _address_the_general_way(value), (path, value)
        simple += parsing._SIMPLE_FROM.fullmatch(value) is not None
    assert simple > len(paths) / 2


def test_file_names_are_read_as_before_for_every_part_of_every_corpus_mail():
    if not (CORPUS / "INDEX.tsv").exists():
        pytest.skip("the shared corpus is not next to this checkout")
    named = skipped = 0
    for path in corpus_paths():
        for part in parsing.walk(parsing.parse((CORPUS / path).read_bytes())):
            name = parsing.filename_of(part)
            assert name == parsing._named_in_parameters(part), path
            named += bool(name)
            skipped += part.get("content-disposition") is None and "name" not in str(part.get("content-type"))
    assert named > 100 and skipped > 100  # both ways were taken

"""Attachment rules (SPEC F7) by mail: every allowed type passes, forbidden ones are refused at SMTP
time with the file named, and images leave without their metadata."""

from __future__ import annotations

import io
from email.message import EmailMessage

import pytest
from PIL import Image

from marketmsg.conversations.models import Message
from marketmsg.policy import attachments as rules
from tests import files
from tests.mail import everything_readable, parse
from tests.personas import make_pair
from tests.test_relay_smtp import deliver_all

OWNER = "owner@sakura-books.example.jp"


def mail_with(attachments: dict[str, bytes], sender: str = OWNER, to: str = "") -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, to, "写真を送ります"
    mail.set_content("添付をご確認ください。")
    for name, data in attachments.items():
        mail.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return mail.as_bytes()


@pytest.mark.parametrize("name", sorted(files.ALLOWED))
def test_every_allowed_type_is_recognised_from_its_content(name: str):
    checked = rules.check(name, files.ALLOWED[name])
    assert checked.filename == name and checked.size == len(files.ALLOWED[name])


@pytest.mark.parametrize(
    ("name", "data", "rule"),
    [
        ("invoice.pdf", files.exe(), rules.Rule.TYPE_NOT_ALLOWED),  # an .exe renamed .pdf
        ("manual.docx", files.plain_zip(), rules.Rule.TYPE_NOT_ALLOWED),  # a zip renamed .docx
        (
            "note.txt",
            b"<!DOCTYPE html><html><body><script>x()</script></body></html>",
            rules.Rule.TYPE_NOT_ALLOWED,
        ),
        ("photo.jpg", files.image("PNG"), rules.Rule.NAME_DISAGREES),  # a PNG named .jpg
        (
            "manual.doc",
            bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 3000,
            rules.Rule.TYPE_NOT_ALLOWED,
        ),  # Excel-ish
        ("setup.exe", files.exe(), rules.Rule.TYPE_NOT_ALLOWED),
    ],
)
def test_forbidden_or_disguised_files_are_refused_with_the_rule(name: str, data: bytes, rule: rules.Rule):
    with pytest.raises(rules.AttachmentRefused) as refused:
        rules.check(name, data)
    assert refused.value.refusal.rule == rule and refused.value.refusal.filename == name


def test_ten_megabytes_pass_and_one_byte_more_does_not():
    rules.check_total([("a.pdf", 6 * 1024 * 1024), ("b.pdf", 4 * 1024 * 1024)])
    with pytest.raises(rules.AttachmentRefused) as refused:
        rules.check_total([("a.pdf", 6 * 1024 * 1024), ("b.pdf", 4 * 1024 * 1024 + 1)])
    assert refused.value.refusal.rule == rules.Rule.TOO_LARGE and refused.value.refusal.filename == "b.pdf"


@pytest.mark.db
def test_mail_with_every_allowed_type_is_relayed_with_its_files(gateway, sink):
    pair = make_pair()
    code, _ = gateway.send(OWNER, pair.buyer_relay, mail_with(files.ALLOWED, to=pair.buyer_relay))
    assert code == 250
    assert Message.objects.get().has_attachments
    deliver_all()
    [caught] = sink.messages
    delivered = {part.get_filename(): part.get_content() for part in parse(caught.data).iter_attachments()}
    assert set(delivered) == set(files.ALLOWED)
    for name in ("invoice.pdf", "manual.doc", "manual.docx", "メモ.txt", "scan.bmp"):
        assert delivered[name] == files.ALLOWED[name], name


@pytest.mark.db
@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("invoice.pdf", files.exe(), "550 5.7.1 Attachment not allowed: invoice.pdf"),
        ("manual.docx", files.plain_zip(), "550 5.7.1 Attachment not allowed: manual.docx"),
        ("note.txt", b"<html><body><p>hi</p></body></html>", "550 5.7.1 Attachment not allowed: note.txt"),
        ("photo.jpg", files.image("PNG"), "550 5.7.1 Attachment refused: the name of photo.jpg"),
        (
            "big.pdf",
            files.pdf() + b"\x00" * (10 * 1024 * 1024 + 1 - len(files.pdf())),
            "552 5.3.4 Attachments too large",
        ),
        (
            "broken.jpg",
            b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 40,
            "550 5.7.1 Attachment refused: the image broken.jpg",
        ),
    ],
)
def test_mail_breaking_a_rule_is_refused_at_smtp_time_naming_the_file(gateway, name, data, expected):
    pair = make_pair()
    code, reply = gateway.send(OWNER, pair.buyer_relay, mail_with({"ok.png": files.image("PNG"), name: data}))
    assert f"{code} {reply}".startswith(expected), reply
    assert not Message.objects.exists()  # nothing stored, nothing silently dropped


@pytest.mark.db
def test_exif_gps_and_comments_are_gone_from_delivered_images(gateway, sink):
    pair = make_pair()
    photo = files.image("JPEG", gps=True, comment=b"taken at home")
    assert Image.open(io.BytesIO(photo)).getexif().get_ifd(0x8825)  # the original has a GPS position
    mail = mail_with({"parcel.jpg": photo}, sender="taro.yamada@example.jp", to=pair.seller_relay)
    assert gateway.send("taro.yamada@example.jp", pair.seller_relay, mail)[0] == 250
    deliver_all()
    [caught] = sink.messages
    [part] = list(parse(caught.data).iter_attachments())
    delivered = part.get_content()
    image = Image.open(io.BytesIO(delivered))
    image.load()  # still a picture
    assert image.size == (32, 24)
    assert not image.getexif() and "comment" not in image.info
    assert b"SecretCam" not in delivered and b"taken at home" not in delivered
    assert "taro.yamada@example.jp" not in everything_readable(caught.data)
    # The original, metadata and all, stays in the raw MIME kept for disputes.
    [kept] = list(parse(bytes(Message.objects.get().raw.data)).iter_attachments())
    assert b"SecretCam" in kept.get_content()

"""Attachment rules (SPEC F7) by mail: every allowed type passes, forbidden ones are refused at SMTP
time with the file named, and images leave without their metadata."""

from __future__ import annotations

import io
from email.message import EmailMessage

import pytest
from PIL import Image

from marketmsg.conversations.models import Message
from marketmsg.conversations.stored import raw_bytes as raw_of
from marketmsg.policy import attachments as rules
from tests.support import files
from tests.support.delivery import deliver_all
from tests.support.mail import everything_readable, parse
from tests.support.personas import make_pair

pytestmark = pytest.mark.blobs
OWNER = "owner@sakura-books.example.jp"
PNG = files.image("PNG")


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
    message = Message.objects.get()
    assert message.has_attachments
    stored = {a.filename: a for a in message.attachments.all()}  # through Django's storage, too
    assert set(stored) == set(files.ALLOWED)
    assert stored["invoice.pdf"].file.read() == files.pdf() and stored["invoice.pdf"].size == len(files.pdf())
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
            # 10 MB + 1 byte of attachments in all, with the small PNG every case carries
            files.pdf() + b"\x00" * (10 * 1024 * 1024 + 1 - len(files.pdf()) - len(PNG)),
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
    code, reply = gateway.send(OWNER, pair.buyer_relay, mail_with({"ok.png": PNG, name: data}))
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
    [kept] = list(parse(raw_of(Message.objects.get().raw)).iter_attachments())
    assert b"SecretCam" in kept.get_content()
    [stored] = Message.objects.get().attachments.all()
    assert b"SecretCam" not in stored.file.read()


@pytest.mark.db
def test_web_reply_with_files_is_stored_cleaned_delivered_and_downloadable_only_by_the_parties(
    gateway, sink, client
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from marketmsg.conversations.models import Attachment
    from marketmsg.conversations.services import conversation_for
    from tests.support.personas import PASSWORD, make_buyer, make_seller

    pair = make_pair()
    conversation = conversation_for(pair.seller, pair.buyer, pair.order)
    assert client.login(username=OWNER, password=PASSWORD)
    photo = files.image("JPEG", gps=True)
    answer = client.post(
        f"/messages/{conversation.pk}/",
        {
            "text": "領収書と写真です。",
            "files": [
                SimpleUploadedFile("領収書.pdf", files.pdf(), "application/pdf"),
                SimpleUploadedFile("parcel.jpg", photo, "image/jpeg"),
            ],
        },
    )
    assert answer.status_code == 302
    message = Message.objects.get()
    assert message.has_attachments
    stored = {a.filename: a for a in Attachment.objects.filter(message=message)}
    assert set(stored) == {"領収書.pdf", "parcel.jpg"}
    kept = stored["parcel.jpg"].file.read()
    assert b"SecretCam" not in kept and not Image.open(io.BytesIO(kept)).getexif()
    page = client.get(f"/messages/{conversation.pk}/").content.decode()
    assert "領収書.pdf" in page and f"/files/{stored['領収書.pdf'].pk}/" in page

    deliver_all()
    [caught] = sink.messages
    delivered = {p.get_filename(): p.get_content() for p in parse(caught.data).iter_attachments()}
    assert delivered["領収書.pdf"] == files.pdf() and b"SecretCam" not in delivered["parcel.jpg"]

    url = f"/files/{stored['領収書.pdf'].pk}/"
    download = client.get(url)
    assert download.status_code == 200 and download["Content-Disposition"].startswith("attachment;")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert b"".join(download.streaming_content) == files.pdf()  # type: ignore[attr-defined]
    client.logout()
    assert client.get(url).status_code == 302  # signed out: to sign-in
    assert client.login(username="taro.yamada@example.jp", password=PASSWORD)
    assert client.get(url).status_code == 200  # the buyer it was sent to
    client.logout()
    make_seller("他店 Other Shop", "owner@other.example.jp")
    make_buyer("hanako@example.jp", "佐藤 花子")
    for other in ("owner@other.example.jp", "hanako@example.jp"):
        assert client.login(username=other, password=PASSWORD)
        assert client.get(url).status_code == 404, other
        client.logout()


@pytest.mark.db
@pytest.mark.django_db
def test_a_forbidden_upload_is_named_in_the_form_and_nothing_is_sent(client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.support.personas import PASSWORD

    pair = make_pair()
    assert client.login(username=OWNER, password=PASSWORD)
    url = f"/orders/{pair.order.order_id}/contact/"
    just_over = files.pdf() + b"\x00" * (10 * 1024 * 1024 + 1 - len(files.pdf()))  # 10 MB + 1 byte
    for upload, words in (
        (SimpleUploadedFile("invoice.pdf", files.exe()), "「invoice.pdf」は送信できません"),
        (SimpleUploadedFile("manual.docx", files.plain_zip()), "「manual.docx」は送信できません"),
        (
            SimpleUploadedFile("note.txt", b"<!DOCTYPE html><html><body>x</body></html>"),
            "「note.txt」は送信できません",
        ),
        (SimpleUploadedFile("big.pdf", just_over), "10 MB"),
        (SimpleUploadedFile("photo.jpg", files.image("PNG")), "と一致しません"),
    ):
        page = client.post(url, {"subject": "請求書", "text": "ご確認ください", "files": [upload]})
        text = page.content.decode()
        assert page.status_code == 200 and words in text, words
        assert "ご確認ください" in text  # the draft is kept
    assert not Message.objects.exists()


@pytest.mark.db
@pytest.mark.django_db
def test_staff_remove_a_file_with_a_reason_and_both_parties_see_the_tombstone(
    client, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from marketmsg.accounts.models import User
    from marketmsg.conversations.models import Attachment
    from marketmsg.conversations.services import conversation_for
    from tests.support.personas import PASSWORD

    pair = make_pair()
    User.objects.create_user("cs@marketplace.example", PASSWORD, name="サポート 佐藤", role=User.Role.STAFF)
    conversation = conversation_for(pair.seller, pair.buyer, pair.order)
    assert client.login(username=OWNER, password=PASSWORD)
    client.post(
        f"/messages/{conversation.pk}/",
        {"text": "画像です", "files": [SimpleUploadedFile("ad.png", files.image("PNG"))]},
    )
    attachment = Attachment.objects.get()
    stored_name = attachment.file.name
    assert attachment.file.storage.exists(stored_name)
    assert client.get("/staff/attachments/").status_code == 404  # sellers are not staff
    assert client.post(f"/staff/attachments/{attachment.pk}/remove/", {"reason": "x"}).status_code == 404
    client.logout()

    assert client.login(username="cs@marketplace.example", password=PASSWORD)
    assert "ad.png" in client.get("/staff/attachments/").content.decode()
    assert client.get(f"/files/{attachment.pk}/").status_code == 404  # not without grounds
    opened = client.get(f"/staff/files/{attachment.pk}/", {"reason": "moderation review of attachments"})
    assert opened.status_code == 200  # the review is the reason, and the look is audited
    client.post(f"/staff/attachments/{attachment.pk}/remove/", {"reason": "  "})
    attachment.refresh_from_db()
    assert attachment.removed_at is None  # a reason is required
    with django_capture_on_commit_callbacks(execute=True):  # the blob goes once the change commits
        client.post(f"/staff/attachments/{attachment.pk}/remove/", {"reason": "外部サイトへの誘導"})
    attachment.refresh_from_db()
    assert attachment.removed_at is not None and attachment.removed_reason == "外部サイトへの誘導"
    assert attachment.removed_by is not None and attachment.removed_by.email == "cs@marketplace.example"
    assert not attachment.file and not attachment.file.storage.exists(stored_name)
    assert client.get(f"/files/{attachment.pk}/").status_code == 404
    client.logout()

    for who, path in (
        (OWNER, f"/messages/{conversation.pk}/"),
        ("taro.yamada@example.jp", f"/my/messages/{conversation.pk}/"),
    ):
        assert client.login(username=who, password=PASSWORD)
        page = client.get(path).content.decode()
        assert "ad.png はマーケットプレイスにより削除されました" in page and "外部サイトへの誘導" in page
        client.logout()


@pytest.mark.db
def test_a_buyer_uploads_every_allowed_type_on_the_web_and_the_seller_receives_them(gateway, sink, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.support.personas import PASSWORD

    pair = make_pair()
    assert client.login(username="taro.yamada@example.jp", password=PASSWORD)
    uploads = [SimpleUploadedFile(name, data) for name, data in files.ALLOWED.items()]
    done = client.post(
        f"/my/orders/{pair.order.order_id}/contact/",
        {"topic": "return", "text": "写真と書類です", "files": uploads},
    )
    assert done.status_code == 302
    message = Message.objects.get()
    assert {a.filename for a in message.attachments.all()} == set(files.ALLOWED)
    deliver_all()
    [caught] = sink.messages
    assert caught.rcpt_tos == [OWNER]
    delivered = {p.get_filename(): p.get_content() for p in parse(caught.data).iter_attachments()}
    assert set(delivered) == set(files.ALLOWED)
    assert delivered["manual.doc"] == files.ALLOWED["manual.doc"]


@pytest.mark.db
def test_stored_files_hide_real_addresses_in_names_and_contents_as_relayed_mail_does(gateway, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from marketmsg.conversations.models import Attachment
    from marketmsg.conversations.services import conversation_for
    from tests.support.personas import PASSWORD

    pair = make_pair()
    conversation = conversation_for(pair.seller, pair.buyer, pair.order)
    # By mail: the buyer's address in a file name and inside the file.
    mail = mail_with(
        {"taro.yamada@example.jp の見積.txt": "連絡先: taro.yamada@example.jp\n".encode()},
        sender="taro.yamada@example.jp",
        to=pair.seller_relay,
    )
    assert gateway.send("taro.yamada@example.jp", pair.seller_relay, mail)[0] == 250
    # On the web: the seller's own address in a file name and inside the file.
    assert client.login(username=OWNER, password=PASSWORD)
    upload = SimpleUploadedFile(f"{OWNER}.txt", f"返品先 {OWNER}\n".encode())
    assert (
        client.post(f"/messages/{conversation.pk}/", {"text": "返品先です", "files": [upload]}).status_code
        == 302
    )
    by_name = {a.message.author: a for a in Attachment.objects.select_related("message")}
    from_buyer, from_seller = by_name[Message.Author.BUYER], by_name[Message.Author.SELLER]
    assert from_buyer.filename == f"{pair.buyer_relay} の見積.txt"
    assert from_buyer.file.read() == f"連絡先: {pair.buyer_relay}\n".encode()
    assert from_seller.filename == f"{pair.seller_relay}.txt"
    assert from_seller.file.read() == f"返品先 {pair.seller_relay}\n".encode()
    client.logout()
    assert client.login(username="taro.yamada@example.jp", password=PASSWORD)
    download = client.get(f"/files/{from_seller.pk}/")
    assert OWNER not in download["Content-Disposition"] and OWNER.encode() not in b"".join(
        download.streaming_content
    )  # type: ignore[attr-defined]


def many_parts_then(tail: dict[str, bytes], parts: int) -> bytes:
    """A mail of ``parts`` small text parts, then the files of ``tail``."""
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = OWNER, "x@example.jp", "many parts"
    mail.set_content("本文")
    for n in range(parts):
        mail.add_attachment(f"note {n}\n", filename=f"note{n}.txt")
    for name, data in tail.items():
        mail.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return mail.as_bytes()


@pytest.mark.db
@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (505, "552 5.3.4 Too many MIME parts: at most 500"),
        (490, "550 5.7.1 Attachment not allowed: setup.exe"),
    ],
)
def test_no_rule_stops_short_of_the_last_part(gateway, parts, expected):
    """A file after part 500 once went through unchecked: a mail with more parts is refused whole,
    and a forbidden file as the last of the parts that are allowed is found."""
    pair = make_pair()
    code, reply = gateway.send(OWNER, pair.buyer_relay, many_parts_then({"setup.exe": files.exe()}, parts))
    assert f"{code} {reply}".startswith(expected), reply
    assert not Message.objects.exists()


@pytest.mark.db
def test_a_forbidden_file_inside_a_base64_forwarded_mail_is_found(gateway):
    """A forwarded mail in base64 is opened and its files checked like any other (the renderer
    relays what is inside it)."""
    import base64

    pair = make_pair()
    inner = mail_with({"setup.exe": files.exe()})
    outer = EmailMessage()
    outer["From"], outer["To"], outer["Subject"] = OWNER, pair.buyer_relay, "Fwd"
    outer.set_content("転送します")
    forwarded = EmailMessage()
    forwarded["Content-Type"] = "message/rfc822"
    forwarded["Content-Transfer-Encoding"] = "base64"
    forwarded.set_payload(base64.encodebytes(inner).decode())
    outer.make_mixed()
    outer.attach(forwarded)
    code, reply = gateway.send(OWNER, pair.buyer_relay, outer.as_bytes())
    assert code == 550 and "setup.exe" in reply, reply

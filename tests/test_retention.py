"""Retention and erasure (ADR 22): what is due goes from the database and the blob store, what an
open claim needs stays, an erased person leaves no trace of their address or name, and every
conversation still verifies, its redacted messages reported as redacted, not changed."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from marketmsg.accounts.models import User
from marketmsg.addresses.models import SenderAddress
from marketmsg.blobs import store
from marketmsg.console import export
from marketmsg.conversations import compose, record
from marketmsg.conversations.models import Attachment, Message, RawMime
from marketmsg.integration.models import OperatorCredential
from marketmsg.orders.models import Claim
from marketmsg.relay import inbound
from marketmsg.retention import redaction
from marketmsg.retention.models import Erasure, PurgeRun
from tests.support import files
from tests.support.delivery import deliver_all
from tests.support.personas import PASSWORD, buyer_writes_on_the_web, make_buyer, make_order, make_pair

pytestmark = [pytest.mark.db, pytest.mark.blobs]
DAY = 86400
OWNER = "owner@sakura-books.example.jp"
# Not the personas' default buyer: the store is searched for this address and name afterwards.
ERASED_EMAIL, ERASED_NAME = "hanako.kesu@example.jp", "消田 花子"


def mail_from(sender: str, to: str, subject: str, text: str, photo: bool = True, kind: str = "PNG") -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = f"{ERASED_NAME} <{sender}>", to, subject
    mail.set_content(text)
    if photo:
        picture = files.image(kind)
        mail.add_attachment(picture, maintype="image", subtype=kind.lower(), filename=f"hako.{kind.lower()}")
    return mail.as_bytes()


def verified(order_id: str, tmp_path: Path) -> export.Report:
    archive = tmp_path / f"{order_id}.zip"
    export.export(order_id, archive)
    return export.verify(archive)


def everything_in_the_database() -> str:
    """Every row of every table, as text: what a breach or a backup would hold."""
    seen = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            for row in cursor.fetchall():
                seen.append(" ".join(bytes(v).decode("utf-8", "replace") if isinstance(v, bytes | memoryview)
                                     else str(v) for v in row))  # fmt: skip
    return "\n".join(seen)


@pytest.mark.django_db(transaction=True)
def test_purge_removes_what_is_due_keeps_what_a_claim_needs_and_records_it(monkeypatch, settings, tmp_path):
    settings.KEEP_RAW_MIME = settings.KEEP_ATTACHMENTS = 730 * DAY
    settings.KEEP_MESSAGE_TEXT = 1000 * DAY
    real_now = timezone.now
    pair = make_pair()
    buyer, relay = pair.buyer.email, pair.seller_relay
    claimed_order = make_order(pair.seller, pair.buyer)

    def written(days_ago: int, subject: str, text: str, kind: str = "PNG") -> Message:
        """A buyer's mail through the inbound pipeline, stamped ``days_ago`` days back."""
        monkeypatch.setattr(timezone, "now", lambda: real_now() - timedelta(days=days_ago))
        receipt = inbound.receive(mail_from(buyer, relay, subject, text, kind=kind), buyer, [relay])
        monkeypatch.setattr(timezone, "now", real_now)
        return Message.objects.get(pk=receipt.message_ids[0])

    monkeypatch.setattr(timezone, "now", lambda: real_now() - timedelta(days=1200))
    ancient = buyer_writes_on_the_web(pair, "とても古い", "もう要らない本文")
    old = written(800, f"注文 {pair.order.order_id}", "古い質問")
    claimed = written(800, f"注文 {claimed_order.order_id}", "申し立て中", kind="GIF")
    recent = buyer_writes_on_the_web(pair, "新しい", "最近の本文")
    assert claimed.conversation.order_id == claimed_order.pk and old.conversation.order_id == pair.order.pk
    staff = User.objects.create_user("cs@marketplace.example", PASSWORD, name="CS", role=User.Role.STAFF)
    Claim.objects.create(order=claimed_order, opened_by=staff)
    old_raw, old_file = RawMime.objects.get(message=old).blob, Attachment.objects.get(message=old).file.name

    call_command("purge", "--quiet")

    run = PurgeRun.objects.get()
    assert (run.raw_mime, run.attachments, run.message_texts) == (1, 1, 1)
    assert run.kept_for_claims == 2  # the claimed message's raw MIME and its file
    raw = RawMime.objects.get(message=old)
    assert raw.removed_at is not None and raw.removed_reason == "retention" and raw.blob == ""
    assert not store.exists(old_raw) and not store.exists(old_file)
    attachment = Attachment.objects.get(message=old)
    assert attachment.removed_reason == "retention" and not attachment.file
    old.refresh_from_db()
    assert old.text.strip() == "古い質問" and old.redacted_at is None  # texts are kept 1000 days
    ancient.refresh_from_db()
    assert (ancient.text, ancient.subject, ancient.redacted_because) == ("", "", "retention")
    recent.refresh_from_db()
    assert recent.text == "最近の本文" and recent.redacted_at is None
    claimed_raw = RawMime.objects.get(message=claimed)
    assert claimed_raw.removed_at is None and store.exists(claimed_raw.blob)  # the claim needs it
    assert Attachment.objects.get(message=claimed).removed_at is None

    report = verified(pair.order.order_id, tmp_path)
    assert report.ok, report.problems
    assert report.redacted == 1 and any("raw MIME was removed (retention" in n for n in report.notes)
    assert report.messages == 3

    call_command("purge", "--quiet")  # nothing more is due
    again = PurgeRun.objects.latest("pk")
    assert (again.raw_mime, again.attachments, again.message_texts) == (0, 0, 0)


def test_erasing_a_buyer_leaves_no_address_or_name_and_the_record_still_verifies(gateway, sink, tmp_path):
    pair = make_pair(buyer=make_buyer(ERASED_EMAIL, ERASED_NAME))
    pair.buyer.external_id = "cust-erase-1"
    pair.buyer.save()
    raw = mail_from(ERASED_EMAIL, pair.seller_relay, f"注文 {pair.order.order_id}", "箱が潰れていました。")
    assert gateway.send(ERASED_EMAIL, pair.seller_relay, raw)[0] == 250
    question = Message.objects.get()
    owner = User.objects.get(email=OWNER)
    compose.seller_reply(owner, question.conversation, f"{ERASED_NAME} 様、交換品をお送りします。")
    deliver_all()
    assert len(sink.messages) == 2
    blobs = [RawMime.objects.get(message=question).blob, Attachment.objects.get(message=question).file.name]
    assert all(store.exists(b) for b in blobs)
    assert ERASED_EMAIL in everything_in_the_database()

    _credential, secret = OperatorCredential.issue("privacy desk", ["erasure", "catalog"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    client = Client()
    answer = client.post(
        "/api/operator/v1/buyers/cust-erase-1/erasure", {"reference": "REQ-1"}, "application/json", **auth
    )
    assert answer.status_code == 200, answer.content
    done = answer.json()
    assert done["messages_redacted"] == 2 and done["relay_addresses_stopped"] == 2
    assert done["raw_mime_removed"] == 1 and done["attachments_removed"] == 1

    # Nothing of the address or the name, in any row of any table …
    everything = everything_in_the_database()
    assert ERASED_EMAIL not in everything
    assert ERASED_NAME not in everything and "消田" not in everything and "花子" not in everything
    # … nor in the blob store: the mail's raw MIME and its file are gone.
    assert not any(store.exists(b) for b in blobs)
    for folder in {b.rsplit("/", 1)[0] for b in blobs}:
        for name, _modified in store.listing(folder):
            assert ERASED_EMAIL.encode() not in store.read(name)
    erasure = Erasure.objects.get()
    assert (erasure.kind, erasure.reference, erasure.external_id) == ("buyer", "REQ-1", "cust-erase-1")

    # The relay addresses stop working; the person cannot sign in.
    code, _text = gateway.send("someone@example.com", pair.buyer_relay, b"Subject: hi\r\n\r\nhello\r\n")
    assert code == 550
    assert not Client().login(username=ERASED_EMAIL, password=PASSWORD)

    # The conversation still verifies: both messages redacted, none changed.
    report = verified(pair.order.order_id, tmp_path)
    assert report.ok, report.problems
    assert report.redacted == 2
    reply = Message.objects.get(author=Message.Author.SELLER)
    assert reply.text.startswith("（削除済み） 様") and reply.redacted_because == "erasure"
    # Staff see what happened in place of the text and the raw mail.
    User.objects.create_user("cs@marketplace.example", PASSWORD, name="CS", role=User.Role.STAFF)
    staff = Client()
    assert staff.login(username="cs@marketplace.example", password=PASSWORD)
    page = staff.get(
        f"/staff/conversations/{question.conversation_id}/", {"reason": "checking an erasure request"}
    ).content.decode()
    assert "本文を削除（erasure）" in page and "元メールは削除済み（erasure" in page
    assert ERASED_EMAIL not in page

    # The marketplace cannot bring the person back, and a second request is answered plainly.
    upsert = client.post(
        "/api/operator/v1/buyers",
        {"records": [{"external_id": "cust-erase-1", "email": ERASED_EMAIL, "name": ERASED_NAME}]},
        "application/json",
        **auth,
    ).json()
    assert upsert["results"][0]["result"] == "refused" and "erased" in str(upsert["results"][0])
    again = client.post("/api/operator/v1/buyers/cust-erase-1/erasure", {}, "application/json", **auth)
    assert again.status_code == 409 and "was erased on" in again.json()["detail"]


@pytest.mark.django_db
def test_erasure_needs_its_own_scope():
    _credential, secret = OperatorCredential.issue("crm", ["catalog", "read", "messages", "webhooks"])
    pair = make_pair()
    pair.buyer.external_id = "cust-2"
    pair.buyer.save()
    answer = Client().post(
        "/api/operator/v1/buyers/cust-2/erasure",
        {},
        "application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert answer.status_code == 403 and "erasure" in answer.json()["detail"]
    assert User.objects.get(pk=pair.buyer.user_id).erased_at is None


def test_erasing_a_sellers_user_removes_their_address_and_keeps_what_the_shop_said(gateway, tmp_path):
    pair = make_pair()
    clerk = User.objects.create_user("clerk.kesu@sakura-books.example.jp", PASSWORD, name="消田 店員",
                                     role=User.Role.SELLER, external_id="clerk-9")  # fmt: skip
    pair.seller.members.create(user=clerk)
    pair.seller.external_id = "shop-9"
    pair.seller.save()
    assert SenderAddress.objects.get(email=clerk.email).state == SenderAddress.State.APPROVED
    text = "ご注文ありがとうございます。本日発送します。"
    raw = mail_from(clerk.email, pair.buyer_relay, f"発送 {pair.order.order_id}", text, photo=False)
    raw = raw.replace(ERASED_NAME.encode(), "消田 店員".encode())
    assert gateway.send(clerk.email, pair.buyer_relay, raw)[0] == 250
    sent = Message.objects.get()
    assert sent.sender_email == clerk.email and sent.state == Message.State.RELAYED

    _credential, secret = OperatorCredential.issue("hr", ["erasure"])
    answer = Client().post(
        "/api/operator/v1/sellers/shop-9/users/clerk-9/erasure", {}, "application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )  # fmt: skip
    assert answer.status_code == 200, answer.content
    everything = everything_in_the_database()
    assert "clerk.kesu@sakura-books.example.jp" not in everything and "消田" not in everything
    sent.refresh_from_db()
    assert sent.text.startswith("ご注文ありがとうございます") and sent.sender_email == ""
    assert SenderAddress.objects.get(account=pair.seller, email__startswith="erased-").state == "blocked"
    report = verified(pair.order.order_id, tmp_path)
    assert report.ok and report.redacted == 1


def _first_form(conversation_id: int) -> None:
    """Seal the conversation as versions before content digests did."""
    previous = ""
    for message in Message.objects.filter(conversation_id=conversation_id).order_by("id"):
        content = record.Content.of(message, record.attachments_of(message.attachments.order_by("pk")))
        previous = record.first_form_seal(previous, content)
        Message.objects.filter(pk=message.pk).update(record_hash=previous, content_digest="")


@pytest.mark.django_db
def test_a_conversation_sealed_before_digests_is_resealed_then_redacted(
    tmp_path, django_capture_on_commit_callbacks
):
    pair = make_pair()
    messages = [buyer_writes_on_the_web(pair, f"質問 {n}", f"本文 {n}") for n in range(3)]
    _first_form(messages[0].conversation_id)
    assert verified(pair.order.order_id, tmp_path).ok  # the first form still verifies as it is
    with django_capture_on_commit_callbacks(execute=True):
        changed, resealed = redaction.redact([messages[1].pk], "erasure")
    assert (changed, resealed) == (1, 1)
    assert all(m.content_digest for m in Message.objects.all())
    report = verified(pair.order.order_id, tmp_path)
    assert report.ok and report.redacted == 1, report.problems


@pytest.mark.django_db
def test_a_broken_first_form_chain_is_not_resealed_over():
    pair = make_pair()
    messages = [buyer_writes_on_the_web(pair, f"質問 {n}") for n in range(2)]
    _first_form(messages[0].conversation_id)
    Message.objects.filter(pk=messages[0].pk).update(text="書き換えた")  # an edit behind the record's back
    with pytest.raises(redaction.RecordBroken):
        redaction.reseal(messages[0].conversation_id)
    assert Message.objects.get(pk=messages[1].pk).content_digest == ""


@pytest.mark.django_db
def test_an_edited_redacted_entry_in_an_archive_is_changed_not_redacted(tmp_path):
    pair = make_pair()
    messages = [buyer_writes_on_the_web(pair, f"質問 {n}") for n in range(2)]
    redaction.redact([messages[0].pk], "erasure")
    archive = tmp_path / "a.zip"
    export.export(pair.order.order_id, archive)
    import json
    import zipfile

    with zipfile.ZipFile(archive) as source:
        manifest: dict[str, Any] = json.loads(source.read(export.MANIFEST))
    entry = manifest["conversations"][0]["messages"][0]
    assert entry["redacted"] == "erasure" and entry["text"] == ""
    entry["content_digest"] = hashlib.sha256(b"another message").hexdigest()
    body = json.dumps(manifest).encode()
    edited = tmp_path / "edited.zip"
    with zipfile.ZipFile(edited, "w") as target:
        target.writestr(export.MANIFEST, body)
        target.writestr(export.SIGNATURE, export._sign(body))
    report = export.verify(edited)
    assert not report.ok and any("does not match its record hash" in p for p in report.problems)

"""The staff console (SPEC F11): claims and the full record, grounds for every look, the audit
log, customer service answering through the pipeline, look-ups, and the tamper-evident export."""

from __future__ import annotations

import json
import zipfile
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from marketmsg.accounts.models import User
from marketmsg.console.models import AuditEntry, CustomerServiceClosure
from marketmsg.conversations import compose, record
from marketmsg.conversations.drafts import Received
from marketmsg.conversations.models import Attachment, Message
from marketmsg.conversations.services import Draft, post_message
from marketmsg.orders.models import Claim
from tests.support import files
from tests.support.delivery import deliver_all
from tests.support.mail import compose as mail
from tests.support.personas import PASSWORD, make_order, make_pair

pytestmark = [pytest.mark.db, pytest.mark.django_db, pytest.mark.blobs]
OWNER = "owner@sakura-books.example.jp"
STAFF = "staff@marketplace.example"
BOSS = "boss@marketplace.example"


def story(settings):  # type: ignore[no-untyped-def]
    """An order with a full story: a buyer's question with a photo, a held mail from an unknown
    address, a seller reply blocked by the guidelines, a reply whose delivery failed."""
    pair = make_pair()
    buyer_user = pair.buyer.user
    question = compose.contact_seller(
        buyer_user, pair.order, "product", "箱が潰れていました。",
        [SimpleUploadedFile("box.jpg", files.image("JPEG"), "image/jpeg")],
    )  # fmt: skip
    held = post_message(
        Draft(
            seller=pair.seller, buyer=pair.buyer, author=Message.Author.SELLER, channel=Message.Channel.MAIL,
            subject="Re: 箱", text="返品してください", sender_email="stranger@elsewhere.example",
            conversation=question.conversation,
            mail=Received(raw=mail("stranger@elsewhere.example", pair.buyer_relay)),
        )
    )  # fmt: skip
    owner = User.objects.get(email=OWNER)
    with pytest.raises(Exception):  # noqa: B017 - the guidelines refuse it, and keep it as blocked
        compose.seller_reply(owner, question.conversation, "詳しくは https://sakura-shop.example.com へ")
    settings.SMARTHOST = ("127.0.0.1", 9)  # nobody listens: the delivery attempt fails for real
    compose.seller_reply(owner, question.conversation, "交換品をお送りします。")
    deliver_all()
    return pair, question, held


def staff_client(email: str = STAFF, supervisor: bool = False) -> Client:
    User.objects.create_user(
        email, PASSWORD, name=email.split("@")[0], role=User.Role.STAFF, is_supervisor=supervisor
    )
    client = Client()
    assert client.login(username=email, password=PASSWORD)
    return client


def test_no_seller_or_buyer_reaches_a_staff_page(settings):
    pair, question, _ = story(settings)
    pages = [
        "/staff/claims/", "/staff/search/?q=x", "/staff/audit/", "/staff/customer-service/",
        f"/staff/conversations/{question.conversation_id}/?reason=just+curious+really",
        f"/staff/messages/{question.pk}/raw/", f"/staff/files/{question.attachments.get().pk}/",
    ]  # fmt: skip
    for email in (OWNER, pair.buyer.email):
        client = Client()
        assert client.login(username=email, password=PASSWORD)
        for page in pages:
            assert client.get(page).status_code == 404, (email, page)
    assert not AuditEntry.objects.exists()


def test_without_a_claim_or_reason_nothing_of_the_conversation_is_shown(settings):
    _pair, question, held = story(settings)
    client = staff_client()
    url = f"/staff/conversations/{question.conversation_id}/"
    for query in ("", "?reason=look", "?claim=999"):
        refused = client.get(url + query)
        assert refused.status_code == 403 and "箱が潰れていました" not in refused.content.decode()
    assert client.get(f"/staff/messages/{held.pk}/raw/").status_code == 404
    assert client.get(f"/staff/files/{question.attachments.get().pk}/").status_code == 404
    assert not AuditEntry.objects.exists()
    reason = "buyer reported a damaged parcel"
    page = client.get(url, {"reason": reason}).content.decode()
    assert "箱が潰れていました" in page
    [entry] = AuditEntry.objects.all()
    assert (entry.action, entry.reason, entry.conversation_id) == (
        "view_conversation",
        reason,
        question.conversation_id,
    )
    raw = client.get(f"/staff/messages/{held.pk}/raw/", {"reason": reason})
    assert raw.status_code == 200 and b"stranger@elsewhere.example" in b"".join(raw.streaming_content)
    photo = client.get(f"/staff/files/{question.attachments.get().pk}/", {"reason": reason})
    assert photo.status_code == 200
    assert list(AuditEntry.objects.order_by("id").values_list("action", flat=True)) == [
        "view_conversation", "view_raw", "view_attachment",
    ]  # fmt: skip


def test_a_claim_shows_the_whole_record_and_its_decision_is_audited(settings, sink):
    pair, _question, held = story(settings)
    client = staff_client()
    opened = client.post("/staff/claims/", {"order_id": pair.order.order_id}, follow=True)
    claim = Claim.objects.get()
    page = opened.content.decode()
    for seen in (
        "箱が潰れていました",
        "box.jpg",
        "stranger@elsewhere.example",
        "external_link",
        "Connection refused",
    ):
        assert seen in page or seen.lower() in page.lower(), seen
    assert "返品してください" in page  # the held message too
    assert list(AuditEntry.objects.order_by("id").values_list("action", "claim_id")) == [
        ("open_claim", claim.pk), ("view_conversation", claim.pk),
    ]  # fmt: skip
    client.get(f"/staff/claims/{claim.pk}/")
    assert AuditEntry.objects.filter(action="view_conversation").count() == 2  # one per read
    # The claim is grounds for the raw message and the file.
    assert client.get(f"/staff/messages/{held.pk}/raw/", {"claim": claim.pk}).status_code == 200
    refused = client.post(f"/staff/claims/{claim.pk}/decide/", {"decision": "buyer"}, follow=True)
    assert "note" in refused.content.decode().lower() or "メモ" in refused.content.decode()
    client.post(f"/staff/claims/{claim.pk}/decide/", {"decision": "buyer", "note": "箱の写真で破損を確認。"})
    claim.refresh_from_db()
    assert claim.decision == "buyer" and claim.decided_by.email == STAFF
    assert AuditEntry.objects.filter(action="decide_claim", claim=claim).count() == 1


def test_customer_service_answers_the_buyer_through_the_pipeline(sink):
    pair = make_pair()
    fba = make_order(pair.seller, pair.buyer, fulfillment="FBA")
    item = compose.contact_seller(pair.buyer.user, fba, "product", "使い方を教えてください")
    assert item.state == Message.State.CUSTOMER_SERVICE
    client = staff_client()
    assert "使い方を教えてください" in client.get("/staff/customer-service/").content.decode()
    client.post(
        f"/staff/customer-service/{item.pk}/answer/",
        {"action": "answer", "text": "電源ボタンを3秒押してください。"},
    )
    closure = CustomerServiceClosure.objects.get(message=item)
    assert (
        closure.answer.author == Message.Author.MARKETPLACE and closure.answer.state == Message.State.RELAYED
    )
    deliver_all()
    [answer] = [m for m in sink.messages if m.rcpt_tos == [pair.buyer.email]]
    assert "電源ボタン".encode() in answer.data or "電源ボタン" in answer.data.decode("utf-8", "replace")
    assert OWNER not in answer.data.decode("utf-8", "replace")
    assert "使い方を教えてください" not in client.get("/staff/customer-service/").content.decode()
    assert AuditEntry.objects.filter(action="answer_customer", message_id=item.pk).count() == 1
    buyer = Client()
    assert buyer.login(username=pair.buyer.email, password=PASSWORD)
    assert "電源ボタン" in buyer.get(f"/my/messages/{item.conversation_id}/").content.decode()


def test_look_ups_find_conversations_across_sellers(settings):
    pair, question, _ = story(settings)
    client = staff_client()
    for query in (
        pair.order.order_id,
        "B0C1X2Y3Z4",
        pair.buyer_relay,
        pair.buyer.email,
        OWNER,
        "Sakura",
        str(pair.seller.pk),
    ):
        page = client.get("/staff/search/", {"q": query}).content.decode()
        assert f"/staff/conversations/{question.conversation_id}/" in page, query
    assert (
        "/staff/conversations/"
        not in client.get("/staff/search/", {"q": "999-9999999-9999999"}).content.decode()
    )


def test_only_supervisors_read_the_audit_log_and_nobody_changes_it(settings):
    story(settings)
    client = staff_client()
    client.get("/staff/search/", {"q": "Sakura"})
    assert client.get("/staff/audit/").status_code == 404
    boss = staff_client(BOSS, supervisor=True)
    page = boss.get("/staff/audit/", {"action": "search"}).content.decode()
    assert "Sakura" in page
    assert "Sakura" not in boss.get("/staff/audit/", {"action": "view_raw"}).content.decode()
    entry = AuditEntry.objects.get()
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().update(reason="nothing")
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().delete()


def test_each_message_is_chained_to_the_one_before(settings):
    _pair, question, _ = story(settings)
    chain = list(Message.objects.filter(conversation=question.conversation).order_by("id"))
    previous = ""
    for message in chain:
        content = record.Content(
            message.created_at, message.author, message.channel, message.sender_email, message.subject,
            message.text, message.html, message.raw_sha256,
            tuple((a.filename, a.size, a.sha256) for a in message.attachments.order_by("id")),
        )  # fmt: skip
        assert message.content_digest == record.digest(content)
        assert message.record_hash == record.link(previous, message.content_digest)
        assert record.check(previous, message.record_hash, message.content_digest, content) == "sound"
        previous = message.record_hash
    assert len({m.record_hash for m in chain}) == len(chain) >= 4


def _rewrite(archive: Path, change) -> Path:  # type: ignore[no-untyped-def]
    """A copy of the archive with one member changed by ``change(name, data) -> data``."""
    out = archive.with_name("edited-" + archive.name)
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            target.writestr(name, change(name, source.read(name)))
    return out


def verify(path: Path) -> tuple[bool, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("verify-export", str(path), stdout=out, stderr=err)
    except CommandError:
        return False, err.getvalue()
    return True, out.getvalue()


def test_export_verifies_and_any_edit_is_found_and_named(settings, tmp_path: Path):
    pair, question, held = story(settings)
    archive = tmp_path / "claim.zip"
    call_command("export-conversation", pair.order.order_id, "--out", str(archive), stdout=StringIO())
    ok, said = verify(archive)
    assert ok and "every hash matches" in said
    photo = question.attachments.get()

    def edit_text(name: str, data: bytes) -> bytes:
        return (
            data.replace("箱が潰れていました".encode(), "箱は無事でした".encode())
            if name == "manifest.json"
            else data
        )

    ok, said = verify(_rewrite(archive, edit_text))
    assert not ok and "manifest.json was changed" in said
    assert (
        f"message {question.pk} of conversation {question.conversation_id}" in said and "record hash" in said
    )

    def edit_raw(name: str, data: bytes) -> bytes:
        return data.replace(b"stranger", b"strangen") if name == f"raw/{held.pk}.eml" else data

    ok, said = verify(_rewrite(archive, edit_raw))
    assert not ok and f"raw/{held.pk}.eml was changed" in said and "manifest.json" not in said

    def edit_photo(name: str, data: bytes) -> bytes:
        return data[:-1] + bytes([data[-1] ^ 1]) if name.startswith(f"files/{photo.pk}/") else data

    ok, said = verify(_rewrite(archive, edit_photo))
    assert not ok and f"files/{photo.pk}/box.jpg was changed" in said

    def drop_message(name: str, data: bytes) -> bytes:
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        del manifest["conversations"][0]["messages"][1]
        return json.dumps(manifest).encode()

    ok, said = verify(_rewrite(archive, drop_message))
    assert not ok and "chain is broken" in said
    assert Attachment.objects.filter(pk=photo.pk).exists()

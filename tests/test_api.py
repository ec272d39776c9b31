"""The REST API (SPEC F12): every endpoint and its error paths, isolation between shops, rate
limits and idempotent sends. Guideline blocks and the dry run are in test_api_guidelines.py."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from marketmsg.accounts.models import ApiToken, SellerUser, User
from marketmsg.addresses import services as addresses
from marketmsg.addresses.models import SenderAddress
from marketmsg.conversations.models import Message, Template
from marketmsg.limits import shared
from marketmsg.relay import inbound
from tests.support import files
from tests.support.delivery import deliver_all
from tests.support.mail import compose
from tests.support.personas import PASSWORD, make_buyer, make_order, make_pair, make_seller

OWNER = "owner@sakura-books.example.jp"
BUYER = "taro.yamada@example.jp"

pytestmark = [pytest.mark.db, pytest.mark.django_db]


def token_for(email: str = OWNER, scopes: tuple[str, ...] = ("read", "write")) -> dict[str, str]:
    _token, secret = ApiToken.issue(User.objects.get(email=email), "tests", list(scopes))
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def buyer_writes(pair, body: str = "質問です", subject: str = "") -> Message:
    buyer = pair.buyer.email
    subject = subject or f"注文 {pair.order.order_id} について"
    receipt = inbound.receive(compose(buyer, pair.seller_relay, subject, body), buyer, [pair.seller_relay])
    return Message.objects.get(pk=receipt.message_ids[0])


def post_json(client, url: str, body: dict, auth: dict[str, str], **headers: str):
    return client.post(url, body, content_type="application/json", **auth, **headers)


def test_the_list_pages_by_cursor_and_searches_like_the_web(client):
    pair = make_pair()
    for n in range(7):
        buyer_writes(pair, f"質問 {n}")
    other_order = make_order(pair.seller, make_buyer("hanako@example.jp", "佐藤 花子"), asin="B0AAAAAAAA")
    from marketmsg.addresses import services

    other_relay = services.relay_pair(other_order.buyer, pair.seller).seller_address.address
    inbound.receive(
        compose("hanako@example.jp", other_relay, f"注文 {other_order.order_id}", "別件"),
        "hanako@example.jp",
        [other_relay],
    )
    auth = token_for(scopes=("read",))
    seen: list[int] = []
    cursor = ""
    while True:
        page = client.get("/api/v1/messages", {"limit": 3, "cursor": cursor}, **auth).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    everything = list(
        Message.objects.filter(author=Message.Author.BUYER)
        .order_by("-created_at", "-id")
        .values_list("id", flat=True)
    )
    assert seen == everything and len(seen) == 8  # every message once, newest first
    found = client.get("/api/v1/messages", {"q": other_order.order_id}, **auth).json()["items"]
    assert [(i["order_id"], i["buyer_name"], i["asins"]) for i in found] == [
        (other_order.order_id, "佐藤 花子", ["B0AAAAAAAA"])
    ]
    assert client.get("/api/v1/messages", {"q": "B0AAAAAAAA"}, **auth).json()["items"][0]["order_id"] == (
        other_order.order_id
    )
    assert client.get("/api/v1/messages", {"box": "sent"}, **auth).json()["items"] == []
    assert (
        len(client.get("/api/v1/messages", {"status": "awaiting", "period": "today"}, **auth).json()["items"])
        == 8
    )
    bad = client.get("/api/v1/messages", {"cursor": "not-a-cursor"}, **auth)
    assert bad.status_code == 422 and bad.json()["field"] == "cursor"
    assert client.get("/api/v1/messages", {"limit": 0}, **auth).status_code == 422
    noted = client.get("/api/v1/messages", {"period": "custom", "from": "2026-13-01"}, **auth).json()
    assert noted["notes"]  # an unreadable date is ignored with a note, as on the web


def test_a_conversation_reads_with_its_order_and_other_shops_are_404(client):
    pair = make_pair()
    question = buyer_writes(pair, "在庫はありますか")
    auth = token_for()
    body = client.get(f"/api/v1/conversations/{question.conversation_id}", **auth).json()
    assert body["order_id"] == pair.order.order_id and body["items"][0]["asin"] == "B0C1X2Y3Z4"
    assert body["buyer_relay_address"] == pair.buyer_relay
    [message] = body["messages"]
    assert (
        message["text"].startswith("在庫はありますか")
        and message["needs_reply"]
        and message["author"] == "buyer"
    )
    other = make_pair(
        make_seller("Other shop", "owner@other.example.jp"), make_buyer("jiro@example.jp", "次郎")
    )
    foreign = buyer_writes(other)
    answers = [
        client.get(f"/api/v1/conversations/{foreign.conversation_id}", **auth),
        post_json(client, f"/api/v1/messages/{foreign.pk}/no-reply-needed", {}, auth),
        post_json(client, f"/api/v1/conversations/{foreign.conversation_id}/replies", {"text": "x"}, auth),
        post_json(client, f"/api/v1/orders/{other.order.order_id}/messages", {"text": "x"}, auth),
    ]
    assert [a.status_code for a in answers] == [404] * 4
    assert all(a["Content-Type"] == "application/problem+json" for a in answers)
    assert not Message.objects.filter(author=Message.Author.SELLER).exists()


def test_mark_no_reply_needed_one_message_or_a_conversation(client):
    pair = make_pair()
    first, second = buyer_writes(pair, "一"), buyer_writes(pair, "二")
    auth = token_for()
    assert post_json(client, f"/api/v1/messages/{first.pk}/no-reply-needed", {}, auth).json() == {"marked": 1}
    assert post_json(client, f"/api/v1/messages/{first.pk}/no-reply-needed", {}, auth).json() == {"marked": 0}
    url = f"/api/v1/conversations/{second.conversation_id}/no-reply-needed"
    assert post_json(client, url, {}, auth).json() == {"marked": 1}
    assert not Message.objects.filter(needs_reply=True).exists()


def test_a_reply_with_files_is_sent_and_its_file_downloads(client, sink):
    pair = make_pair()
    question = buyer_writes(pair)
    auth = token_for()
    upload = SimpleUploadedFile("photo.png", files.image("PNG"), content_type="image/png")
    answer = client.post(
        f"/api/v1/conversations/{question.conversation_id}/replies",
        {"text": "写真です", "files": [upload]},
        **auth,
    )
    assert answer.status_code == 201, answer.content
    sent = answer.json()
    [attachment] = sent["attachments"]
    assert attachment["filename"] == "photo.png" and sent["has_attachments"]
    download = client.get(attachment["url"], **auth)
    assert download.status_code == 200 and b"".join(download.streaming_content).startswith(b"\x89PNG")
    assert "attachment" in download["Content-Disposition"]
    refused = client.post(
        f"/api/v1/conversations/{question.conversation_id}/replies",
        {"text": "x", "files": [SimpleUploadedFile("a.pdf", files.exe())]},
        **auth,
    )
    assert refused.status_code == 422 and refused.json()["field"] == "files"
    assert deliver_all() == 2
    other = make_pair(
        make_seller("Other shop", "owner@other.example.jp"), make_buyer("jiro@example.jp", "次郎")
    )
    assert client.get(attachment["url"], **token_for("owner@other.example.jp")).status_code == 404
    del other


def test_templates_can_be_listed_created_read_changed_and_deleted(client):
    make_pair()
    auth = token_for()
    created = post_json(
        client, "/api/v1/templates", {"name": "発送連絡", "text": "{buyer_name} 様、発送しました。"}, auth
    )
    assert created.status_code == 201
    template_id = created.json()["id"]
    assert [t["name"] for t in client.get("/api/v1/templates", **auth).json()] == ["発送連絡"]
    unknown = post_json(client, "/api/v1/templates", {"name": "x", "text": "{nickname} 様"}, auth)
    assert unknown.status_code == 422 and unknown.json()["field"] == "text"
    twice = post_json(client, "/api/v1/templates", {"name": "発送連絡", "text": "別"}, auth)
    assert twice.status_code == 422 and twice.json()["field"] == "name"
    changed = client.put(
        f"/api/v1/templates/{template_id}",
        {"name": "発送連絡", "text": "発送しました。"},
        "application/json",
        **auth,
    )
    assert changed.status_code == 200 and changed.json()["text"] == "発送しました。"
    assert client.delete(f"/api/v1/templates/{template_id}", **auth).status_code == 204
    assert not Template.objects.exists()
    assert client.get(f"/api/v1/templates/{template_id}", **auth).status_code == 404


def test_only_the_owner_approves_or_blocks_alternate_addresses(client):
    pair = make_pair()
    addresses.set_sender_state(pair.seller, "staff@sakura-books.example.jp", SenderAddress.State.UNKNOWN)
    helper = User.objects.create_user(
        "helper@sakura-books.example.jp", PASSWORD, name="Helper", role=User.Role.SELLER
    )
    SellerUser.objects.create(account=pair.seller, user=helper, is_owner=False)
    owner, member = token_for(), token_for("helper@sakura-books.example.jp")
    listed = client.get("/api/v1/addresses", **member).json()
    unknown = next(a for a in listed if a["email"] == "staff@sakura-books.example.jp")
    assert unknown["state"] == "unknown"
    refused = post_json(client, f"/api/v1/addresses/{unknown['id']}/approve", {}, member)
    assert refused.status_code == 403 and refused.json()["code"] == "owner_only"
    approved = post_json(client, f"/api/v1/addresses/{unknown['id']}/approve", {}, owner)
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    blocked = post_json(client, f"/api/v1/addresses/{unknown['id']}/block", {}, owner)
    assert blocked.json()["state"] == "blocked"
    assert SenderAddress.objects.get(pk=unknown["id"]).history.count() == 3  # unknown → approved → blocked


def test_a_retried_send_with_the_same_idempotency_key_sends_once(client, sink):
    pair = make_pair()
    question = buyer_writes(pair)
    auth = token_for()
    url = f"/api/v1/conversations/{question.conversation_id}/replies"
    first = post_json(client, url, {"text": "発送しました"}, auth, HTTP_IDEMPOTENCY_KEY="k-1")
    again = post_json(client, url, {"text": "発送しました"}, auth, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and again["Idempotent-Replayed"] == "true"
    assert Message.objects.filter(author=Message.Author.SELLER).count() == 1
    other = post_json(client, url, {"text": "別の文"}, auth, HTTP_IDEMPOTENCY_KEY="k-1")
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    # A blocked send is an answer too: the retry gets the same 422 and stores nothing more.
    blocked = post_json(client, url, {"text": "www.example.com"}, auth, HTTP_IDEMPOTENCY_KEY="k-2")
    retried = post_json(client, url, {"text": "www.example.com"}, auth, HTTP_IDEMPOTENCY_KEY="k-2")
    assert blocked.status_code == retried.status_code == 422 and blocked.json() == retried.json()
    assert Message.objects.filter(state=Message.State.BLOCKED).count() == 1
    assert deliver_all() == 2


def test_over_the_rate_limit_the_api_answers_429_with_retry_after(client, settings, monkeypatch):
    make_pair()
    settings.API_RATE_LIMIT = 3
    monkeypatch.setattr(shared, "now", lambda: 1_000_000.0)  # no token refills meanwhile
    auth = token_for()
    answers = [client.get("/api/v1/templates", **auth) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert int(answers[-1]["Retry-After"]) == 20 and answers[-1].json()["code"] == "rate_limited"
    other = token_for()  # the limit is per token
    assert client.get("/api/v1/templates", **other).status_code == 200

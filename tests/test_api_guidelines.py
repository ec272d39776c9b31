"""The API's part of the communication guidelines (SPEC F10, F12): the dry-run check, and sends that
are blocked with 422 and the findings; tokens made on the settings page, scopes and isolation."""

from __future__ import annotations

import re

import pytest

from marketmsg.accounts.models import ApiToken
from marketmsg.conversations.models import Message
from marketmsg.relay import inbound
from tests.support.delivery import deliver_all
from tests.support.mail import compose
from tests.support.personas import PASSWORD, make_buyer, make_pair, make_seller

OWNER = "owner@sakura-books.example.jp"
BUYER = "taro.yamada@example.jp"
PROBLEM = "application/problem+json"

pytestmark = [pytest.mark.db, pytest.mark.django_db]


def token_from_settings_page(client, scopes: tuple[str, ...] = ("read", "write")) -> str:
    assert client.login(username=OWNER, password=PASSWORD)
    page = client.post("/account/tokens/", {"name": "help desk", "scopes": list(scopes)})
    secret = re.search(r'<code id="new-token">([^<]+)</code>', page.content.decode())
    assert secret, page.content.decode()[:2000]
    client.logout()
    return secret.group(1)


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def buyer_question(pair) -> Message:
    receipt = inbound.receive(
        compose(BUYER, pair.seller_relay, body="在庫はありますか？"), BUYER, [pair.seller_relay]
    )
    return Message.objects.get(pk=receipt.message_ids[0])


def test_a_token_is_shown_once_and_stored_only_as_a_digest(client):
    make_pair()
    secret = token_from_settings_page(client)
    [token] = ApiToken.objects.all()
    assert secret not in (token.token_digest, token.shown_prefix) and secret.startswith(token.shown_prefix)
    assert client.login(username=OWNER, password=PASSWORD)
    assert secret not in client.get("/account/tokens/").content.decode()


def test_the_dry_run_check_lists_findings_and_sends_nothing(client):
    pair = make_pair()
    token = token_from_settings_page(client, ("read",))
    answer = client.post(
        "/api/v1/guidelines/check",
        {"text": "詳しくは www.example-shop.jp へ。10%オフのクーポンもあります"},
        content_type="application/json",
        **bearer(token),
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["blocked"] is True
    found = {(f["rule"], f["text"]) for f in body["findings"]}
    assert {("external_link", "www.example-shop.jp"), ("promotion", "クーポン")} <= found
    assert {rule for rule, _ in found} == {"external_link", "promotion"}
    assert all(f["explanation_ja"] and f["explanation_en"] for f in body["findings"])
    assert not Message.objects.filter(author=Message.Author.SELLER).exists()
    ok = client.post(
        "/api/v1/guidelines/check",
        {"text": "本日発送いたします。"},
        content_type="application/json",
        **bearer(token),
    )
    assert ok.json() == {"blocked": False, "findings": []}
    del pair


def test_a_blocked_api_reply_is_422_with_findings_and_kept_as_blocked(client, sink):
    pair = make_pair()
    question = buyer_question(pair)
    token = token_from_settings_page(client)
    url = f"/api/v1/conversations/{question.conversation_id}/replies"
    answer = client.post(
        url, {"text": "LINE ID: sakura_books までどうぞ"}, content_type="application/json", **bearer(token)
    )
    assert answer.status_code == 422 and answer["Content-Type"] == PROBLEM
    problem = answer.json()
    assert problem["code"] == "guidelines_blocked" and problem["status"] == 422
    assert [f["rule"] for f in problem["findings"]] == ["contact_sns"]
    [blocked] = Message.objects.filter(author=Message.Author.SELLER)
    assert blocked.state == Message.State.BLOCKED and blocked.channel == Message.Channel.API
    sent = client.post(url, {"text": "在庫ございます。"}, content_type="application/json", **bearer(token))
    assert sent.status_code == 201 and sent.json()["state"] == "relayed" and sent.json()["channel"] == "api"
    assert deliver_all() == 2  # the buyer's question and the answer


def test_contact_buyer_through_the_api_respects_the_opt_out(client):
    pair = make_pair()
    pair.buyer.declines_unprompted = True
    pair.buyer.save()
    token = token_from_settings_page(client)
    url = f"/api/v1/orders/{pair.order.order_id}/messages"
    answer = client.post(url, {"text": "セール情報です"}, content_type="application/json", **bearer(token))
    assert answer.status_code == 422
    answer = client.post(
        url, {"text": "ご案内です", "reason": "other"}, content_type="application/json", **bearer(token)
    )
    assert answer.status_code == 422 and answer.json()["code"] == "buyer_opted_out"
    answer = client.post(
        url,
        {"text": "配送が遅れております。", "reason": "delivery"},
        content_type="application/json",
        **bearer(token),
    )
    assert answer.status_code == 201, answer.content
    answer = client.post(
        url, {"text": "x", "reason": "bogus"}, content_type="application/json", **bearer(token)
    )
    assert answer.status_code == 422 and answer.json()["field"] == "reason"


def test_errors_are_problem_details_scopes_and_isolation_hold(client):
    pair = make_pair()
    question = buyer_question(pair)
    read_only = token_from_settings_page(client, ("read",))
    url = f"/api/v1/conversations/{question.conversation_id}/replies"
    body = {"text": "在庫ございます。"}
    no_token = client.post(url, body, content_type="application/json")
    assert no_token.status_code == 401 and no_token["Content-Type"] == PROBLEM
    assert client.post(url, body, content_type="application/json", **bearer("mm_wrong")).status_code == 401
    forbidden = client.post(url, body, content_type="application/json", **bearer(read_only))
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "scope_missing"
    writer = token_from_settings_page(client, ("read", "write"))
    invalid = client.post(url, {"txt": "x"}, content_type="application/json", **bearer(writer))
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["field"] == "text"
    assert not Message.objects.filter(author=Message.Author.SELLER).exists()
    # Another shop's conversation does not exist for this token.
    other = make_pair(
        make_seller("Other shop", "owner@other.example.jp"), make_buyer("jiro@example.jp", "次郎")
    )
    foreign = buyer_question_for(other)
    check = client.post(
        "/api/v1/guidelines/check",
        {"text": "x", "conversation_id": foreign.conversation_id},
        content_type="application/json",
        **bearer(read_only),
    )
    assert check.status_code == 404 and check["Content-Type"] == PROBLEM
    # A revoked token stops working at once.
    token = ApiToken.objects.get(scopes="read")
    assert client.login(username=OWNER, password=PASSWORD)
    client.post(f"/account/tokens/{token.pk}/revoke/")
    assert (
        client.post(
            "/api/v1/guidelines/check", {"text": "x"}, content_type="application/json", **bearer(read_only)
        ).status_code
        == 401
    )


def buyer_question_for(pair) -> Message:
    buyer = pair.buyer.email
    receipt = inbound.receive(compose(buyer, pair.seller_relay, body="質問です"), buyer, [pair.seller_relay])
    return Message.objects.get(pk=receipt.message_ids[0])


def test_the_openapi_document_and_local_docs_are_served(client):
    schema = client.get("/api/v1/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/guidelines/check" in paths and "/api/v1/conversations/{conversation_id}/replies" in paths
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "cdn." not in html and "unpkg" not in html and "/static/ninja/" in html

"""The operator API (marketplace → marketmsg): credentials and scopes, batch upserts answered per
record, one address as buyer and seller user, a buyer's new address keeping their relay
addresses, and posting into a conversation as the marketplace."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from marketmsg.accounts.models import ApiToken, Buyer, SellerAccount, SellerUser, User
from marketmsg.addresses import services as addresses
from marketmsg.addresses.models import RelayAddress, SenderAddress
from marketmsg.conversations.models import Message
from marketmsg.delivery.models import Delivery
from marketmsg.integration.models import OperatorCredential
from marketmsg.orders.models import Order, OrderItem, Product
from tests.support.personas import PASSWORD, make_pair

pytestmark = [pytest.mark.db, pytest.mark.django_db]
BASE = "/api/operator/v1"


def credential(*scopes: str) -> dict[str, str]:
    _found, secret = OperatorCredential.issue(
        "tests", list(scopes) or ["catalog", "messages", "webhooks", "read"]
    )
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def post(client: Client, path: str, body: Any, auth: dict[str, str]) -> Any:
    return client.post(BASE + path, body, content_type="application/json", **auth)


SELLER = {
    "external_id": "shop-42",
    "name": "青空書店",
    "users": [
        {"email": "Owner@Aozora.example", "name": "青空 太郎", "owner": True},
        {"email": "staff@aozora.example", "name": "Staff", "language": "en"},
    ],
}
BUYER = {"external_id": "cust-7", "email": "hanako@docomo.ne.jp", "name": "山田 花子"}


def order(number: str = "503-1234567-7654321", **fields: Any) -> dict[str, Any]:
    return {
        "order_id": number,
        "seller": "shop-42",
        "buyer": "cust-7",
        "ordered_at": "2026-12-01T09:30:00+09:00",
        "status": "shipped",
        "tracking": {"carrier": "ヤマト運輸", "number": "1234-5678-9012"},
        "items": [{"product_id": "B0C1X2Y3Z4", "title": "文庫本", "quantity": 2}],
        **fields,
    }


def test_a_marketplace_is_built_through_the_api_and_sending_again_changes_nothing(client):
    auth = credential()
    for path, records in (("/sellers", [SELLER]), ("/buyers", [BUYER]), ("/orders", [order()])):
        answer = post(client, path, {"records": records}, auth)
        assert answer.status_code == 200, answer.content
        assert answer.json()["counts"] == {"created": 1, "updated": 0, "unchanged": 0, "refused": 0}
        again = post(client, path, {"records": records}, auth).json()
        assert (
            again["counts"]["unchanged"] == 1
            and again["results"][0]["id"] == answer.json()["results"][0]["id"]
        )
    shop = SellerAccount.objects.get(external_id="shop-42")
    owner = SellerUser.objects.get(account=shop, is_owner=True).user
    assert owner.email == "owner@aozora.example" and owner.language == "ja"
    assert User.objects.get(email="staff@aozora.example").language == "en"
    assert set(SenderAddress.objects.filter(account=shop).values_list("state", flat=True)) == {"approved"}
    buyer = Buyer.objects.get(external_id="cust-7")
    assert buyer.is_mobile  # decided from the carrier domain
    stored = Order.objects.get(order_id="503-1234567-7654321")
    assert (stored.status, stored.tracking_carrier, stored.shipped_at is not None) == (
        "shipped",
        "ヤマト運輸",
        True,
    )
    assert list(stored.items.values_list("asin", "quantity")) == [("B0C1X2Y3Z4", 2)]
    # An order item keeps its own title; the catalog holds only what was upserted as a product.
    assert not Product.objects.filter(product_id="B0C1X2Y3Z4").exists()
    # A status change is an update; the time comes from the marketplace when it gives one.
    changed = post(
        client, "/orders", {"records": [order(status="delivered", delivered_at="2026-12-03T10:00:00Z")]}, auth
    ).json()
    assert changed["counts"]["updated"] == 1
    stored.refresh_from_db()
    assert stored.status == "delivered" and stored.delivered_at.isoformat().startswith("2026-12-03T10:00")
    read = client.get(f"{BASE}/orders/503-1234567-7654321", **auth).json()
    assert read["status"] == "delivered" and read["items"] == order()["items"] and read["seller"] == "shop-42"
    assert client.get(f"{BASE}/buyers/cust-7", **auth).json()["email"] == "hanako@docomo.ne.jp"
    assert client.get(f"{BASE}/sellers/shop-42", **auth).json()["users"][0]["owner"] is True
    assert client.get(f"{BASE}/sellers/nobody", **auth).status_code == 404


def test_products_are_created_updated_and_refused_per_record(client):
    auth = credential("catalog")
    records = [
        {"product_id": "B0C1X2Y3Z4", "title": "文庫本 星の王子さま"},
        {"product_id": "not an id", "title": "x"},
        {"product_id": "B0AAAABBBB", "title": ""},
    ]
    first = post(client, "/products", {"records": records}, auth).json()
    assert first["counts"] == {"created": 1, "updated": 0, "unchanged": 0, "refused": 2}
    assert [r["result"] for r in first["results"]] == ["created", "refused", "refused"]
    assert first["results"][1]["errors"][0]["field"] == "product_id"
    renamed = {"product_id": "B0C1X2Y3Z4", "title": "文庫本 星の王子さま（新版）"}
    again = post(client, "/products", {"records": [records[0], renamed]}, auth).json()
    assert again["results"][1]["errors"][0]["message"].startswith("appears twice")
    updated = post(client, "/products", {"records": [renamed]}, auth).json()
    assert updated["counts"]["updated"] == 1 and updated["results"][0]["id"] == first["results"][0]["id"]
    assert Product.objects.get(product_id="B0C1X2Y3Z4").title == "文庫本 星の王子さま（新版）"


def test_a_batch_of_a_thousand_answers_per_record_and_a_refused_one_changes_nothing(client):
    auth = credential()
    post(client, "/sellers", {"records": [SELLER]}, auth)
    buyers = [
        {"external_id": f"c{n}", "email": f"buyer{n}@example.jp", "name": f"買い手 {n}"} for n in range(1000)
    ]
    buyers[500] = {"external_id": "c500", "email": "not an address", "name": ""}
    answer = post(client, "/buyers", {"records": buyers}, auth).json()
    assert answer["counts"] == {"created": 999, "updated": 0, "unchanged": 0, "refused": 1}
    refused = answer["results"][500]
    assert refused["key"] == "c500" and refused["result"] == "refused"
    assert {e["field"] for e in refused["errors"]} == {"email", "name"}
    assert not Buyer.objects.filter(external_id="c500").exists()
    orders = [order(f"503-{n:07d}-0000001", buyer=f"c{n}") for n in range(1000)]
    orders[500] = order("503-0000500-0000001", buyer="c0")
    orders[3] = order("503-0000003-0000001", buyer="c500")  # that buyer was refused
    orders[4] = order("503-0000004-0000001", ordered_at="yesterday")
    answer = post(client, "/orders", {"records": orders}, auth).json()
    assert answer["counts"]["created"] == 998 and answer["counts"]["refused"] == 2
    assert answer["results"][3]["errors"][0]["field"] == "buyer"
    assert answer["results"][4]["errors"][0]["field"] == "ordered_at"
    assert not Order.objects.filter(order_id__in=["503-0000003-0000001", "503-0000004-0000001"]).exists()
    assert OrderItem.objects.count() == 998


def test_one_address_can_be_a_buyer_and_a_seller_user(client):
    auth = credential()
    post(client, "/sellers", {"records": [SELLER]}, auth)
    shopper = {"external_id": "cust-owner", "email": "owner@aozora.example", "name": "青空 太郎"}
    assert post(client, "/buyers", {"records": [shopper]}, auth).json()["counts"]["created"] == 1
    user = User.objects.get(email="owner@aozora.example")
    assert user.buyer.external_id == "cust-owner" and user.seller_membership.account.external_id == "shop-42"
    # Another shop may not take the same person as its user.
    other = {**SELLER, "external_id": "shop-43", "users": [{"email": "owner@aozora.example", "owner": True}]}
    refused = post(client, "/sellers", {"records": [other]}, auth).json()["results"][0]
    assert refused["result"] == "refused" and "another shop" in refused["errors"][0]["message"]
    assert not SellerAccount.objects.filter(external_id="shop-43").exists()
    # Signed in, they reach both the message center and their own orders as a buyer.
    assert not user.has_usable_password()  # they sign in through the marketplace; here, a password
    user.set_password(PASSWORD)
    user.save()
    browser = Client()
    assert browser.login(email="owner@aozora.example", password=PASSWORD)
    assert browser.get("/messages/").status_code == 200
    assert browser.get("/my/orders/").status_code == 200


def test_a_buyers_new_address_keeps_their_relay_addresses(client):
    auth = credential()
    post(client, "/sellers", {"records": [SELLER]}, auth)
    post(client, "/buyers", {"records": [BUYER]}, auth)
    buyer = Buyer.objects.get(external_id="cust-7")
    pair = addresses.relay_pair(buyer, SellerAccount.objects.get(external_id="shop-42"))
    moved = {**BUYER, "email": "hanako.new@example.jp"}
    assert post(client, "/buyers", {"records": [moved]}, auth).json()["counts"]["updated"] == 1
    buyer.refresh_from_db()
    assert buyer.email == "hanako.new@example.jp" and not buyer.is_mobile
    assert set(RelayAddress.objects.filter(buyer=buyer).values_list("local_part", "domain")) == {
        (pair.buyer_address.local_part, pair.buyer_address.domain),
        (pair.seller_address.local_part, pair.seller_address.domain),
    }
    # Someone else's address is refused, and nothing changes.
    post(
        client,
        "/buyers",
        {"records": [{"external_id": "cust-8", "email": "jiro@example.jp", "name": "次郎"}]},
        auth,
    )
    taken = post(client, "/buyers", {"records": [{**BUYER, "email": "jiro@example.jp"}]}, auth).json()
    assert taken["results"][0]["result"] == "refused"
    buyer.refresh_from_db()
    assert buyer.email == "hanako.new@example.jp"


def test_credentials_scopes_and_seller_tokens(client):
    pair = make_pair()
    _token, seller_secret = ApiToken.issue(pair.seller.members.get().user, "shop", ["read", "write"])
    seller_auth = {"HTTP_AUTHORIZATION": f"Bearer {seller_secret}"}
    answer = post(client, "/buyers", {"records": [BUYER]}, seller_auth)
    assert answer.status_code == 401 and answer["Content-Type"] == "application/problem+json"
    assert "operator credential" in answer.json()["detail"]
    read_only = credential("read")
    answer = post(client, "/buyers", {"records": [BUYER]}, read_only)
    assert answer.status_code == 403 and "catalog" in answer.json()["detail"]
    operator = credential("catalog")
    assert client.get("/api/v1/messages", **operator).status_code == 401  # never a seller token
    OperatorCredential.objects.update(revoked_at="2026-12-01T00:00:00Z")
    assert post(client, "/buyers", {"records": [BUYER]}, operator).status_code == 401
    secret = operator["HTTP_AUTHORIZATION"].split()[1]
    stored = OperatorCredential.objects.get(shown_prefix=secret[:12])
    assert secret not in stored.token_digest and len(stored.token_digest) == 64  # hashed at rest


def test_rate_limited_per_credential(client, settings):
    settings.OPERATOR_RATE_LIMIT = 3
    auth = credential()
    answers = [post(client, "/products", {"records": []}, auth).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]


def test_too_many_records_and_broken_json_are_explained(client):
    auth = credential()
    big = post(client, "/products", {"records": [{"product_id": "B0C1X2Y3Z4", "title": "x"}] * 5001}, auth)
    assert big.status_code == 413 and "5000" in big.json()["detail"]
    broken = client.post(BASE + "/products", "{", content_type="application/json", **auth)
    assert broken.status_code == 422 and broken.json()["code"] == "invalid_json"


def test_the_marketplace_posts_a_notice_and_customer_service_answers(client, settings):
    auth = credential()
    post(client, "/sellers", {"records": [SELLER]}, auth)
    post(client, "/buyers", {"records": [BUYER]}, auth)
    post(client, "/orders", {"records": [order()]}, auth)
    notice = {
        "kind": "notice",
        "to": "buyer",
        "subject": "配送遅延のお知らせ",
        "text": "台風のため遅れます。",
    }
    answer = post(client, "/orders/503-1234567-7654321/notices", notice, auth)
    assert answer.status_code == 201, answer.content
    message = Message.objects.get(pk=answer.json()["message_id"])
    assert (message.author, message.is_auto) == ("marketplace", True)
    assert list(Delivery.objects.filter(message=message).values_list("recipient", flat=True)) == [
        "hanako@docomo.ne.jp"
    ]
    cs = {**notice, "kind": "customer_service", "text": "ご不便をおかけしております。"}
    message = Message.objects.get(
        pk=post(client, "/orders/503-1234567-7654321/notices", cs, auth).json()["message_id"]
    )
    assert message.is_auto is False and message.conversation_id == answer.json()["conversation_id"]
    # Marketplace messages stay out of the seller's lists.
    seller = Client()
    owner = User.objects.get(email="owner@aozora.example")
    owner.set_password(PASSWORD)
    owner.save()
    seller.login(email=owner.email, password=PASSWORD)
    page = seller.get("/messages/?box=sent").content.decode() + seller.get("/messages/").content.decode()
    assert "配送遅延" not in page
    wrong = post(client, "/orders/503-1234567-7654321/notices", {**cs, "to": "seller"}, auth)
    assert wrong.status_code == 422 and wrong.json()["field"] == "to"
    missing = post(client, "/orders/503-9999999-7654321/notices", notice, auth)
    assert missing.status_code == 404


def test_subscriptions_through_the_api(client):
    auth = credential("webhooks")
    made = post(
        client, "/webhooks/subscriptions", {"name": "shop", "url": "https://shop.example/hooks"}, auth
    )
    assert made.status_code == 201 and made.json()["secret"].startswith("whsec_")
    sid = made.json()["id"]
    bad = post(client, "/webhooks/subscriptions", {"name": "x", "url": "ftp://x", "events": ["nope"]}, auth)
    assert bad.status_code == 422 and bad.json()["field"] == "url"
    listed = client.get(BASE + "/webhooks/subscriptions", **auth).json()
    assert listed[0]["state"] == "active" and listed[0]["pending"] == 0
    patched = client.patch(
        f"{BASE}/webhooks/subscriptions/{sid}",
        {"state": "disabled", "events": ["message.received"]},
        content_type="application/json",
        **auth,
    ).json()
    assert patched["state"] == "disabled" and patched["events"] == ["message.received"]
    rotated = post(client, f"/webhooks/subscriptions/{sid}/rotate-secret", {}, auth).json()
    assert rotated["secret"] != made.json()["secret"] and rotated["previous_valid_until"]
    assert client.get(f"{BASE}/webhooks/subscriptions/{sid}/deliveries", **auth).json() == []
    assert post(client, "/products", {"records": []}, auth).status_code == 403


def test_a_seller_users_external_id_is_kept_read_back_and_never_given_twice(client):
    auth = credential()
    shop = {
        "external_id": "shop-9",
        "name": "楓商店",
        "users": [{"email": "owner@kaede.example", "owner": True, "external_id": "acct-9"}],
    }
    assert post(client, "/sellers", {"records": [shop]}, auth).json()["counts"]["created"] == 1
    assert User.objects.get(email="owner@kaede.example").external_id == "acct-9"
    assert client.get(f"{BASE}/sellers/shop-9", **auth).json()["users"][0]["external_id"] == "acct-9"
    other = {
        "external_id": "shop-10",
        "name": "柊商店",
        "users": [{"email": "owner@hiiragi.example", "owner": True, "external_id": "acct-9"}],
    }
    answer = post(client, "/sellers", {"records": [other]}, auth).json()
    assert answer["counts"]["refused"] == 1
    assert "already names another person" in answer["results"][0]["errors"][0]["message"]
    assert not SellerAccount.objects.filter(external_id="shop-10").exists()
    renamed = {**shop, "users": [{**shop["users"][0], "external_id": "acct-99"}]}
    assert post(client, "/sellers", {"records": [renamed]}, auth).json()["counts"]["updated"] == 1
    assert User.objects.get(email="owner@kaede.example").external_id == "acct-99"

"""The operator's admin at /admin/: every integration model has a page, nothing can be deleted,
a credential's secret is shown once and stored hashed, and a webhook delivery can be replayed."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from marketmsg.accounts.models import User, digest
from marketmsg.integration.models import OperatorCredential
from marketmsg.webhooks.models import Event, Subscription, WebhookDelivery
from tests.support.personas import PASSWORD, make_pair

pytestmark = [pytest.mark.db, pytest.mark.django_db]
PAGES = (
    "accounts/selleraccount",
    "accounts/buyer",
    "accounts/user",
    "orders/order",
    "orders/product",
    "integration/operatorcredential",
    "integration/importrun",
    "webhooks/subscription",
    "webhooks/webhookdelivery",
    "webhooks/event",
    "retention/purgerun",
    "retention/erasure",
)


@pytest.fixture
def operator() -> Client:
    User.objects.create_superuser("operator@marketplace.example", PASSWORD, name="運営者")
    client = Client()
    assert client.login(email="operator@marketplace.example", password=PASSWORD)
    return client


def test_every_page_opens_and_nothing_can_be_deleted(operator):
    pair = make_pair()
    for page in PAGES:
        assert operator.get(f"/admin/{page}/").status_code == 200, page
    assert operator.get(f"/admin/orders/order/{pair.order.pk}/change/").status_code == 200
    assert operator.get(f"/admin/orders/order/{pair.order.pk}/delete/").status_code == 403
    listing = operator.get("/admin/orders/order/").content.decode()
    assert "delete_selected" not in listing


def test_a_seller_or_buyer_gets_no_admin():
    pair = make_pair()
    client = Client()
    client.login(email=pair.buyer.email, password=PASSWORD)
    assert client.get("/admin/").status_code == 302  # to the admin's sign-in


def test_a_credential_is_shown_once_and_stored_hashed(operator):
    answer = operator.post(
        "/admin/integration/operatorcredential/add/",
        {"name": "order system", "scope_list": ["catalog", "read"]},
        follow=True,
    )
    page = answer.content.decode()
    secret = re.search(r"mmop_[A-Za-z0-9_-]{20,}", page)
    assert secret is not None
    stored = OperatorCredential.objects.get(name="order system")
    assert stored.token_digest == digest(secret.group(0)) and stored.scopes == "catalog read"
    assert (
        secret.group(0)
        not in operator.get(f"/admin/integration/operatorcredential/{stored.pk}/change/").content.decode()
    )
    operator.post(
        "/admin/integration/operatorcredential/",
        {"action": "revoke", "_selected_action": [stored.pk]},
    )
    stored.refresh_from_db()
    assert stored.revoked_at is not None


def test_replay_and_enable_from_the_admin(operator):
    subscription = Subscription.objects.create(
        name="shop", url="https://shop.example/hooks", state="disabled"
    )
    event = Event.objects.create(
        event_id="evt_1", type="message.received", ordering_key="conversation:1", data={}
    )
    delivery = WebhookDelivery.objects.create(
        event=event, subscription=subscription, ordering_key="conversation:1", state="delivered"
    )
    operator.post("/admin/webhooks/webhookdelivery/", {"action": "replay", "_selected_action": [delivery.pk]})
    delivery.refresh_from_db()
    assert delivery.state == "pending"
    operator.post(
        "/admin/webhooks/subscription/", {"action": "enable", "_selected_action": [subscription.pk]}
    )
    subscription.refresh_from_db()
    assert subscription.state == "active"
    page = operator.get("/admin/webhooks/subscription/").content.decode()
    assert "active / 有効" in page


def test_the_admin_erases_a_buyer_only_after_asking_once_more(operator):
    pair = make_pair()
    url = "/admin/accounts/buyer/"
    chosen = {"action": "erase", "_selected_action": [pair.buyer.pk]}
    asked = operator.post(url, chosen)
    assert asked.status_code == 200 and "元に戻せません" in asked.content.decode()
    assert User.objects.get(pk=pair.buyer.user_id).erased_at is None  # nothing yet
    done = operator.post(url, {**chosen, "confirmed": "yes", "reference": "REQ-9"}, follow=True)
    assert "1 person(s) erased" in done.content.decode()
    erased = User.objects.get(pk=pair.buyer.user_id)
    assert erased.erased_at is not None and erased.email.endswith("@erased.invalid")
    assert operator.get("/admin/retention/erasure/").content.decode().count("REQ-9") == 1

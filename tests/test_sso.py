"""Sign-in through a real OpenID Connect provider (tests/oidc: the `oidc-provider` npm package on
loopback) in Debian's Chromium: sellers and buyers the operator API made, staff from the
operator's own client, deep links, sign-out at the provider, an expired session, and what a
person reads when a sign-in is refused (an unknown subject, a tampered state, a code or token
made for another client)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.sessions.models import Session
from django.test import Client as DjangoClient
from django.utils import timezone
from playwright.sync_api import Page, expect

from marketmsg.accounts.models import Buyer, SellerAccount, User
from marketmsg.conversations.models import Message
from marketmsg.conversations.services import Draft, post_message
from marketmsg.integration.models import OperatorCredential
from marketmsg.sso import backend
from marketmsg.sso.providers import configured
from tests.conftest import free_port
from tests.support.oidc_provider import Client, RunningProvider, code_for, id_token_for, running_provider
from tests.support.personas import make_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
OPERATOR = "/api/operator/v1"


@pytest.fixture(scope="module")
def provider(live_server) -> Iterator[RunningProvider]:  # type: ignore[no-untyped-def]
    base = live_server.url
    clients = [
        Client("marketmsg", "mm-secret-1", f"{base}/sso/marketplace/callback/"),
        Client("marketmsg-staff", "mm-staff-secret-2", f"{base}/sso/staff/callback/"),
        Client("portal", "portal-secret-3", "http://127.0.0.1:9/portal/callback"),  # another app
    ]
    with running_provider(free_port(), clients, [f"{base}/login/"]) as running:
        yield running


@pytest.fixture
def sso(settings, provider: RunningProvider) -> RunningProvider:  # type: ignore[no-untyped-def]
    settings.OIDC_ISSUER = settings.STAFF_OIDC_ISSUER = provider.issuer
    settings.OIDC_CLIENT_ID, settings.OIDC_CLIENT_SECRET = "marketmsg", "mm-secret-1"
    settings.STAFF_OIDC_CLIENT_ID, settings.STAFF_OIDC_CLIENT_SECRET = "marketmsg-staff", "mm-staff-secret-2"
    return provider


def operator_builds_a_marketplace() -> dict[str, Message]:
    """Two shops and a buyer, only through the operator API, and a message in each shop."""
    _, secret = OperatorCredential.issue("tests", ["catalog"])
    api = DjangoClient(HTTP_AUTHORIZATION=f"Bearer {secret}")
    shops = [
        {
            "external_id": "shop-1",
            "name": "青空書店",
            "users": [{"email": "owner@aozora.example", "owner": True, "external_id": "seller-sub-1"}],
        },
        {
            "external_id": "shop-2",
            "name": "緑茶本舗",
            "users": [{"email": "owner@ryokucha.example", "owner": True, "external_id": "seller-sub-2"}],
        },
    ]
    buyers = [{"external_id": "buyer-sub-1", "email": "hanako@example.jp", "name": "山田 花子"}]
    for path, records in (("/sellers", shops), ("/buyers", buyers)):
        answer = api.post(OPERATOR + path, {"records": records}, content_type="application/json")
        assert answer.json()["counts"]["created"] == len(records), answer.content
    buyer = Buyer.objects.get(external_id="buyer-sub-1")
    found = {}
    for shop in ("shop-1", "shop-2"):
        seller = SellerAccount.objects.get(external_id=shop)
        order = make_order(seller, buyer)
        found[shop] = post_message(
            Draft(
                seller=seller,
                buyer=buyer,
                author=Message.Author.BUYER,
                channel=Message.Channel.WEB,
                subject=f"{shop} への質問",
                text="届きましたか？",
                sender_email=buyer.email,
                sender_user=buyer.user,
                order=order,
            )
        )
    return found


def sign_in_at_provider(page: Page, login: str) -> None:
    """The provider's development sign-in form: any login is an account of that name."""
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any password")
    page.click("button[type=submit]")


def test_seller_and_buyer_from_the_operator_api_sign_in_and_see_only_their_own(live_server, browser, sso):
    messages = operator_builds_a_marketplace()
    base = live_server.url
    page = browser.new_context(locale="ja-JP").new_page()
    page.goto(f"{base}/login/")
    page.click("text=マーケットプレイスのアカウントでサインイン")
    assert page.url.startswith(sso.issuer)
    sign_in_at_provider(page, "seller-sub-1")
    page.wait_for_url(f"{base}/messages/**")
    expect(page.locator("body")).to_contain_text("shop-1 への質問")
    expect(page.locator("body")).not_to_contain_text("shop-2 への質問")
    assert page.goto(f"{base}/messages/{messages['shop-2'].conversation_id}/").status == 404
    user = User.objects.get(email="owner@aozora.example")
    assert not user.has_usable_password()  # signed in without a password of ours

    buyer_page = browser.new_context(locale="ja-JP").new_page()
    buyer_page.goto(f"{base}/sso/marketplace/start/")
    sign_in_at_provider(buyer_page, "buyer-sub-1")
    buyer_page.wait_for_url(f"{base}/my/**")
    buyer_page.goto(f"{base}/my/messages/")
    expect(buyer_page.locator("main")).to_contain_text("青空書店")  # both of her conversations
    expect(buyer_page.locator("main")).to_contain_text("緑茶本舗")
    assert buyer_page.goto(f"{base}/messages/").status == 404  # a buyer is not a seller


def test_deep_link_from_the_portal_lands_on_its_page_after_sign_in(live_server, browser, sso, settings):
    messages = operator_builds_a_marketplace()
    base = live_server.url
    target = f"/messages/{messages['shop-1'].conversation_id}/"
    # Passwords on: the portal links through the start URL with the page to land on.
    page = browser.new_context().new_page()
    page.goto(f"{base}/sso/marketplace/start/?next={target}")
    sign_in_at_provider(page, "seller-sub-1")
    page.wait_for_url(f"{base}{target}")
    expect(page.locator("body")).to_contain_text("shop-1 への質問")
    # Passwords off: the page's own URL is enough; sign-in goes straight to the provider.
    settings.PASSWORDS = False
    page = browser.new_context().new_page()
    page.goto(f"{base}{target}")
    assert page.url.startswith(sso.issuer)
    sign_in_at_provider(page, "seller-sub-1")
    page.wait_for_url(f"{base}{target}")
    # A next that points elsewhere is not followed (no open redirect through the sign-in).
    page = browser.new_context().new_page()
    page.goto(f"{base}/sso/marketplace/start/?next=https://evil.example/")
    sign_in_at_provider(page, "seller-sub-1")
    page.wait_for_url(f"{base}/messages/**")


def test_sign_out_ends_the_provider_session_and_an_expired_session_asks_the_provider_again(
    live_server, browser, sso, settings
):
    operator_builds_a_marketplace()
    base = live_server.url
    settings.PASSWORDS = False
    page = browser.new_context(locale="en-US").new_page()
    page.goto(f"{base}/messages/")
    sign_in_at_provider(page, "seller-sub-1")
    page.wait_for_url(f"{base}/messages/**")
    # The session ends (its time ran out): the next page goes to the provider, which still
    # knows the person and sends them straight back, without its form.
    Session.objects.update(expire_date=timezone.now() - timedelta(minutes=1))
    page.goto(f"{base}/performance/")
    page.wait_for_url(f"{base}/performance/")
    assert Session.objects.filter(expire_date__gt=timezone.now()).count() == 1
    # Sign-out: here, then at the provider (it asks to confirm), then back to the sign-in page.
    page.click("text=Sign out")
    page.wait_for_url(f"{sso.issuer}/session/end**")
    page.click("button[autofocus], button[type=submit] >> nth=0")
    page.wait_for_url(f"{base}/login/**")
    page.goto(f"{base}/messages/")
    assert page.url.startswith(sso.issuer)
    expect(page.locator("input[name=login]")).to_be_visible()  # the provider asks again


def test_staff_sign_in_through_the_operators_client_with_a_role_claim(live_server, browser, sso):
    operator_builds_a_marketplace()
    base = live_server.url
    page = browser.new_context(locale="en-US").new_page()
    page.goto(f"{base}/login/")
    page.click("text=Staff sign-in")
    sign_in_at_provider(page, "boss-1")
    page.wait_for_url(f"{base}/")
    boss = User.objects.get(email="boss-1@idp.example")
    assert (boss.role, boss.is_supervisor) == (User.Role.STAFF, True)
    assert page.goto(f"{base}/staff/audit/").status == 200
    # A marketplace seller who tries the staff door gets a page that says why, not an account.
    page = browser.new_context(locale="en-US").new_page()
    page.goto(f"{base}/sso/staff/start/")
    sign_in_at_provider(page, "seller-sub-1")
    page.wait_for_url(f"{base}/sso/staff/callback/**")
    expect(page.locator("h2")).to_have_text("You are not registered as staff")
    assert not User.objects.filter(email="seller-sub-1@idp.example").exists()


def test_an_unknown_subject_gets_a_clear_page_and_no_account(live_server, browser, sso, shots):
    operator_builds_a_marketplace()
    people = User.objects.count()
    page = browser.new_context(locale="ja-JP").new_page()
    page.goto(f"{live_server.url}/sso/marketplace/start/")
    with page.expect_response(lambda r: "/sso/marketplace/callback/" in r.url) as answer:
        sign_in_at_provider(page, "stranger-9")
    assert answer.value.status == 403
    expect(page.locator("h1")).to_have_text("メッセージセンターにまだ登録されていません")
    expect(page.locator("body")).to_contain_text("ID: stranger-9")
    page.screenshot(path=shots / "sso-unknown-subject.png", full_page=True)
    page.goto(f"{live_server.url}/login/")
    page.screenshot(path=shots / "sso-sign-in-page.png", full_page=True)
    assert User.objects.count() == people


def test_a_tampered_state_and_a_code_for_another_client_are_refused(live_server, browser, sso):
    operator_builds_a_marketplace()
    base = live_server.url
    page = browser.new_context(locale="en-US").new_page()
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if r.url.startswith(f"{sso.issuer}/auth?") else None)
    page.goto(f"{base}/sso/marketplace/start/")
    state = parse_qs(urlsplit(asked[0]).query)["state"][0]
    # A state this browser never started.
    answer = page.goto(f"{base}/sso/marketplace/callback/?code=abc&state={state}x")
    assert answer is not None and answer.status == 400
    expect(page.locator("h2")).to_have_text("The sign-in did not match the one started here")
    # The real state, with a code the provider issued to another of its clients: the provider
    # refuses to exchange it for marketmsg, and the person is not signed in.
    portal_code, _ = code_for(sso, sso.clients["portal"], "seller-sub-1")
    answer = page.goto(f"{base}/sso/marketplace/callback/?code={portal_code}&state={state}")
    assert answer is not None and answer.status == 400
    expect(page.locator("h2")).to_have_text("The sign-in could not be completed")
    assert page.goto(f"{base}/messages/").url.startswith(f"{base}/login/")


def test_an_id_token_made_for_another_client_is_refused(sso):
    """The library leaves the audience unchecked; marketmsg checks it (backend._Exchange)."""
    provider = configured("marketplace")
    assert provider is not None
    exchange = backend._Exchange(provider)
    ours = id_token_for(sso, sso.clients["marketmsg"], "seller-sub-1")
    theirs = id_token_for(sso, sso.clients["portal"], "seller-sub-1")
    assert exchange._verify_jws(ours.encode(), exchange.retrieve_matching_jwk(ours))["sub"] == "seller-sub-1"
    with pytest.raises(backend.Refusal) as refused:
        exchange._verify_jws(theirs.encode(), exchange.retrieve_matching_jwk(theirs))
    assert refused.value.reason == "audience"
    forged = re.sub(r"\.[^.]+$", ".AAAA", ours)  # the provider's signature replaced
    with pytest.raises(backend.Refusal) as refused:
        exchange._verify_jws(forged.encode(), exchange.retrieve_matching_jwk(forged))
    assert refused.value.reason == "token"

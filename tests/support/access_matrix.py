"""The access matrix's data — every page and the roles that may see it — and the world it is asked
in: a shop with a clerk, another shop, two buyers, staff and a supervisor, a question with a file,
a mail, a claim. Used by tests/test_access_matrix.py and the hostile-markup test."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from marketmsg.accounts.models import ApiToken, SellerUser, User
from marketmsg.conversations import compose
from marketmsg.conversations.drafts import Draft, Received
from marketmsg.conversations.models import Attachment, Message, Template
from marketmsg.conversations.services import post_message
from marketmsg.orders.models import Claim
from tests.support import files
from tests.support.mail import compose as mail
from tests.support.personas import PASSWORD, make_buyer, make_order, make_pair, make_seller

ROLES = ("anonymous", "buyer", "other_buyer", "seller_user", "owner", "other_seller", "staff", "supervisor")
SELLERS = {"seller_user", "owner", "other_seller"}
SIGNED_IN = set(ROLES) - {"anonymous"}
STAFF = {"staff", "supervisor"}
PARTIES = {"buyer", "seller_user", "owner"}
ANYONE = set(ROLES)
SECRET_TEXT = (
    "箱の角が潰れていました 8214"  # the buyer's question: only its parties (and staff with grounds) see it
)


@dataclass(frozen=True)
class Rule:
    path: str  # with {placeholders} filled from the world
    allowed: set[str]  # roles that get the page (200, or 405 for a POST-only form)
    post_only: bool = False
    public: bool = False  # anonymous gets it too, instead of the sign-in page
    # What an allowed GET answers; the home page sends sellers and buyers on to their start page.
    ok: frozenset[int] = frozenset({200})
    # POST-only forms: the roles whose GET reaches the method check (405) before the object is
    # looked up; the object itself is checked on POST (test_a_denied_post_changes_nothing).
    reach: frozenset[str] = frozenset()


# fmt: off
EXPECTED: dict[str, Rule] = {
    "home": Rule("/", SIGNED_IN, ok=frozenset({200, 302})),
    "healthz": Rule("/healthz", ANYONE, public=True),
    "readyz": Rule("/readyz", ANYONE, public=True),
    "metrics": Rule("/metrics", ANYONE, public=True),
    "login": Rule("/login/", ANYONE, public=True),
    "logout": Rule("/logout/", ANYONE, post_only=True, public=True),
    # Provider sign-in: no provider is set up here, so every door answers 404 (tests/test_sso.py
    # signs in through a real one).
    "sso-start": Rule("/sso/marketplace/start/", set(), public=True),
    "sso-marketplace-callback": Rule("/sso/marketplace/callback/", set(), public=True),
    "sso-staff-callback": Rule("/sso/staff/callback/", set(), public=True),
    # Passwords of our own: anyone may ask for a link; a wrong link is a page that says so.
    "password_reset": Rule("/password/reset/", ANYONE, public=True),
    "password_reset_done": Rule("/password/reset/sent/", ANYONE, public=True),
    "password_reset_confirm": Rule("/password/reset/MQ/wrong-token/", ANYONE, public=True),
    "password_reset_complete": Rule("/password/done/", ANYONE, public=True),
    "accept-invitation": Rule("/invitation/MQ/wrong-token/", ANYONE, public=True),
    "team": Rule("/settings/team/", SELLERS),
    "two-factor": Rule("/account/two-factor/", {"owner", "other_seller"} | STAFF),
    # The code page without a password just checked: the signed-in go home.
    "two-factor-verify": Rule("/login/verify/", SIGNED_IN, ok=frozenset({302})),
    "account": Rule("/account/", SIGNED_IN),
    "api-tokens": Rule("/account/tokens/", SELLERS),
    "api-token-revoke": Rule(
        "/account/tokens/{token}/revoke/", {"owner"}, post_only=True, reach=frozenset(SELLERS)
    ),
    "seller-messages": Rule("/messages/", SELLERS),
    "seller-conversation": Rule("/messages/{conversation}/", {"seller_user", "owner"}),
    "guideline-check": Rule("/messages/check/", SELLERS, post_only=True),
    "quick-no-reply": Rule("/messages/no-reply/", SELLERS, post_only=True),
    "quick-no-reply-undo": Rule("/messages/no-reply/undo/", SELLERS, post_only=True),
    "manage-orders": Rule("/orders/", SELLERS),
    "order-report": Rule("/orders/report/", SELLERS),
    "contact-buyer": Rule("/orders/{order}/contact/", {"seller_user", "owner"}),
    "performance": Rule("/performance/", SELLERS),
    "fba-product-support": Rule("/settings/fba/", SELLERS),
    "sender-lists": Rule("/settings/senders/", SELLERS),
    "templates": Rule("/templates/", SELLERS),
    "template-insert": Rule("/templates/insert/?template={template}&order={order}", {"seller_user", "owner"}),
    "template-edit": Rule("/templates/{template}/", {"seller_user", "owner"}),
    "template-delete": Rule(
        "/templates/{template}/delete/", {"seller_user", "owner"}, post_only=True, reach=frozenset(SELLERS)
    ),
    "buyer-orders": Rule("/my/orders/", {"buyer", "other_buyer"}),
    "contact-seller": Rule("/my/orders/{order}/contact/", {"buyer"}),
    "ask-product": Rule("/my/ask/", {"buyer", "other_buyer"}),
    "buyer-messages": Rule("/my/messages/", {"buyer", "other_buyer"}),
    "buyer-conversation": Rule("/my/messages/{conversation}/", {"buyer"}),
    "attachment": Rule("/files/{attachment}/", {"buyer", "seller_user", "owner"}),
    "staff-attachments": Rule("/staff/attachments/", STAFF),
    "staff-blocked": Rule("/staff/blocked/", STAFF),
    "staff-performance": Rule("/staff/performance/", STAFF),
    "staff-customer-service": Rule("/staff/customer-service/", STAFF),
    "staff-customer-answer": Rule("/staff/customer-service/{cs_message}/answer/", STAFF, post_only=True),
    "staff-claims": Rule("/staff/claims/", STAFF),
    "staff-claim": Rule("/staff/claims/{claim}/", STAFF),
    "staff-claim-decide": Rule("/staff/claims/{claim}/decide/", STAFF, post_only=True),
    "staff-conversation": Rule("/staff/conversations/{conversation}/?claim={claim}", STAFF),
    "staff-raw-message": Rule("/staff/messages/{message}/raw/?claim={claim}", STAFF),
    "staff-attachment-file": Rule("/staff/files/{attachment}/?claim={claim}", STAFF),
    "staff-search": Rule("/staff/search/?q={order}", STAFF),
    "staff-audit": Rule("/staff/audit/", {"supervisor"}),
    "staff-seller-performance": Rule("/staff/performance/{seller}/", STAFF),
    "staff-remove-attachment": Rule("/staff/attachments/{attachment}/remove/", STAFF, post_only=True),
    # The signed link in a relayed mail: anyone holding it may open the confirmation page.
    "no-reply-link": Rule("/no-reply/{noreply_token}/", ANYONE, public=True),
    # The demo's mail catcher is switched off outside the demo: nobody gets it.
    "mailcatcher": Rule("/mailcatcher/", set(), public=True),
    "mailcatcher-detail": Rule("/mailcatcher/x/", set(), public=True),
    "mailcatcher-raw": Rule("/mailcatcher/x/raw", set(), public=True),
}
# fmt: on


def world() -> tuple[dict[str, Client], dict[str, object]]:
    pair = make_pair()
    other_shop = make_seller("Other Shop", "owner@other-shop.example")
    other_buyer = make_buyer("hanako@example.jp", "佐藤 花子")
    make_order(other_shop, other_buyer)
    clerk = User.objects.create_user(
        "clerk@sakura-books.example.jp", PASSWORD, name="店員", role=User.Role.SELLER
    )
    SellerUser.objects.create(account=pair.seller, user=clerk, is_owner=False)
    staff = User.objects.create_user("staff@marketplace.example", PASSWORD, name="S", role=User.Role.STAFF)
    User.objects.create_user(
        "boss@marketplace.example", PASSWORD, name="B", role=User.Role.STAFF, is_supervisor=True
    )
    question = compose.contact_seller(
        pair.buyer.user, pair.order, "product", SECRET_TEXT,
        [SimpleUploadedFile("box.jpg", files.image("JPEG"), "image/jpeg")],
    )  # fmt: skip
    owner = User.objects.get(email="owner@sakura-books.example.jp")
    template = Template.objects.create(account=pair.seller, name="お礼", text="ありがとうございます")
    token, _secret = ApiToken.issue(owner, "integration", ["read"])
    fba = make_order(pair.seller, pair.buyer, fulfillment="FBA")
    cs_message = compose.contact_seller(pair.buyer.user, fba, "product", "使い方を教えてください")
    claim = Claim.objects.create(order=pair.order, opened_by=staff)
    by_mail = post_message(
        Draft(
            seller=pair.seller, buyer=pair.buyer, author=Message.Author.SELLER, channel=Message.Channel.MAIL,
            subject="Re: 箱", text="交換します", sender_email="owner@sakura-books.example.jp",
            conversation=question.conversation,
            mail=Received(raw=mail("owner@sakura-books.example.jp", pair.buyer_relay)),
        )
    )  # fmt: skip
    from marketmsg.conversations import noreply_link

    values = {
        "conversation": question.conversation_id,
        "message": by_mail.pk,  # one that came by mail: its raw MIME is kept
        "attachment": Attachment.objects.get(message=question).pk,
        "order": pair.order.order_id,
        "template": template.pk,
        "token": token.pk,
        "cs_message": cs_message.pk,
        "claim": claim.pk,
        "seller": pair.seller.pk,
        "noreply_token": noreply_link.url_for(question.pk).rstrip("/").rsplit("/", 1)[-1],
    }
    emails = {
        "buyer": pair.buyer.email,
        "other_buyer": "hanako@example.jp",
        "seller_user": "clerk@sakura-books.example.jp",
        "owner": "owner@sakura-books.example.jp",
        "other_seller": "owner@other-shop.example",
        "staff": "staff@marketplace.example",
        "supervisor": "boss@marketplace.example",
    }
    clients = {"anonymous": Client()}
    for role, email in emails.items():
        clients[role] = Client()
        assert clients[role].login(username=email, password=PASSWORD), role
    return clients, values

"""The web under attack (SPEC §4): security headers, stored XSS through everything a stranger can
write, open redirects, CSRF and sign-in throttling.

The stored-XSS test fills the marketplace with hostile subjects, bodies, HTML mail, file names,
names and templates. It then walks every page each role may see (the access matrix) and reads
the markup: the only scripts are marketmsg's own files, there is no inline script, no style
attribute, no event-handler attribute and no javascript: URL. The Content-Security-Policy would
stop such content from running anyway; this checks that none is there to stop.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from marketmsg.accounts.models import User
from marketmsg.conversations import compose
from marketmsg.conversations.drafts import Received
from marketmsg.conversations.models import Message, Template
from marketmsg.conversations.services import Draft, post_message
from marketmsg.limits import shared
from marketmsg.limits.models import Bucket
from tests.support import files
from tests.support.access_matrix import EXPECTED, world
from tests.support.mail import compose as mail
from tests.support.personas import PASSWORD, make_pair

pytestmark = [pytest.mark.db, pytest.mark.django_db]
OWNER = "owner@sakura-books.example.jp"

PAYLOAD = '"><script>window.pwned=1</script><img src=x onerror="window.pwned=2"><svg onload=alert(3)>'
HOSTILE_HTML = (
    "<html><head><style>body{background:url(https://evil.example/t.gif)}</style></head><body>"
    '<p onclick="alert(1)" style="color:red">hi</p><a href="javascript:alert(2)">click</a>'
    "<iframe src=https://evil.example/></iframe><script>alert(4)</script>"
    '<form action="https://evil.example/"><input name=p></form></body></html>'
)


class Markup(HTMLParser):
    """Collects what would be active content in a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            src = values.get("src") or ""
            if not src.startswith("/static/"):
                self.problems.append(f"script not from our static files: {values}")
            self.in_script = True
        if tag in ("style", "iframe", "object", "embed", "base") and not (
            tag == "iframe" and "sandbox" in values
        ):
            self.problems.append(f"<{tag}> element")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"event handler {name}={value!r} on <{tag}>")
            if name == "style":
                self.problems.append(f"inline style on <{tag}>: {value!r}")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith(
                ("javascript:", "data:text/html", "vbscript:")
            ):
                self.problems.append(f"{name}={value!r} on <{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self.in_script = False

    def handle_data(self, data: str) -> None:
        if self.in_script and data.strip():
            self.problems.append("inline script text")


def active_content(html: str) -> list[str]:
    parser = Markup()
    parser.feed(html)
    return parser.problems


def hostile_world() -> tuple[dict[str, Client], dict[str, object]]:
    clients, values = world()
    order_id = values["order"]
    buyer_user = User.objects.get(email="taro.yamada@example.jp")
    buyer_user.name = f"太郎{PAYLOAD}"
    buyer_user.save()
    from marketmsg.orders.models import Order

    order = Order.objects.get(order_id=order_id)
    seller = order.seller
    seller.name = f"Shop{PAYLOAD}"
    seller.save()
    question = compose.contact_seller(
        buyer_user, order, "product", f"本文{PAYLOAD}",
        [SimpleUploadedFile(f"photo{PAYLOAD[:30]}.jpg", files.image("JPEG"), "image/jpeg")],
    )  # fmt: skip
    raw = mail("owner@sakura-books.example.jp", "x@marketplace.example", f"件名{PAYLOAD}", HOSTILE_HTML)
    post_message(
        Draft(
            seller=seller, buyer=order.buyer, author=Message.Author.SELLER, channel=Message.Channel.MAIL,
            subject=f"件名{PAYLOAD}", text="", html=HOSTILE_HTML,
            sender_email="owner@sakura-books.example.jp", conversation=question.conversation,
            mail=Received(raw=raw),
        )
    )  # fmt: skip
    Template.objects.create(account=seller, name=f"tmpl{PAYLOAD}", text=f"本文 {PAYLOAD}")
    return clients, values


def test_no_page_carries_active_content_from_what_strangers_wrote():
    clients, values = hostile_world()
    seen_payload = 0
    wrong: list[str] = []
    for name, rule in EXPECTED.items():
        if rule.post_only:
            continue
        url = rule.path.format(**values)
        for role in sorted(rule.allowed):
            answer = clients[role].get(url)
            if answer.status_code != 200 or "html" not in answer.get("Content-Type", ""):
                continue
            page = answer.content.decode("utf-8", "replace")
            seen_payload += "window.pwned" in page  # shown, as text
            wrong += [f"{name} as {role}: {problem}" for problem in active_content(page)]
    assert not wrong, "\n".join(sorted(set(wrong)))
    assert seen_payload >= 5  # the hostile text was on the pages, escaped


def test_the_markup_check_finds_what_it_looks_for():
    found = active_content(
        '<p style="x" onclick="y"><script>1</script><a href="javascript:1">a</a><style></style></p>'
    )
    assert len(found) == 6, found  # style, onclick, script, its text, javascript:, <style>
    assert active_content('<script src="/static/web/app.js" defer></script><p class="x">ok</p>') == []


def test_pages_carry_the_security_headers(client: Client):
    make_pair()
    assert client.login(username=OWNER, password=PASSWORD)
    page = client.get("/messages/")
    policy = page["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert page["X-Frame-Options"] == "DENY"
    assert page["Referrer-Policy"] == "same-origin"
    assert page["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in page  # plain HTTP: HSTS would mean nothing
    assert "max-age=" in client.get("/login/", secure=True)["Strict-Transport-Security"]


def test_the_portal_may_frame_pages_only_when_listed_and_sign_out_may_reach_the_provider(
    client: Client, settings
):
    settings.FRAME_ANCESTORS = ["https://sellers.marketplace.example"]
    settings.OIDC_ISSUER = "https://id.marketplace.example/realms/shop"
    page = client.get("/login/")
    directives = dict(part.strip().split(" ", 1) for part in page["Content-Security-Policy"].split(";"))
    assert directives["frame-ancestors"] == "https://sellers.marketplace.example"
    assert "X-Frame-Options" not in page  # it can only say "nobody"; the policy names who may
    assert directives["form-action"] == "'self' https://id.marketplace.example"
    settings.FRAME_ANCESTORS, settings.OIDC_ISSUER = [], ""
    page = client.get("/login/")
    assert "frame-ancestors 'none'" in page["Content-Security-Policy"] and page["X-Frame-Options"] == "DENY"


def test_behind_the_tls_proxy_https_requests_get_hsts(client: Client, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    proxied = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
    assert "max-age=31536000" in proxied["Strict-Transport-Security"]
    assert "Strict-Transport-Security" not in client.get("/login/", HTTP_X_FORWARDED_PROTO="http")


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/\\evil.example/", "https:evil.example"]
)
def test_sign_in_never_sends_anyone_to_another_site(client: Client, target: str):
    make_pair()
    owner = OWNER
    answer = client.post(f"/login/?next={target}", {"username": owner, "password": PASSWORD, "next": target})
    assert answer.status_code == 302
    assert "evil.example" not in answer["Location"]
    switched = client.post("/i18n/setlang/", {"language": "en", "next": target})
    assert "evil.example" not in switched.get("Location", "")


def test_a_form_posted_without_its_csrf_token_is_refused_with_a_clear_page():
    make_pair()
    client = Client(enforce_csrf_checks=True)
    assert client.login(username=OWNER, password=PASSWORD)
    template_count = Template.objects.count()
    answer = client.post("/templates/", {"name": "x", "text": "y"})
    assert answer.status_code == 403 and Template.objects.count() == template_count
    page = answer.content.decode()
    assert "再読み込み" in page and "reload" in page.lower()


def test_sign_in_is_throttled_per_account_and_lets_the_owner_back_after_the_window(
    client: Client, settings, monkeypatch
):
    settings.SIGNIN_FAILURES_PER_ACCOUNT = 3
    settings.SIGNIN_WINDOW_SECONDS = 900
    clock = [1_000_000.0]
    monkeypatch.setattr(shared, "now", lambda: clock[0])  # the limiter's clock
    pair = make_pair()
    owner = OWNER
    for _ in range(3):
        wrong = client.post("/login/", {"username": owner, "password": "guess"})
        assert wrong.status_code == 200 and "正しくありません" in wrong.content.decode()
    refused = client.post("/login/", {"username": owner, "password": PASSWORD})
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "サインインの失敗が多すぎます" in refused.content.decode()
    assert "_auth_user_id" not in client.session  # the right password did not get in meanwhile
    # Another account from the same client is not locked by the first one's failures.
    buyer = pair.buyer.user.email
    assert Client().post("/login/", {"username": buyer, "password": PASSWORD}).status_code == 302
    # Nothing of what was typed is stored: only a hash of the address and the client's IP.
    keys = set(Bucket.objects.values_list("key", flat=True))
    assert keys and not any(owner in key for key in keys)
    clock[0] += 300  # a third of the window: one more attempt
    assert client.post("/login/", {"username": owner, "password": PASSWORD}).status_code == 302
    assert not Bucket.objects.filter(key__startswith="signin-account:").exists()


def test_one_client_guessing_many_accounts_is_throttled(client: Client, settings):
    settings.SIGNIN_FAILURES_PER_CLIENT = 4
    make_pair()
    for n in range(4):
        client.post("/login/", {"username": f"nobody{n}@example.jp", "password": "guess"})
    refused = client.post("/login/", {"username": "taro.yamada@example.jp", "password": PASSWORD})
    assert refused.status_code == 429
    other_network = Client(REMOTE_ADDR="192.0.2.7")
    assert (
        other_network.post(
            "/login/", {"username": "taro.yamada@example.jp", "password": PASSWORD}
        ).status_code
        == 302
    )


def test_pages_while_the_database_is_away_say_so_in_both_languages(monkeypatch):
    from django.db import OperationalError
    from django.db.backends.base.base import BaseDatabaseWrapper

    pair = make_pair()
    client = Client(raise_request_exception=False)
    assert client.login(username=OWNER, password=PASSWORD)

    def unreachable(self: BaseDatabaseWrapper, *args: object) -> None:
        raise OperationalError("could not connect to server: Connection refused")

    monkeypatch.setattr(BaseDatabaseWrapper, "_cursor", unreachable)
    answer = client.get(f"/my/orders/{pair.order.order_id}/contact/")
    monkeypatch.undo()
    page = answer.content.decode()
    assert answer.status_code == 503 and answer["Retry-After"] == "60"
    assert "一時的に接続できません" in page and "briefly unavailable" in page
    assert "Traceback" not in page and "Connection refused" not in page
    assert not active_content(page)


def test_an_unknown_page_answers_a_bilingual_404():
    answer = Client().get("/no/such/page/")
    assert answer.status_code == 404
    page = answer.content.decode()
    assert "ページが見つかりません" in page and "Page not found" in page

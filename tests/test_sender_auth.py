"""Sender authentication (SPEC F1) against a real DNS server on loopback serving test zones:
SPF, DKIM and DMARC on the way in, DKIM signatures on the way out."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.management import call_command

from marketmsg.addresses.models import SenderAddress
from marketmsg.conversations import senders
from marketmsg.conversations.models import Message
from marketmsg.mailauth import inbound as mailauth
from marketmsg.mailauth import resolver
from tests.support.delivery import deliver_all
from tests.support.mail import compose
from tests.support.personas import make_pair

pytestmark = pytest.mark.db
OWNER = "owner@sakura-books.example.jp"
SHOP = "sakura-books.example.jp"


@pytest.fixture(scope="module")
def shop_key() -> tuple[bytes, str]:
    """The shop's own DKIM key (its mail provider signs with it) and the record it publishes."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    import base64

    return pem, f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}"


def zones(shop_key, spf: str = "v=spf1 ip4:127.0.0.1 -all", dmarc: str = "v=DMARC1; p=reject") -> dict:
    return {
        SHOP: {"TXT": [spf]},
        f"_dmarc.{SHOP}": {"TXT": [dmarc]},
        f"shop1._domainkey.{SHOP}": {"TXT": [shop_key[1]]},
        "elsewhere.example": {"TXT": ["v=spf1 ip4:127.0.0.1 -all"]},
    }


def signed(raw: bytes, shop_key, domain: str = SHOP) -> bytes:
    return (
        dkim.sign(raw, b"shop1", domain.encode(), shop_key[0], include_headers=[b"From", b"To", b"Subject"])
        + raw
    )


def seller_mail(pair, body: str = "明日発送いたします。") -> bytes:
    return compose(OWNER, pair.buyer_relay, f"Re: ご注文 {pair.order.order_id}", body)


def test_authenticated_mail_passes_and_the_verdict_is_stored(gateway, dns, shop_key):
    dns.replace(zones(shop_key))
    pair = make_pair()
    code, reply = gateway.send(OWNER, pair.buyer_relay, signed(seller_mail(pair), shop_key))
    assert code == 250, reply
    verdict = Message.objects.get().authentication
    assert (verdict["spf"], verdict["dmarc"], verdict["dkim"]) == ("pass", "pass", [[SHOP, "pass"]])
    assert verdict["from_domain"] == SHOP and verdict["policy"] == "reject"


def test_spf_fail_with_a_good_dkim_signature_still_passes_dmarc(gateway, dns, shop_key):
    dns.replace(zones(shop_key, spf="v=spf1 ip4:192.0.2.1 -all"))
    pair = make_pair()
    assert gateway.send(OWNER, pair.buyer_relay, signed(seller_mail(pair), shop_key))[0] == 250
    verdict = Message.objects.get().authentication
    assert (verdict["spf"], verdict["dkim"][0][1], verdict["dmarc"]) == ("fail", "pass", "pass")


def test_a_broken_dkim_signature_fails_but_aligned_spf_passes_dmarc(gateway, dns, shop_key):
    dns.replace(zones(shop_key))
    pair = make_pair()
    # The subject is signed; a changed letter (as a careless forwarder might) breaks the signature.
    tampered = signed(seller_mail(pair, "本日発送いたします。"), shop_key).replace(b"Re: ", b"RE: ", 1)
    assert gateway.send(OWNER, pair.buyer_relay, tampered)[0] == 250
    verdict = Message.objects.get().authentication
    assert (verdict["spf"], verdict["dkim"][0][1], verdict["dmarc"]) == ("pass", "fail", "pass")


@pytest.mark.parametrize("policy", ["reject", "quarantine"])
def test_dmarc_failure_under_reject_or_quarantine_is_refused_with_5_7_26(gateway, dns, shop_key, policy):
    dns.replace(zones(shop_key, spf="v=spf1 ip4:192.0.2.1 -all", dmarc=f"v=DMARC1; p={policy}"))
    pair = make_pair()
    code, reply = gateway.send(OWNER, pair.buyer_relay, seller_mail(pair))
    assert code == 550 and reply.startswith("5.7.26") and SHOP in reply and policy in reply
    assert Message.objects.count() == 0


def test_dmarc_failure_under_policy_none_is_accepted_and_recorded(gateway, dns, shop_key, sink):
    dns.replace(zones(shop_key, spf="v=spf1 ip4:192.0.2.1 -all", dmarc="v=DMARC1; p=none"))
    pair = make_pair()
    assert gateway.send(OWNER, pair.buyer_relay, seller_mail(pair))[0] == 250
    verdict = Message.objects.get().authentication
    assert (verdict["spf"], verdict["dmarc"], verdict["policy"]) == ("fail", "fail", "none")


def test_a_forger_writing_as_an_approved_address_is_refused(gateway, dns, shop_key):
    """The forger's own domain passes SPF, but it is not the From domain: no alignment."""
    dns.replace(zones(shop_key))
    pair = make_pair()
    forged = signed(seller_mail(pair, "こちらのサイトで返金します"), shop_key, domain="elsewhere.example")
    code, reply = gateway.send("forger@elsewhere.example", pair.buyer_relay, forged)
    assert code == 550 and reply.startswith("5.7.26")
    assert Message.objects.count() == 0


def test_without_any_records_mail_is_accepted_with_verdict_none(gateway):
    pair = make_pair()
    assert gateway.send(OWNER, pair.buyer_relay, seller_mail(pair))[0] == 250
    verdict = Message.objects.get().authentication
    assert (verdict["spf"], verdict["dkim"], verdict["dmarc"]) == ("none", [], "none")


def test_behind_a_trusted_mta_only_its_authentication_results_count(gateway, dns, settings):
    settings.TRUSTED_AUTHSERV_ID = "mx.marketplace.example"
    pair = make_pair()
    before = dns.queries
    forged_pass = (
        "Authentication-Results: attacker.example; spf=pass;\r\n"
        " dkim=pass header.d=sakura-books.example.jp; dmarc=pass\r\n"
    )
    ours_fail = (
        "Authentication-Results: mx.marketplace.example;\r\n"
        " spf=fail smtp.mailfrom=owner@sakura-books.example.jp;\r\n"
        " dkim=none; dmarc=fail (p=reject dis=none) header.from=sakura-books.example.jp\r\n"
    )
    # The sender's own "pass" sits on top; only the trusted MTA's header counts.
    code, reply = gateway.send(
        OWNER, pair.buyer_relay, (forged_pass + ours_fail).encode() + seller_mail(pair)
    )
    assert code == 550 and reply.startswith("5.7.26")
    ours_pass = (
        "Authentication-Results: mx.marketplace.example;\r\n"
        " spf=pass smtp.mailfrom=owner@sakura-books.example.jp;\r\n"
        " dkim=pass header.d=sakura-books.example.jp; dmarc=pass header.from=sakura-books.example.jp\r\n"
    )
    assert gateway.send(OWNER, pair.buyer_relay, ours_pass.encode() + seller_mail(pair))[0] == 250
    verdict = Message.objects.get().authentication
    assert verdict["source"] == "authserv:mx.marketplace.example" and verdict["dmarc"] == "pass"
    assert dns.queries == before  # nothing looked up: the MTA in front did it


def test_relayed_mail_and_notices_carry_a_dkim_signature_that_verifies(
    gateway, dns, sink, settings, tmp_path: Path
):
    out = StringIO()
    call_command(
        "dkim-keygen",
        "--out",
        str(tmp_path / "relay.pem"),
        "--selector",
        "mm1",
        stdout=out,
        stderr=StringIO(),
    )
    name, record = re.match(r'^(\S+)\. IN TXT "(.*)"$', out.getvalue().strip()).groups()
    assert name == "mm1._domainkey.marketplace.example"
    dns.replace({name: {"TXT": [record]}})
    settings.DKIM_KEY_FILE = str(tmp_path / "relay.pem")
    pair = make_pair()
    buyer = compose("taro.yamada@example.jp", pair.seller_relay, f"注文 {pair.order.order_id}", "質問です")
    assert gateway.send("taro.yamada@example.jp", pair.seller_relay, buyer)[0] == 250
    code, _ = gateway.send(
        "stranger@nowhere.example", pair.buyer_relay, compose("stranger@nowhere.example", pair.buyer_relay)
    )
    assert code == 250  # held: the notice comes when it is blocked
    deliver_all()
    [relayed] = sink.messages
    assert relayed.data.startswith(b"DKIM-Signature:")
    assert b"d=marketplace.example" in relayed.data.split(b"\r\n\r\n")[0]
    assert dkim.verify(relayed.data, dnsfunc=resolver.dkim_txt)
    assert not dkim.verify(relayed.data + b"PS: changed on the way\r\n", dnsfunc=resolver.dkim_txt)
    senders.move(pair.seller, ["stranger@nowhere.example"], SenderAddress.State.BLOCKED, owner_user())
    deliver_all()
    notice = sink.messages[-1]
    assert notice.rcpt_tos == ["stranger@nowhere.example"]  # the marketplace's own notice
    assert dkim.verify(notice.data, dnsfunc=resolver.dkim_txt)
    with pytest.raises(Exception, match="already exists"):
        call_command(
            "dkim-keygen", "--out", str(tmp_path / "relay.pem"), stdout=StringIO(), stderr=StringIO()
        )


def owner_user():  # type: ignore[no-untyped-def]
    from marketmsg.accounts.models import User

    return User.objects.get(email=OWNER)


def test_organizational_domains_follow_the_public_suffix_list():
    assert mailauth.organizational("mail.shop.example.co.jp") == "example.co.jp"
    assert mailauth.organizational("m.marketplace.example") == "marketplace.example"
    assert mailauth.organizational("example.com") == "example.com"
    assert mailauth.organizational("www.city.kawasaki.jp") == "city.kawasaki.jp"  # exception rule
    assert mailauth.organizational("a.b.kawasaki.jp") == "a.b.kawasaki.jp"  # *.kawasaki.jp
    assert mailauth.organizational("shop.github.io") == "shop.github.io"  # a private-section suffix


def test_staff_see_the_verdict_of_a_stored_mail(gateway, dns, shop_key, client):
    from marketmsg.accounts.models import User
    from tests.support.personas import PASSWORD

    dns.replace(zones(shop_key, spf="v=spf1 ip4:192.0.2.1 -all", dmarc="v=DMARC1; p=none"))
    pair = make_pair()
    code, _ = gateway.send(
        OWNER, pair.buyer_relay, seller_mail(pair, "詳しくは https://sakura-shop.example.com へ")
    )
    assert code == 550  # blocked by the guidelines, kept for staff
    User.objects.create_user("staff@marketplace.example", PASSWORD, name="Staff", role=User.Role.STAFF)
    assert client.login(username="staff@marketplace.example", password=PASSWORD)
    page = client.get("/staff/blocked/").content.decode()
    assert "🔐" in page and "SPF fail" in page and "DMARC fail" in page


def test_a_known_sender_is_checked_from_cached_answers_with_the_same_verdict(dns, shop_key):
    """The gateway checks on its event loop when every answer is cached (no query may wait
    there), and in a thread otherwise; both ways give one verdict."""
    dns.replace(zones(shop_key, spf="v=spf1 ip4:192.0.2.1 -all", dmarc="v=DMARC1; p=quarantine"))
    raw = signed(compose(OWNER, "x@marketplace.example", "件名", "本文"), shop_key)
    args = (raw, "127.0.0.1", "mail.example", OWNER)

    queries = dns.queries
    assert mailauth.check_from_cache(*args) is None  # nothing cached yet: it would have to ask
    assert dns.queries == queries  # and it asked nothing
    fresh = mailauth.check(*args)
    assert dns.queries > queries
    asked = dns.queries
    cached = mailauth.check_from_cache(*args)
    assert cached == fresh and dns.queries == asked
    assert (fresh.spf, fresh.dkim, fresh.dmarc) == ("fail", [(SHOP, "pass")], "pass")

    # An answer that expired is asked for again, not taken from the cache.
    resolver.forget_answers()
    assert mailauth.check_from_cache(*args) is None
    # A mail too large to hash on the loop always goes to the thread.
    large = raw + b"x" * mailauth.INLINE_MAX_BYTES
    mailauth.check(large, "127.0.0.1", "mail.example", OWNER)
    assert mailauth.check_from_cache(large, "127.0.0.1", "mail.example", OWNER) is None


def test_an_spf_result_is_reused_for_the_same_server_and_domain_until_its_answers_expire(dns, monkeypatch):
    """Evaluating SPF again from cached answers costs more than the lookups: the result for one
    client address and domain is kept as long as the answers it read (resolver.derived)."""
    import spf

    dns.replace({SHOP: {"TXT": ["v=spf1 ip4:127.0.0.1 -all"]}})
    evaluations: list[str] = []
    real_check2 = spf.check2

    def counted(**kwargs):  # type: ignore[no-untyped-def]
        evaluations.append(kwargs["s"])
        return real_check2(**kwargs)

    monkeypatch.setattr(spf, "check2", counted)

    def spf_of(sender: str, ip: str = "127.0.0.1") -> str:
        raw = compose(sender, "x@marketplace.example", "件名", "本文")
        return mailauth.check(raw, ip, "mail.example", sender).spf

    assert spf_of(f"alice@{SHOP}") == "pass" and len(evaluations) == 1
    assert spf_of(f"bob@{SHOP}") == "pass" and len(evaluations) == 1  # same server, same domain
    assert spf_of(f"bob@{SHOP}", ip="192.0.2.9") == "fail" and len(evaluations) == 2  # another server
    assert spf_of(f"bob@{SHOP}") == "pass" and len(evaluations) == 2

    # Once the record's answer (TTL 60 s) has expired, the record is looked up and evaluated again.
    later = resolver.time.monotonic() + 61
    monkeypatch.setattr(resolver.time, "monotonic", lambda: later)
    assert spf_of(f"bob@{SHOP}") == "pass" and len(evaluations) == 3


def test_an_spf_record_with_macros_is_evaluated_for_every_sender(dns):
    """A macro (here the sender's local part) makes the result depend on more than the server
    and the domain: nothing is reused, so one sender's pass never becomes another's."""
    dns.replace(
        {
            SHOP: {"TXT": ["v=spf1 exists:%{l}.allowed.example -all"]},
            "alice.allowed.example": {"A": ["127.0.0.2"]},
        }
    )
    for sender, expected in ((f"alice@{SHOP}", "pass"), (f"bob@{SHOP}", "fail"), (f"alice@{SHOP}", "pass")):
        raw = compose(sender, "x@marketplace.example", "件名", "本文")
        assert mailauth.check(raw, "127.0.0.1", "mail.example", sender).spf == expected


def test_a_verdict_is_stored_with_every_field():
    """The hand-written as_dict (asdict copies deeply, slower) must not fall behind the class."""
    from dataclasses import asdict

    signatures = [(SHOP, "pass"), ("other.example", "fail")]
    verdict = mailauth.Verdict("pass", SHOP, signatures, "pass", "reject", SHOP)
    assert verdict.as_dict() == asdict(verdict)


def test_a_temporary_dns_failure_is_not_remembered(dns, settings):
    """A timeout is 'temperror' for this mail only; the next mail asks again."""
    settings.DNS_SERVER = "127.0.0.1:9"  # nothing answers there
    settings.DNS_TIMEOUT = 0.2
    with pytest.raises(resolver.TemporaryDnsError):
        resolver.lookup("sakura-books.example.jp", "TXT")
    settings.DNS_SERVER = dns.address
    dns.replace({SHOP: {"TXT": ["v=spf1 -all"]}})
    assert resolver.txt(SHOP) == [b"v=spf1 -all"]

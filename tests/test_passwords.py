"""Passwords of marketmsg's own: a reset link by mail that never tells whether an address has an
account, an owner's invitation of a seller user, and a second step (TOTP) for owners and staff.
The mail goes through the account-mail queue and the worker to a real SMTP server on loopback."""

from __future__ import annotations

import email
import re
from datetime import timedelta
from email import policy

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from marketmsg.accounts.models import AccountMail, SellerUser, User, unusable_password
from marketmsg.addresses.models import SenderAddress
from marketmsg.relay import worker
from marketmsg.web.password_views import InvitationTokens
from tests.support.personas import PASSWORD, make_buyer, make_seller

pytestmark = [pytest.mark.db, pytest.mark.django_db]
OWNER = "owner@sakura-books.example.jp"


@pytest.fixture(autouse=True)
def queued_mail(settings) -> None:  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "marketmsg.accounts.mail.OutboxBackend"  # the test runner's is locmem
    settings.PUBLIC_URL = "http://testserver"


def sent_links(sink, to: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The worker sends what is queued; the links in the mails the smarthost got for ``to``."""
    worker.run_once("tests")
    links = []
    for caught in sink.messages:
        if to in caught.rcpt_tos:
            mail = email.message_from_bytes(caught.data, policy=policy.default)
            assert "marketmsg" in str(mail["Subject"]) or "招待" in str(mail["Subject"])
            links += re.findall(r"http://testserver(/\S+)", mail.get_content())
    return links


def test_reset_answers_the_same_for_any_address_and_its_link_works_once(client, sink):
    make_seller()
    for address in (OWNER, "nobody@example.jp"):
        answer = client.post("/password/reset/", {"email": address})
        assert answer.status_code == 302 and answer["Location"] == "/password/reset/sent/"
    assert list(AccountMail.objects.values_list("recipient", flat=True)) == [OWNER]
    (link,) = sent_links(sink, OWNER)
    assert not sent_links(sink, "nobody@example.jp")
    assert AccountMail.objects.get().state == AccountMail.State.DELIVERED
    form = client.get(link, follow=True)
    assert "new_password1" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a new secret 2026", "new_password2": "a new secret 2026"},
    )
    assert done.status_code == 302
    assert User.objects.get(email=OWNER).check_password("a new secret 2026")
    again = Client().get(link, follow=True).content.decode()
    assert "new_password1" not in again and 'href="/password/reset/"' in again
    # Someone asking again and again fills no inbox: three mails an hour, the same page each time.
    for _ in range(5):
        assert client.post("/password/reset/", {"email": OWNER})["Location"] == "/password/reset/sent/"
    assert AccountMail.objects.filter(recipient=OWNER).count() == 3


def test_a_person_the_operator_api_made_sets_a_first_password_and_passwords_off_hides_it(
    client, sink, settings
):
    buyer = make_buyer()
    User.objects.filter(pk=buyer.user_id).update(password=unusable_password())
    client.post("/password/reset/", {"email": buyer.email})
    (link,) = sent_links(sink, buyer.email)
    form = client.get(link, follow=True)
    client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "first secret 2026", "new_password2": "first secret 2026"},
    )
    assert User.objects.get(pk=buyer.user_id).check_password("first secret 2026")
    settings.PASSWORDS = False
    settings.OIDC_ISSUER = "http://127.0.0.1:9"
    assert client.get("/password/reset/").status_code == 404


def test_the_owner_invites_a_seller_user_who_chooses_a_password_and_answers_buyers(client, sink):
    shop = make_seller()
    assert client.login(username=OWNER, password=PASSWORD)
    answer = client.post(
        "/settings/team/", {"email": "Staff@Sakura-Books.example.jp", "name": "鈴木", "language": "ja"}
    )
    assert answer.status_code == 302
    invited = User.objects.get(email="staff@sakura-books.example.jp")
    assert SellerUser.objects.get(user=invited).account == shop and not invited.has_usable_password()
    assert SenderAddress.objects.get(account=shop, email=invited.email).state == SenderAddress.State.APPROVED
    (link,) = sent_links(sink, invited.email)
    assert link.startswith("/invitation/")
    newcomer = Client()
    form = newcomer.get(link, follow=True)
    assert invited.email in form.content.decode()
    landed = newcomer.post(
        form.redirect_chain[-1][0],
        {"new_password1": "staff secret 2026", "new_password2": "staff secret 2026"},
        follow=True,
    )
    assert landed.redirect_chain[-1][0] == "/messages/"
    assert "new_password1" not in Client().get(link, follow=True).content.decode()  # spent
    # The staff member (not the owner) cannot invite; a marketplace staff address cannot join.
    assert (
        newcomer.post("/settings/team/", {"email": "x@example.jp", "name": "x", "language": "ja"}).status_code
        == 404
    )
    User.objects.create_user("ops@marketplace.example", PASSWORD, name="Ops", role=User.Role.STAFF)
    refused = client.post(
        "/settings/team/", {"email": "ops@marketplace.example", "name": "Ops", "language": "en"}
    )
    assert (
        refused.status_code == 200
        and not SellerUser.objects.filter(user__email="ops@marketplace.example").exists()
    )


def test_an_invitation_expires(client, sink, monkeypatch, settings):
    make_seller()
    client.login(username=OWNER, password=PASSWORD)
    client.post(
        "/settings/team/", {"email": "late@sakura-books.example.jp", "name": "遅刻", "language": "ja"}
    )
    (link,) = sent_links(sink, "late@sakura-books.example.jp")
    later = InvitationTokens()._now() + timedelta(seconds=settings.INVITATION_MAX_AGE + 60)
    monkeypatch.setattr(InvitationTokens, "_now", lambda self: later)
    page = Client().get(link, follow=True).content.decode()
    assert "new_password1" not in page


def test_an_owner_turns_on_a_second_step_and_then_needs_the_code(client):
    make_seller()
    assert client.login(username=OWNER, password=PASSWORD)
    assert "data:image/svg+xml" in client.get("/account/two-factor/").content.decode()
    device = TOTPDevice.objects.get(user__email=OWNER, confirmed=False)
    client.post("/account/two-factor/", {"code": "000000" if totp(device.bin_key) != 0 else "111111"})
    assert not TOTPDevice.objects.get(pk=device.pk).confirmed  # a wrong code turns nothing on
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_count=0, throttling_failure_timestamp=None
    )
    client.post("/account/two-factor/", {"code": f"{totp(device.bin_key):06d}"})
    assert TOTPDevice.objects.get(pk=device.pk).confirmed
    fresh = Client()
    answer = fresh.post("/login/", {"username": OWNER, "password": PASSWORD, "next": "/orders/"})
    assert answer.status_code == 302 and answer["Location"] == "/login/verify/"
    assert fresh.get("/messages/").status_code == 302  # not signed in yet
    assert fresh.post("/login/verify/", {"code": "12345"}).status_code == 400
    assert (
        "誤ったコードが多すぎます" in fresh.post("/login/verify/", {"code": "12345"}).content.decode()
    )  # slowed down
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_count=0, throttling_failure_timestamp=None
    )
    device = TOTPDevice.objects.get(pk=device.pk)
    signed = fresh.post("/login/verify/", {"code": f"{totp(device.bin_key, drift=1):06d}"})
    assert signed.status_code == 302 and signed["Location"] == "/orders/"
    assert fresh.get("/messages/").status_code == 200


def test_buyers_have_no_second_step_page(client):
    buyer = make_buyer()
    assert client.login(username=buyer.email, password=PASSWORD)
    assert client.get("/account/two-factor/").status_code == 404

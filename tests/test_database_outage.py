"""The gateway answers 451 4.3.0 — never 250, never 5xx — while its database cannot be opened."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.db import connections

from marketmsg.conversations.models import Message
from tests.support.mail import compose
from tests.support.outage import Outage
from tests.support.personas import make_pair

pytestmark = [
    pytest.mark.db,
    pytest.mark.skipif(
        django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
        reason="breaks the SQLite file; the PostgreSQL outage test belongs to the fault suite",
    ),
]


@pytest.fixture
def reconnect_every_call():
    """Gateway threads open a fresh connection per call, so that they meet the missing file."""
    shared = connections.settings["default"]
    before = shared["CONN_MAX_AGE"]
    shared["CONN_MAX_AGE"] = 0
    yield
    shared["CONN_MAX_AGE"] = before


def test_database_outage_at_rcpt_and_at_data_answers_451_and_then_recovers(reconnect_every_call, gateway):
    pair = make_pair()
    mail = compose("taro.yamada@example.jp", pair.seller_relay)
    with Outage():
        code, reply = gateway.send("taro.yamada@example.jp", pair.seller_relay, mail)
    assert (code, reply[:5]) == (451, "4.3.0")

    with gateway.client() as smtp:
        smtp.ehlo("client.example")
        smtp.mail("taro.yamada@example.jp")
        assert smtp.rcpt(pair.seller_relay)[0] == 250
        with Outage():
            code, reply = smtp.data(mail.replace(b"\n", b"\r\n"))
    assert (code, reply[:5].decode()) == (451, "4.3.0")
    assert Message.objects.count() == 0

    code, _ = gateway.send("taro.yamada@example.jp", pair.seller_relay, mail)  # the sender's retry
    assert code == 250
    assert Message.objects.count() == 1

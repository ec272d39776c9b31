"""Liveness and readiness probes (/healthz, /readyz) for load balancers and orchestrators."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.test import Client

from tests.support.outage import Outage

pytestmark = pytest.mark.db


@pytest.mark.django_db
def test_both_probes_answer_without_signing_in():
    client = Client()
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}
    assert "no-cache" in ready["Cache-Control"]


@pytest.mark.django_db(transaction=True)
def test_readyz_names_a_migration_that_is_not_applied():
    # The app's latest migration, as a deployment that has not migrated yet would lack it.
    (_, latest) = MigrationLoader(connection).graph.leaf_nodes("conversations")[0]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, app, name, applied FROM django_migrations WHERE app = %s AND name = %s",
            ["conversations", latest],
        )
        row = cursor.fetchone()
        cursor.execute("DELETE FROM django_migrations WHERE id = %s", [row[0]])
    try:
        answer = Client().get("/readyz")
        assert answer.status_code == 503
        assert f"conversations.{latest}" in answer.json()["problems"][0]
        assert "marketmsg migrate" in answer.json()["problems"][0]
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO django_migrations (id, app, name, applied) VALUES (%s, %s, %s, %s)", list(row)
            )
    assert Client().get("/readyz").status_code == 200


@pytest.mark.skipif(connection.vendor == "postgresql", reason="moves the SQLite file away")
@pytest.mark.django_db(transaction=True)
def test_readyz_says_the_database_is_unreachable_while_healthz_still_answers():
    client = Client()
    with Outage():
        connection.close()
        answer = client.get("/readyz")
        assert answer.status_code == 503 and "database unreachable" in answer.json()["problems"][0]
        assert client.get("/healthz").status_code == 200
    connection.close()
    assert client.get("/readyz").status_code == 200


def scrape(client: Client, **headers: str) -> dict[str, float]:
    """The exposition as {series with labels: value}."""
    answer = client.get("/metrics", **headers)
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/plain")
    values = {}
    for line in answer.content.decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def test_metrics_count_replies_messages_deliveries_and_show_the_queue(gateway, sink, settings):
    from tests.support.delivery import deliver_all
    from tests.support.mail import compose
    from tests.support.personas import make_pair

    client = Client()
    before = scrape(client)
    pair = make_pair()
    assert (
        gateway.send(
            "taro.yamada@example.jp", pair.seller_relay, compose("taro.yamada@example.jp", pair.seller_relay)
        )[0]
        == 250
    )
    assert gateway.send("x@example.jp", "nobody@marketplace.example", "x")[0] == 550
    gateway.send(
        "stranger@elsewhere.example",
        pair.buyer_relay,
        compose("stranger@elsewhere.example", pair.buyer_relay),
    )
    queued = scrape(client)
    assert queued['marketmsg_delivery_queue_depth{state="pending"}'] == 1
    assert queued['marketmsg_delivery_queue_depth{state="held"}'] == 1
    assert queued["marketmsg_delivery_oldest_pending_age_seconds"] >= 0
    deliver_all()
    after = scrape(client)

    def grew(series: str) -> float:
        return after.get(series, 0) - before.get(series, 0)

    assert grew('marketmsg_smtp_replies_total{code="250"}') >= 4  # RCPT and DATA, twice
    assert grew('marketmsg_smtp_replies_total{code="550"}') == 1
    assert grew('marketmsg_messages_stored_total{author="buyer",state="relayed"}') == 1
    assert grew('marketmsg_messages_stored_total{author="seller",state="held"}') == 1
    assert grew('marketmsg_delivery_attempts_total{outcome="delivered"}') == 1
    assert grew("marketmsg_delivery_latency_seconds_count") == 1
    assert after['marketmsg_delivery_queue_depth{state="pending"}'] == 0
    assert "taro.yamada" not in Client().get("/metrics").content.decode()


@pytest.mark.django_db
def test_metrics_want_the_token_when_one_is_set(settings):
    settings.METRICS_TOKEN = "s3cret-scrape"
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert scrape(Client(), HTTP_AUTHORIZATION="Bearer s3cret-scrape")


def test_json_logs_follow_one_message_from_gateway_to_worker_without_addresses(gateway, sink, caplog):
    import json
    import logging

    from marketmsg.logs import JsonFormatter
    from tests.support.delivery import deliver_all
    from tests.support.mail import compose
    from tests.support.personas import make_pair

    caplog.set_level(logging.INFO)
    pair = make_pair()
    raw = compose(
        "taro.yamada@example.jp", pair.seller_relay, "注文について", "住所は東京都です taro.yamada@example.jp"
    )
    assert gateway.send("taro.yamada@example.jp", pair.seller_relay, raw)[0] == 250
    deliver_all()
    lines = [json.loads(JsonFormatter().format(record)) for record in caplog.records]
    stored = next(line for line in lines if line["msg"].startswith("stored"))
    [message_id] = stored["message_ids"]
    delivered = next(line for line in lines if line.get("message_id") == message_id)
    assert delivered["state"] == "delivered" and delivered["code"] == 250 and delivered["delivery_id"]
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    for secret in ("taro.yamada@example.jp", "owner@sakura-books.example.jp", "東京都"):
        assert secret not in text

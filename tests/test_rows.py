"""The mail path's hand-written rows are the ORM's own: what ``rows.save_new`` inserts reads back as
``save()`` stores it, a row read by hand-written SQL loads with its missing fields deferred, and
the chain look-up is one index seek. (Instances are built by ``from_db`` and the constructor only:
ADR 24.)
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, models
from django.utils import timezone

from marketmsg import rows
from marketmsg.addresses.models import RelayAddress
from marketmsg.conversations import services
from marketmsg.conversations.models import Conversation, Message
from tests.support.personas import make_pair, make_seller

pytestmark = [pytest.mark.db, pytest.mark.django_db]


def _fields(instance: models.Model) -> dict[str, Any]:
    return {name: value for name, value in instance.__dict__.items() if name != "_state"}


def _state(instance: models.Model) -> tuple[bool, str | None, set[str]]:
    return instance._state.adding, instance._state.db, set(instance._state.fields_cache)


def _conversation_and_message_values(subject: str) -> tuple[Conversation, dict[str, Any]]:
    pair = make_pair()
    conversation = Conversation.objects.create(seller=pair.seller, buyer=pair.buyer, order=pair.order)
    values = {
        "seller_id": pair.seller.pk,
        "author": Message.Author.BUYER,
        "channel": Message.Channel.MAIL,
        "state": Message.State.RELAYED,
        "subject": subject,
        "text": "まだありますか。",
        "created_at": timezone.now(),
        "authentication": {"spf": "pass"},
    }
    return conversation, values


def test_a_loaded_row_is_the_instance_from_db_makes_with_the_same_fields_deferred():
    pair = make_pair()
    relay = RelayAddress.objects.get(local_part=pair.seller_relay.split("@")[0])
    values = {"id": relay.pk, "local_part": relay.local_part, "domain": relay.domain, "side": relay.side}

    made = rows.loaded(RelayAddress, values)
    expected = RelayAddress.from_db(connection.alias, list(values), list(values.values()))

    assert _fields(made) == _fields(expected)
    assert _state(made) == _state(expected) == (False, "default", set())
    assert (
        made.get_deferred_fields()
        == expected.get_deferred_fields()
        == {
            "buyer_id",
            "seller_id",
            "is_active",
            "created_at",
        }
    )
    assert made.buyer_id == pair.buyer.pk  # a deferred field loads when it is read, as usual


@pytest.mark.skipif("connection.vendor != 'sqlite'")
def test_the_head_of_a_conversations_record_chain_is_found_by_one_index_seek():
    """Every stored message reads it; a scan and sort of the whole conversation grew with it."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {services.CHAIN_HEAD_SQL}", [1])  # the query the code runs
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert "message_record_chain" in plan and "TEMP B-TREE" not in plan, plan


def test_attach_links_loaded_objects_so_that_reading_the_relation_costs_no_query(
    django_assert_num_queries,
):
    pair = make_pair()
    relay = rows.loaded(RelayAddress, {"id": 1, "buyer_id": pair.buyer.pk, "seller_id": pair.seller.pk})
    rows.attach(relay, buyer=pair.buyer)
    with django_assert_num_queries(0):
        assert relay.buyer is pair.buyer
    other = make_seller("もみじ商店", "owner@momiji.example.jp")
    rows.attach(relay, seller=other)  # a different seller: the descriptor sets the id too
    assert relay.seller_id == other.pk and relay.seller is other


def test_a_row_inserted_by_hand_reads_back_as_the_orm_saves_it():
    """JSON encoded and date-times adapted at their positions only (the insert plan), the rest as
    given: the row read back equals the one the ORM stores from the same instance."""
    # A subject that looks like a time stays text; JSON with a list inside.
    conversation, values = _conversation_and_message_values("2026-11-27 12:00 に届きますか")
    values["authentication"] = {"spf": "pass", "dkim": [["example.jp", "pass"]]}
    by_hand = rows.save_new(
        rows.new(Message, {**values, "outbound_message_id": "<1@x>"}, {"conversation": conversation})
    )
    by_orm = Message(**values, outbound_message_id="<2@x>", conversation=conversation)
    by_orm.save()

    def stored(pk: int) -> dict[str, Any]:
        row = Message.objects.filter(pk=pk).values().get()
        return {k: v for k, v in row.items() if k not in ("id", "outbound_message_id")}

    assert stored(by_hand.pk) == stored(by_orm.pk)
    assert stored(by_hand.pk)["authentication"] == values["authentication"]
    assert stored(by_hand.pk)["created_at"] == values["created_at"]

"""The mail path's hand-made rows and model instances are the ORM's own, and its chain look-up is
one index seek.

``rows.new`` and ``rows.loaded`` build model instances without Model.__init__ (ADR 16); they must
give exactly the instance the constructor or ``from_db`` gives, and step back to them whenever a
receiver listens to the model's construction signals.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, models
from django.db.models.signals import post_init
from django.utils import timezone

from marketmsg import rows
from marketmsg.addresses.models import RelayAddress
from marketmsg.conversations import services
from marketmsg.conversations.models import Conversation, Message
from marketmsg.orders.models import Order
from tests.personas import make_pair, make_seller

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


def test_a_new_message_is_the_instance_the_models_constructor_makes():
    conversation, values = _conversation_and_message_values("在庫について")
    related = {"conversation": conversation, "sender_user": None, "parent": None}

    made = rows.new(Message, values, related)
    expected = Message(**values, **related)

    assert _fields(made) == _fields(expected)
    assert _state(made) == _state(expected)
    assert made.conversation is conversation and made.parent is None
    assert made.guideline_rules == "" and made.needs_reply is False  # the model's defaults


def test_a_field_the_model_does_not_have_is_refused_as_the_constructor_refuses_it():
    with pytest.raises(TypeError, match="no_such_field"):
        rows.new(Message, {"no_such_field": 1}, {})


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


def test_with_a_receiver_on_the_construction_signals_the_models_own_constructor_is_used():
    seen: list[models.Model] = []

    def receiver(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
        seen.append(instance)

    post_init.connect(receiver, sender=Order)
    rows._plain_construction.cache_clear()
    try:
        loaded = rows.loaded(Order, {"id": 7})
        made = rows.new(Order, {"order_id": "503-0000001-0000001"}, {})
    finally:
        post_init.disconnect(receiver, sender=Order)
        rows._plain_construction.cache_clear()
    assert seen == [loaded, made]


@pytest.mark.skipif("connection.vendor != 'sqlite'")
def test_the_head_of_a_conversations_record_chain_is_found_by_one_index_seek():
    """Every stored message reads it; a scan and sort of the whole conversation grew with it."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {services.CHAIN_HEAD_SQL}", [1])  # the query the code runs
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert "message_record_chain" in plan and "TEMP B-TREE" not in plan, plan


def test_attach_caches_the_object_for_the_id_the_instance_holds_and_sets_the_id_otherwise(
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

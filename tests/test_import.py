"""``marketmsg import``: JSON Lines and CSV through the operator API's upserts, bad records
refused by line number while the rest goes in, and an interrupted import going on where it
stopped. The marketplace's own ID formats (settings) reach threading, search and guidelines."""

from __future__ import annotations

import json
import threading
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from marketmsg.accounts.models import Buyer, SellerAccount, User
from marketmsg.addresses import services as addresses
from marketmsg.conversations.models import Message
from marketmsg.integration import importer, upsert
from marketmsg.integration.models import ImportRun
from marketmsg.integration.readahead import read_ahead
from marketmsg.orders.models import Order, OrderItem
from marketmsg.policy import guidelines
from marketmsg.relay import inbound
from tests.support.mail import compose
from tests.support.personas import PASSWORD

pytestmark = [pytest.mark.db, pytest.mark.django_db]


def lines(*records: Any) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records)


SELLER = {
    "type": "seller",
    "external_id": "S1",
    "name": "森の雑貨店",
    "users": [{"email": "mori@zakka.example", "owner": True}],
}
BUYER = {"type": "buyer", "external_id": "B1", "email": "taro@example.jp", "name": "鈴木 太郎"}


def an_order(number: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "order",
        "order_id": number,
        "seller": "S1",
        "buyer": "B1",
        "ordered_at": "2026-11-30T10:00:00Z",
        "items": [{"product_id": "B0AAAAAAAA", "title": "マグカップ", "quantity": 1}],
        **fields,
    }


def run_import(path: Path, *args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import", str(path), "--quiet", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_bad_records_are_refused_by_line_and_the_rest_goes_in(tmp_path: Path):
    data = tmp_path / "first-day.jsonl"
    data.write_text(
        lines(
            SELLER,
            BUYER,
            "{not json",
            {"type": "coupon", "code": "X"},
            an_order("250-0000001-0000001"),
            an_order("250-0000001-0000002", seller="S9"),
            an_order(
                "250-0000001-0000003", items=[{"product_id": "B0AAAAAAAA", "title": "x", "quantity": 0}]
            ),
            an_order("250-0000001-0000004", status="lost"),
        ),
        encoding="utf-8",
    )
    out, err = run_import(data, "--refused", str(tmp_path / "refused.txt"))
    assert "line 3: record: not JSON" in err
    assert "line 4: record: type: must be one of seller, buyer, product, order" in err
    assert "line 6: order 250-0000001-0000002: seller: no seller 'S9'" in err
    assert "line 7: order 250-0000001-0000003: items[0].quantity: must be a whole number" in err
    assert "line 8: order 250-0000001-0000004: status: must be one of placed" in err
    assert (tmp_path / "refused.txt").read_text().count("\n") == 5
    assert list(Order.objects.values_list("order_id", flat=True)) == ["250-0000001-0000001"]
    assert "orders              1" in out and "5 refused" in out
    assert "unreadable" in out
    # Fixed and sent again: only the fixed lines change anything.
    data.write_text(data.read_text().replace('"S9"', '"S1"'), encoding="utf-8")
    out, _ = run_import(data)
    orders_row = next(line.split() for line in out.splitlines() if line.strip().startswith("orders"))
    assert orders_row == ["orders", "1", "0", "1", "2"]  # created, updated, unchanged, refused
    assert Order.objects.count() == 2


def test_an_interrupted_import_goes_on_after_the_last_batch_written(tmp_path: Path, monkeypatch):
    data = tmp_path / "orders.jsonl"
    data.write_text(
        lines(SELLER, BUYER, *(an_order(f"250-0000002-{n:07d}") for n in range(25))), encoding="utf-8"
    )
    real = upsert.Upserter.apply
    calls = {"n": 0}

    def interrupted(self: upsert.Upserter, kind: str, raws: Any, checked: Any = None) -> Any:
        calls["n"] += 1
        if calls["n"] == 5:  # seller, buyer, two batches of orders, then the machine stops
            raise KeyboardInterrupt
        return real(self, kind, raws, checked)

    monkeypatch.setattr(upsert.Upserter, "apply", interrupted)
    with pytest.raises(KeyboardInterrupt):
        importer.run(data, on_refusal=lambda r: None, batch_size=10)
    assert Order.objects.count() == 20
    assert ImportRun.objects.get().lines_done == 22 and ImportRun.objects.get().finished_at is None
    monkeypatch.setattr(upsert.Upserter, "apply", real)
    summary = importer.run(data, on_refusal=lambda r: None, batch_size=10)
    assert summary.skipped_lines == 22
    assert summary.of("order") == {"created": 5, "updated": 0, "unchanged": 0, "refused": 0}
    assert Order.objects.count() == 25
    again = importer.run(data, on_refusal=lambda r: None)
    assert again.already_done
    out, _ = run_import(data, "--again")
    assert "25" in out and Order.objects.count() == 25


def test_csv_orders_one_row_per_item(tmp_path: Path):
    people = tmp_path / "people.jsonl"
    people.write_text(lines(SELLER, BUYER), encoding="utf-8")
    run_import(people)
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "\ufefforder_id,seller,buyer,ordered_at,status,fulfillment,product_id,title,quantity,"
        "tracking_carrier,tracking_number\n"
        "250-0000003-0000001,S1,B1,2026-11-30T10:00:00+09:00,shipped,MFN,B0AAAAAAAA,マグカップ,2,佐川急便,5555\n"
        "250-0000003-0000001,S1,B1,2026-11-30T10:00:00+09:00,shipped,MFN,B0BBBBBBBB,"
        '"ソーサー, 白",1,佐川急便,5555\n'
        "250-0000003-0000002,S1,B1,2026-11-30,placed,FBA,B0AAAAAAAA,マグカップ,1,,\n"
        "250-0000003-0000003,S1,B1,2026-11-30T11:00:00Z,placed,FBA,B0AAAAAAAA,マグカップ,many,,\n",
        encoding="utf-8",
    )
    _, err = run_import(orders)
    first = Order.objects.get(order_id="250-0000003-0000001")
    assert sorted(first.items.values_list("asin", "title", "quantity")) == [
        ("B0AAAAAAAA", "マグカップ", 2),
        ("B0BBBBBBBB", "ソーサー, 白", 1),
    ]
    assert (first.tracking_carrier, first.tracking_number, first.status) == ("佐川急便", "5555", "shipped")
    assert "line 4: order 250-0000003-0000002: ordered_at: needs a time zone" in err
    assert "line 5: order 250-0000003-0000003: items[0].quantity" in err
    headless = tmp_path / "bad.csv"
    headless.write_text("order,who\n1,2\n", encoding="utf-8")
    _, err = run_import(headless)
    assert "line 1: header: the CSV header lacks buyer, order_id" in err


def test_the_marketplaces_own_id_formats(settings, tmp_path: Path):
    settings.ORDER_ID_PATTERN = r"\d{2}-\d{4}-\d{4}"  # looks like a Tokyo phone number
    settings.PRODUCT_ID_PATTERN = r"SKU-[0-9]{5}"
    data = tmp_path / "m.jsonl"
    sku = {"product_id": "SKU-12345", "title": "抹茶", "quantity": 1}
    data.write_text(
        lines(SELLER, BUYER, an_order("03-1234-5678", items=[sku]), an_order("250-0000001-0000001")),
        encoding="utf-8",
    )
    _, err = run_import(data)
    assert (
        "250-0000001-0000001: order_id: '250-0000001-0000001' is not an order ID of this marketplace" in err
    )
    order = Order.objects.get(order_id="03-1234-5678")
    seller, buyer = SellerAccount.objects.get(external_id="S1"), Buyer.objects.get(external_id="B1")
    pair = addresses.relay_pair(buyer, seller)
    # Threading: the order ID in the subject puts the mail in the order's conversation.
    receipt = inbound.receive(
        compose(buyer.email, pair.seller_address.address, "注文 03-1234-5678 について", "届きません"),
        buyer.email,
        [pair.seller_address.address],
    )
    message = Message.objects.get(pk=receipt.message_ids[0])
    assert message.conversation.order_id == order.pk
    # The guidelines: an order ID is not a phone number, a real phone number still is.
    assert not guidelines.check("ご注文 03-1234-5678 は明日発送します。").findings
    assert [f.rule for f in guidelines.check("お電話は 090-1234-5678 へ").findings] == ["contact_phone"]
    # Search: the seller finds the conversation by the order ID and by the product ID.
    owner = User.objects.get(email="mori@zakka.example")
    owner.set_password(PASSWORD)
    owner.save()
    client = Client()
    client.login(email=owner.email, password=PASSWORD)
    for term in ("03-1234-5678", "SKU-12345"):
        page = client.get("/messages/", {"q": term, "box": "all"}).content.decode()
        assert "届きません" in page or f"/messages/{message.conversation_id}/" in page, term
    assert OrderItem.objects.filter(asin="SKU-12345").exists()


def test_read_ahead_keeps_order_hands_over_the_sources_error_and_stops_with_its_reader():
    def breaks() -> Any:
        yield 1
        yield 2
        raise ValueError("line 3 is broken")

    got = []
    with pytest.raises(ValueError, match="line 3 is broken"):
        for value in read_ahead(breaks()):
            got.append(value)
    assert got == [1, 2]

    made: list[int] = []

    def endless() -> Any:
        while True:
            made.append(len(made))
            yield made[-1]

    reader = read_ahead(endless(), depth=2)
    assert next(reader) == 0
    reader.close()  # the reader stops: the thread is joined, nothing more is made
    assert not any(t.name == "read-ahead" for t in threading.enumerate())
    assert len(made) <= 4  # one taken, two waiting, one being handed over

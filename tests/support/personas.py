"""Personas for tests: the shop "Sakura Books" and the buyers "taro" and "hanako"."""

from __future__ import annotations

from dataclasses import dataclass

from marketmsg.accounts.models import Buyer, SellerAccount, SellerUser, User
from marketmsg.addresses import services as addresses
from marketmsg.addresses.models import SenderAddress
from marketmsg.conversations.models import Message
from marketmsg.conversations.services import Draft, post_message
from marketmsg.orders.models import Order, OrderItem

PASSWORD = "correct horse battery staple"


@dataclass
class Pair:
    seller: SellerAccount
    buyer: Buyer
    order: Order
    buyer_relay: str  # the buyer as the seller sees them
    seller_relay: str  # the seller as the buyer sees them


def make_seller(
    name: str = "さくら書店 Sakura Books", owner: str = "owner@sakura-books.example.jp"
) -> SellerAccount:
    account = SellerAccount.objects.create(name=name)
    user = User.objects.create_user(owner, PASSWORD, name="桜井 店長", role=User.Role.SELLER)
    SellerUser.objects.create(account=account, user=user, is_owner=True)
    addresses.set_sender_state(account, owner, SenderAddress.State.APPROVED)
    return account


def make_buyer(email: str = "taro.yamada@example.jp", name: str = "山田 太郎") -> Buyer:
    user = User.objects.create_user(email, PASSWORD, name=name, role=User.Role.BUYER)
    return Buyer.objects.create(user=user, is_mobile=addresses.is_mobile_address(email))


_order_counter = [1000000]


def make_order(
    seller: SellerAccount, buyer: Buyer, asin: str = "B0C1X2Y3Z4", fulfillment: str = "MFN"
) -> Order:
    _order_counter[0] += 1
    order = Order.objects.create(
        order_id=f"503-{_order_counter[0]:07d}-7654321", seller=seller, buyer=buyer, fulfillment=fulfillment
    )
    OrderItem.objects.create(order=order, asin=asin, title="星の王子さま 文庫")
    return order


def make_pair(seller: SellerAccount | None = None, buyer: Buyer | None = None) -> Pair:
    seller = seller or make_seller()
    buyer = buyer or make_buyer()
    order = make_order(seller, buyer)
    pair = addresses.relay_pair(buyer, seller)
    return Pair(seller, buyer, order, pair.buyer_address.address, pair.seller_address.address)


def buyer_writes_on_the_web(
    pair: Pair, subject: str, text: str = "教えてください", order: Order | None = None
) -> Message:
    """The pair's buyer writes to the seller on the web about the pair's order (or ``order``)."""
    return post_message(
        Draft(
            seller=pair.seller,
            buyer=pair.buyer,
            author=Message.Author.BUYER,
            channel=Message.Channel.WEB,
            subject=subject,
            text=text,
            sender_email=pair.buyer.email,
            sender_user=pair.buyer.user,
            order=order or pair.order,
        )
    )

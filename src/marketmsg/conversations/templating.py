"""A seller's templates (定型文): saving them with checked placeholders, and the values that fill
them for one conversation or order (SPEC F5)."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from marketmsg.accounts.models import SellerAccount, User
from marketmsg.conversations import placeholders
from marketmsg.conversations.errors import FormProblem
from marketmsg.conversations.models import Conversation, Template
from marketmsg.orders.models import Order, OrderItem

MAX_NAME = 100
MAX_TEXT = 20_000


def unknown_placeholder_problem(text: str) -> FormProblem | None:
    names = placeholders.unknown(text)
    if not names:
        return None
    return FormProblem(
        "text",
        _("Unknown placeholder %(names)s. Use only %(known)s.")
        % {
            "names": ", ".join(f"{{{n}}}" for n in names),
            "known": ", ".join(f"{{{n}}}" for n in placeholders.KNOWN),
        },
    )


def save(
    account: SellerAccount, user: User, name: str, text: str, template: Template | None = None
) -> Template:
    name = " ".join(name.split())
    text = text.replace("\r\n", "\n").strip()
    if not name:
        raise FormProblem("name", _("Give the template a name."))
    if len(name) > MAX_NAME:
        raise FormProblem("name", _("The name is too long (at most %(max)d characters).") % {"max": MAX_NAME})
    if not text:
        raise FormProblem("text", _("Write the template's text."))
    if len(text) > MAX_TEXT:
        raise FormProblem("text", _("The text is too long (at most %(max)d characters).") % {"max": MAX_TEXT})
    problem = unknown_placeholder_problem(text)
    if problem is not None:
        raise problem
    target = template or Template(account=account)
    target.name, target.text, target.updated_by, target.updated_at = name, text, user, timezone.now()
    try:
        with transaction.atomic():
            target.save()
    except IntegrityError as error:
        raise FormProblem(
            "name", _("A template with this name already exists. Choose another name.")
        ) from error
    return target


def values_for(
    seller: SellerAccount, conversation: Conversation | None = None, order: Order | None = None
) -> dict[str, str]:
    """What each placeholder stands for in this conversation (or for this order, before one exists)."""
    order = order or (conversation.order if conversation is not None else None)
    buyer = order.buyer if order is not None else (conversation.buyer if conversation is not None else None)
    item = order.items.order_by("id").first() if order is not None else None
    asin = item.asin if item is not None else (conversation.asin if conversation is not None else "")
    title = item.title if item is not None else ""
    if not title and asin:
        title = OrderItem.objects.filter(asin=asin).values_list("title", flat=True).first() or ""
    return {
        "buyer_name": buyer.name if buyer is not None else "",
        "order_id": order.order_id if order is not None else "",
        "asin": asin,
        "product_title": title,
        "seller_name": seller.name,
    }

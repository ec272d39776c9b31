"""Sign-in, a first page per role, and the development mail catcher."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from marketmsg.accounts.models import User
from marketmsg.addresses.models import RelayAddress
from marketmsg.conversations.listing import PAGE_SIZES, ListQuery, messages_for
from marketmsg.demo.mailcatcher import caught
from marketmsg.orders.models import Order
from marketmsg.relay import parsing
from marketmsg.relay.scrub import sanitize_html

_KEY = re.compile(r"^\d{1,25}$")


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    orders: list[dict[str, object]] = []
    if user.role == User.Role.SELLER:
        account = user.seller_membership.account
        rows = Order.objects.filter(seller=account).select_related("buyer__user").order_by("-ordered_at")[:20]
        side = RelayAddress.Side.BUYER
    elif user.role == User.Role.BUYER:
        rows = Order.objects.filter(buyer=user.buyer).select_related("seller").order_by("-ordered_at")[:20]
        side = RelayAddress.Side.SELLER
    else:
        rows = Order.objects.none()
        side = RelayAddress.Side.BUYER
    relays = {
        (r.buyer_id, r.seller_id): r.address
        for r in RelayAddress.objects.filter(
            side=side, buyer_id__in={o.buyer_id for o in rows}, seller_id__in={o.seller_id for o in rows}
        )
    }
    for order in rows:
        orders.append({"order": order, "relay": relays.get((order.buyer_id, order.seller_id), "")})
    return render(request, "web/home.html", {"orders": orders})


@login_required
def seller_messages(request: HttpRequest) -> HttpResponse:
    """The seller message center's list (SPEC F2); every view lives in the URL."""
    user = request.user
    assert isinstance(user, User)
    if user.role != User.Role.SELLER:
        raise Http404("Only seller users have a message center.")
    account = user.seller_membership.account
    query = ListQuery.from_params(request.GET)
    page = Paginator(messages_for(account, query), query.per_page).get_page(query.page)
    return render(
        request,
        "web/seller_messages.html",
        {"query": query, "page": page, "page_sizes": PAGE_SIZES, "params": request.GET.copy()},
    )


def _catcher_dir() -> Path:
    if not settings.MAILCATCHER_DIR:
        raise Http404("The mail catcher is not enabled (MARKETMSG_MAILCATCHER_DIR).")
    return Path(settings.MAILCATCHER_DIR)


def mailcatcher_list(request: HttpRequest) -> HttpResponse:
    mails = []
    for mail in caught(_catcher_dir()):
        message = parsing.parse(mail.path.read_bytes())
        mails.append(
            {
                "key": mail.key,
                "received": datetime.fromtimestamp(mail.received_at, tz=UTC),
                "rcpt": ", ".join(mail.rcpt_tos),
                "from": parsing.header_text(message, "From"),
                "subject": parsing.header_text(message, "Subject"),
            }
        )
    return render(request, "web/mailcatcher_list.html", {"mails": mails})


def _caught_bytes(key: str) -> bytes:
    path = _catcher_dir() / f"{key}.eml"
    if not _KEY.match(key) or not path.is_file():
        raise Http404("No such caught message.")
    return path.read_bytes()


def mailcatcher_detail(request: HttpRequest, key: str) -> HttpResponse:
    raw = _caught_bytes(key)
    message = parsing.parse(raw)
    body = parsing.bodies(message)
    attachments = [
        {"name": parsing.filename_of(p), "type": p.get_content_type()}
        for p in parsing.walk(message)
        if not p.is_multipart() and (p.get_content_disposition() == "attachment" or parsing.filename_of(p))
    ]
    headers = [(k, parsing.header_text(message, k)) for k in dict.fromkeys(message.keys())]
    return render(
        request,
        "web/mailcatcher_detail.html",
        {
            "key": key,
            "headers": headers,
            "text": body.text,
            "html": sanitize_html(body.html) if body.html else "",
            "attachments": attachments,
        },
    )


def mailcatcher_raw(request: HttpRequest, key: str) -> HttpResponse:
    return HttpResponse(_caught_bytes(key), content_type="text/plain; charset=utf-8")

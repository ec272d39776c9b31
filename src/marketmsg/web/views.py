"""The first page per role, and the development mail catcher."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from marketmsg.accounts.models import User
from marketmsg.addresses.models import RelayAddress
from marketmsg.demo.mailcatcher import caught
from marketmsg.orders.models import Order
from marketmsg.relay import parsing
from marketmsg.relay.scrub import sanitize_html

_KEY = re.compile(r"^\d{1,25}$")


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Each role starts on its own page; staff see the recent orders until their console exists."""
    user = request.user
    assert isinstance(user, User)
    if user.role == User.Role.SELLER:
        return redirect("seller-messages")
    if user.role == User.Role.BUYER:
        return redirect("buyer-orders")
    rows = Order.objects.select_related("buyer__user", "seller").order_by("-ordered_at")[:20]
    relays = {
        (r.buyer_id, r.seller_id): r.address
        for r in RelayAddress.objects.filter(
            side=RelayAddress.Side.BUYER,
            buyer_id__in={o.buyer_id for o in rows},
            seller_id__in={o.seller_id for o in rows},
        )
    }
    orders = [{"order": o, "relay": relays.get((o.buyer_id, o.seller_id), "")} for o in rows]
    return render(request, "web/home.html", {"orders": orders})


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

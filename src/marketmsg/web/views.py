"""The first page per role."""

from __future__ import annotations

import re

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from marketmsg.accounts.models import User
from marketmsg.addresses.models import RelayAddress
from marketmsg.orders.models import Order

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

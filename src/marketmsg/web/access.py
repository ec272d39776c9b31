"""Who may see what. Anything a user may not see is answered 404, never 403: a guessed ID must
not confirm that another seller's or buyer's conversation exists (SPEC §4, isolation)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase

from marketmsg.accounts.models import Buyer, SellerAccount, SellerUser, User
from marketmsg.accounts.profiles import is_buyer, is_seller_user
from marketmsg.conversations.models import Conversation
from marketmsg.orders.models import Order

View = Callable[..., HttpResponseBase]


def user_of(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _only(allowed: Callable[[object], bool]) -> Callable[[View], View]:
    def decorate(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not allowed(request.user):
                raise Http404("This page belongs to another kind of user.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def for_role(role: str) -> Callable[[View], View]:
    return _only(lambda user: isinstance(user, User) and user.role == role)


seller_only = _only(is_seller_user)
buyer_only = _only(is_buyer)


def seller_account(request: HttpRequest) -> SellerAccount:
    """The signed-in seller user's shop, read once per request (membership and shop in one query)."""
    user = user_of(request)
    cached: SellerAccount | None = getattr(request, "_seller_account", None)
    if cached is None:
        cached = SellerUser.objects.select_related("account").get(user=user).account
        request._seller_account = cached  # type: ignore[attr-defined]
    return cached


def buyer_of(request: HttpRequest) -> Buyer:
    return user_of(request).buyer


def _conversation(**where: Any) -> Conversation:
    found = Conversation.objects.filter(**where).select_related("order", "buyer__user", "seller").first()
    if found is None:
        raise Http404("No such conversation.")
    return found


def seller_conversation(request: HttpRequest, conversation_id: int) -> Conversation:
    return _conversation(pk=conversation_id, seller=seller_account(request))


def buyer_conversation(request: HttpRequest, conversation_id: int) -> Conversation:
    return _conversation(pk=conversation_id, buyer=buyer_of(request))


def _order(**where: Any) -> Order:
    found = Order.objects.filter(**where).select_related("buyer__user", "seller").first()
    if found is None:
        raise Http404("No such order.")
    return found


def seller_order(request: HttpRequest, order_id: str) -> Order:
    return _order(order_id=order_id, seller=seller_account(request))


def buyer_order(request: HttpRequest, order_id: str) -> Order:
    return _order(order_id=order_id, buyer=buyer_of(request))


def works_for(request: HttpRequest, seller_id: int) -> bool:
    """Whether the signed-in user is a user of that shop (any other user, or nobody: no)."""
    if not is_seller_user(request.user):
        return False
    return seller_account(request).pk == seller_id

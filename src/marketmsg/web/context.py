"""Template context every page gets."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from marketmsg.accounts.models import SellerUser
from marketmsg.accounts.profiles import is_seller_user
from marketmsg.conversations import senders
from marketmsg.web import access


def pending_senders(request: HttpRequest) -> dict[str, Any]:
    """For a seller user: how many unknown addresses wait for the owner's decision, so that every
    message-center page can show the warning banner (SPEC F8). One small query per page; the shop
    is the one the request already read (access.seller_account)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not is_seller_user(user):
        return {}
    try:
        account = access.seller_account(request)
    except SellerUser.DoesNotExist:
        return {}
    return {"pending_senders": senders.pending_count(account.pk)}

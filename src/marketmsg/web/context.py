"""Template context every page gets."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from marketmsg.accounts.models import SellerUser
from marketmsg.addresses.models import SenderAddress


def pending_senders(request: HttpRequest) -> dict[str, Any]:
    """For a seller user: how many unknown addresses wait for the owner's decision, so that every
    message-center page can show the warning banner (SPEC F8). One small query per page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or getattr(user, "role", "") != "seller":
        return {}
    account_id = SellerUser.objects.filter(user=user).values_list("account_id", flat=True).first()
    if account_id is None:
        return {}
    return {
        "pending_senders": SenderAddress.objects.filter(
            account_id=account_id, state=SenderAddress.State.UNKNOWN
        ).count()
    }

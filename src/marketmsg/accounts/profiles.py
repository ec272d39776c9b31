"""What a signed-in person is: a seller user, a buyer, or both (ADR 18).

Follows the profiles a User has, not ``User.role`` (which only says where they land after
signing in): a shopkeeper who also shops has one address, one User, a SellerUser and a Buyer.
Marketplace staff are never either.
"""

from __future__ import annotations

from marketmsg.accounts.models import Buyer, SellerUser, User


def _has(user: object, profile: str) -> bool:
    if not isinstance(user, User) or user.role == User.Role.STAFF:
        return False
    try:
        return getattr(user, profile) is not None
    except (Buyer.DoesNotExist, SellerUser.DoesNotExist):
        return False


def is_seller_user(user: object) -> bool:
    return _has(user, "seller_membership")


def is_buyer(user: object) -> bool:
    return _has(user, "buyer")

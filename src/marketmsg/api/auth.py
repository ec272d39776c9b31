"""Bearer tokens: a request acts as the seller user who created the token, with its scopes."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.security import HttpBearer

from marketmsg.accounts.models import ApiToken, SellerAccount, SellerUser, User, digest
from marketmsg.accounts.profiles import is_seller_user
from marketmsg.apikit.problems import Problem
from marketmsg.apikit.turns import take_turn


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        found = (
            ApiToken.objects.select_related("user")
            .filter(token_digest=digest(token), revoked_at__isnull=True, user__is_active=True)
            .first()
        )
        if found is None or not is_seller_user(found.user):
            return None
        take_turn(found, "api", settings.API_RATE_LIMIT)
        return found


def token_of(request: HttpRequest) -> ApiToken:
    token: Any = getattr(request, "auth", None)
    assert isinstance(token, ApiToken)
    return token


def needs(request: HttpRequest, scope: str) -> User:
    """The token's user, if the token has ``scope``; 403 otherwise."""
    token = token_of(request)
    if not token.allows(scope):
        raise Problem(
            403,
            "scope_missing",
            "Token scope missing",
            f"This token may not {scope}. "
            f"Create a token with the '{scope}' scope under Settings › API tokens.",
        )
    return token.user


def shop_of(user: User) -> SellerAccount:
    return SellerUser.objects.select_related("account").get(user=user).account

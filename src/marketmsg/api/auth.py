"""Bearer tokens: a request acts as the seller user who created the token, with its scopes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer

from marketmsg.accounts.models import SellerAccount, SellerUser, User
from marketmsg.api.models import ApiToken, digest
from marketmsg.api.problems import Problem

# last_used_at is written at most this often per token, so reads do not each cost a write.
TOUCH_EVERY = timedelta(minutes=1)


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        found = (
            ApiToken.objects.select_related("user")
            .filter(token_digest=digest(token), revoked_at__isnull=True, user__is_active=True)
            .first()
        )
        if found is None or found.user.role != User.Role.SELLER:
            return None
        now = timezone.now()
        if found.last_used_at is None or now - found.last_used_at > TOUCH_EVERY:
            ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
        request.api_token = found  # type: ignore[attr-defined]
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

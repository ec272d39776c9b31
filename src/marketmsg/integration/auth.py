"""Operator credentials on a request: who may call /api/operator/v1/, with which scopes."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.security import HttpBearer

from marketmsg.accounts.models import digest
from marketmsg.apikit.problems import Problem
from marketmsg.apikit.turns import take_turn
from marketmsg.integration.models import OperatorCredential


class OperatorAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> OperatorCredential | None:
        found = OperatorCredential.objects.filter(token_digest=digest(token), revoked_at__isnull=True).first()
        if found is None:
            return None
        take_turn(found, "operator", settings.OPERATOR_RATE_LIMIT)
        return found


def needs(request: HttpRequest, scope: str) -> OperatorCredential:
    """The request's credential if it has ``scope``; 403 with what to do otherwise."""
    credential: Any = getattr(request, "auth", None)
    assert isinstance(credential, OperatorCredential)
    if not credential.allows(scope):
        raise Problem(
            403,
            "scope_missing",
            "Credential scope missing",
            f"This credential lacks the '{scope}' scope. Issue one with it: "
            f"marketmsg operator-credential create --name <system> --scope {scope}",
        )
    return credential

"""Signing a person in with a provider's answer (mozilla-django-oidc does the protocol).

``ProviderBackend`` is the one backend Django knows; the callback view names the provider on the
request, and a ``_Exchange`` for that provider runs the library's code exchange, then checks the
ID token more strictly than the library does (audience, issuer, expiry) and decides who the
person is. A person the operator API does not know gets no account: the callback shows why
(``request.sso_refusal``).
"""

from __future__ import annotations

import logging
from typing import Any

import jwt
import requests
from django.conf import settings
from django.contrib.auth.backends import BaseBackend
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest
from django.utils import timezone
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from marketmsg.accounts.models import Buyer, User, unusable_password
from marketmsg.sso.models import SignInIdentity
from marketmsg.sso.providers import STAFF, Provider, ProviderUnavailable

log = logging.getLogger(__name__)
STAFF_ROLES = ("staff", "supervisor")


class Refusal(Exception):
    """The provider vouched for someone marketmsg will not sign in, or its answer does not hold;
    ``reason`` names why. Not a SuspiciousOperation: the library would swallow that silently."""

    def __init__(self, reason: str, subject: str = "") -> None:
        super().__init__(reason)
        self.reason, self.subject = reason, subject


class _Exchange(OIDCAuthenticationBackend):
    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        super().__init__()

    def get_settings(self, attr: str, *args: Any) -> Any:  # type: ignore[override]
        return self.provider.setting(attr, *args)

    def _verify_jws(self, payload: bytes, key: Any) -> dict[str, Any]:
        """The library leaves the audience unchecked: a token made for another client of the same
        provider would pass. Here the signature, algorithm, audience, issuer and times must hold."""
        try:
            claims: dict[str, Any] = jwt.decode(
                payload,
                key,
                algorithms=[self.OIDC_RP_SIGN_ALGO],
                audience=self.provider.client_id,
                issuer=self.provider.endpoints()["issuer"],  # as the provider spells it (a trailing /)
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
                leeway=60,
            )
        except jwt.InvalidAudienceError as error:
            raise Refusal("audience") from error
        except jwt.PyJWTError as error:
            raise Refusal("token") from error
        azp = claims.get("azp")
        if isinstance(claims.get("aud"), list) and len(claims["aud"]) > 1 and azp != self.provider.client_id:
            raise Refusal("audience")
        return claims

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict[str, Any]) -> User:
        userinfo = self.get_userinfo(access_token, id_token, payload)
        if userinfo.get("sub") != payload.get("sub"):
            raise Refusal("token")  # OIDC Core 5.3.2: the userinfo must be the ID token's subject
        claims = {**userinfo, **payload}
        if self.provider.name == STAFF:
            return _staff(claims)
        return _marketplace_person(claims)


def _marketplace_person(claims: dict[str, Any]) -> User:
    subject = str(claims.get(settings.OIDC_SUBJECT_CLAIM) or "")
    if not subject:
        raise Refusal("no-subject")
    user = User.objects.filter(external_id=subject).first()
    if user is None:
        buyer = Buyer.objects.filter(external_id=subject).select_related("user").first()
        user = buyer.user if buyer else None
    if user is None:
        raise Refusal("unknown", subject)
    if user.role == User.Role.STAFF or not user.is_active:
        raise Refusal("not-here", subject)
    return user


def _staff(claims: dict[str, Any]) -> User:
    subject = str(claims.get("sub") or "")
    role = claims.get(settings.STAFF_OIDC_ROLE_CLAIM)
    if role not in STAFF_ROLES:
        raise Refusal("not-staff", subject)
    identity = SignInIdentity.objects.filter(provider=STAFF, subject=subject).select_related("user").first()
    if identity is not None:
        user = identity.user
        SignInIdentity.objects.filter(pk=identity.pk).update(last_signed_in_at=timezone.now())
    else:
        email = str(claims.get("email") or "").strip().lower()
        if not email:
            raise Refusal("no-email", subject)
        user = User.objects.filter(email=email).first() or User.objects.create(
            email=email,
            name=str(claims.get("name") or email.partition("@")[0])[:150],
            role=User.Role.STAFF,
            password=unusable_password(),
        )
        if user.role != User.Role.STAFF:
            raise Refusal("not-staff", subject)
        SignInIdentity.objects.create(provider=STAFF, subject=subject, user=user)
    supervisor = role == "supervisor"
    if user.is_supervisor != supervisor:  # the operator's directory decides, at each sign-in
        user.is_supervisor = supervisor
        user.save(update_fields=["is_supervisor"])
    if not user.is_active:
        raise Refusal("not-here", subject)
    return user


class ProviderBackend(BaseBackend):
    """Django's authentication backend for provider sign-ins (and the sessions they make)."""

    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        nonce: str | None = None,
        code_verifier: str | None = None,
        **_: Any,
    ) -> User | None:
        provider: Provider | None = getattr(request, "sso_provider", None)
        if request is None or provider is None or nonce is None:
            return None  # a password sign-in: not ours
        try:
            exchange = _Exchange(provider)
            return exchange.authenticate(request, nonce=nonce, code_verifier=code_verifier)  # type: ignore[no-any-return]
        except Refusal as refusal:
            failed = refusal
        except SuspiciousOperation:  # the library's own checks: nonce, signing key
            failed = Refusal("token")
        except requests.HTTPError:  # the token endpoint said no (a code for another client, reused)
            failed = Refusal("exchange")
        except (requests.RequestException, ProviderUnavailable):
            failed = Refusal("unavailable")
        request.sso_refusal = failed  # type: ignore[attr-defined]
        log.info("sign-in through %s refused: %s", provider.name, failed.reason)
        return None

    def get_user(self, user_id: int) -> User | None:
        return User.objects.filter(pk=user_id, is_active=True).first()

"""The OpenID Connect providers marketmsg trusts, from settings, with their endpoints discovered.

Two at most: ``marketplace`` (sellers and buyers, known through the operator API) and ``staff``
(the operator's own provider). mozilla-django-oidc reads its configuration through
``get_settings(name)``; ``Provider.setting`` answers those names for one provider, so the same
library code serves both.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from mozilla_django_oidc.utils import import_from_settings

MARKETPLACE, STAFF = "marketplace", "staff"
DISCOVERY_TTL = 3600.0
_discovered: dict[str, tuple[float, dict[str, Any]]] = {}
_lock = threading.Lock()


class ProviderUnavailable(Exception):
    """The provider's discovery document could not be read."""


@dataclass(frozen=True)
class Provider:
    name: str
    issuer: str
    client_id: str
    client_secret: str
    scopes: str

    @property
    def origin(self) -> str:
        parts = urlsplit(self.issuer)
        return f"{parts.scheme}://{parts.netloc}"

    def endpoints(self) -> dict[str, Any]:
        """The provider's discovery document, read once an hour."""
        with _lock:
            found = _discovered.get(self.issuer)
            if found and time.monotonic() - found[0] < DISCOVERY_TTL:
                return found[1]
        url = f"{self.issuer}/.well-known/openid-configuration"
        try:
            answer = requests.get(url, timeout=10)
            answer.raise_for_status()
            document = answer.json()
        except (requests.RequestException, ValueError) as error:
            raise ProviderUnavailable(f"{url}: {error}") from error
        if document.get("issuer", "").rstrip("/") != self.issuer:
            raise ProviderUnavailable(f"{url} names issuer {document.get('issuer')!r}, not {self.issuer!r}")
        with _lock:
            _discovered[self.issuer] = (time.monotonic(), document)
        return document

    def setting(self, name: str, *default: Any) -> Any:
        """A mozilla-django-oidc setting, as this provider has it."""
        from_discovery = {
            "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
            "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
            "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
            "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
        }
        if name in from_discovery:
            return self.endpoints()[from_discovery[name]]
        own = {
            "OIDC_RP_CLIENT_ID": self.client_id,
            "OIDC_RP_CLIENT_SECRET": self.client_secret,
            "OIDC_RP_SIGN_ALGO": settings.OIDC_SIGN_ALGO,
            "OIDC_RP_SCOPES": self.scopes,
            "OIDC_USE_PKCE": True,
            "OIDC_TOKEN_USE_BASIC_AUTH": True,  # client_secret_basic: the default of OIDC Core
            "OIDC_USE_NONCE": True,
            "OIDC_AUTHENTICATION_CALLBACK_URL": f"sso-{self.name}-callback",
            "OIDC_STORE_ID_TOKEN": True,
            "OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS": settings.SSO_SESSION_SECONDS,
            "OIDC_TIMEOUT": 10,
        }
        if name in own:
            return own[name]
        return import_from_settings(name, *default)


def configured(name: str) -> Provider | None:
    if name == MARKETPLACE and settings.OIDC_ISSUER:
        return Provider(
            MARKETPLACE,
            settings.OIDC_ISSUER,
            settings.OIDC_CLIENT_ID,
            settings.OIDC_CLIENT_SECRET,
            settings.OIDC_SCOPES,
        )
    if name == STAFF and settings.STAFF_OIDC_ISSUER:
        return Provider(
            STAFF,
            settings.STAFF_OIDC_ISSUER,
            settings.STAFF_OIDC_CLIENT_ID,
            settings.STAFF_OIDC_CLIENT_SECRET,
            settings.STAFF_OIDC_SCOPES,
        )
    return None


def all_configured() -> list[Provider]:
    return [p for p in (configured(MARKETPLACE), configured(STAFF)) if p is not None]


def fitting(target: str) -> Provider | None:
    """The provider for a page: staff pages through the staff provider, the rest the marketplace's."""
    if target.startswith("/staff/") or target.startswith("/admin/"):
        return configured(STAFF) or configured(MARKETPLACE)
    return configured(MARKETPLACE) or configured(STAFF)

"""Response headers that keep a message's content from acting in the browser.

Message bodies, subjects, file names and templates come from strangers. They are escaped (and
HTML is sanitised with nh3), and on top of that the Content-Security-Policy lets a page run only
scripts and styles served by marketmsg itself: no inline script, no inline style, no plug-ins,
no framing by other sites, and forms that post only back to us. Django's SecurityMiddleware adds
the rest (nosniff, Referrer-Policy, Cross-Origin-Opener-Policy, HSTS on HTTPS requests).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from marketmsg.sso import providers


def content_security_policy(frame_ancestors: tuple[str, ...], provider_origins: tuple[str, ...]) -> str:
    """The policy for every page. Sign-out posts a form here that then redirects to the sign-in
    provider (browsers hold form-action to that redirect too); the marketplace's seller portal
    may frame the message center only when the operator lists its origin."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            " ".join(["form-action 'self'", *provider_origins]),
            "frame-ancestors " + (" ".join(frame_ancestors) or "'none'"),
        ]
    )


PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        frame_ancestors = tuple(settings.FRAME_ANCESTORS)
        if frame_ancestors:  # CSP names who may frame; X-Frame-Options can only say "nobody"
            response.headers.pop("X-Frame-Options", None)
        origins = tuple(p.origin for p in providers.all_configured())
        response.headers.setdefault(
            "Content-Security-Policy", content_security_policy(frame_ancestors, origins)
        )
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response
